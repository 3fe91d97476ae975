// A session on BigQuery over @google-cloud/bigquery: statements (in BigQuery's spelling, bigquery-spelling.ts) and
// scripts run as query jobs, batches are staged by load jobs (NDJSON uploaded with the job, or curated Parquet from the
// lake). BigQuery keeps no transaction across jobs, so the capabilities say `transactions: false` and each write mode
// runs as one script; named locks are lease rows (bigquery-lease-locks.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BigQuery } from '@google-cloud/bigquery';
import { STAGING_ORDINAL, type Capabilities, type LoadContext, type Session } from '../../core/destination.ts';
import { CoinlakeError, ConfigError, TerminalError, TransientError, errorMessage } from '../../core/errors.ts';
import { parseInstant } from '../../core/time.ts';
import { LINEAGE_COLUMNS, assertIdentifier, type ColumnSpec, type Row, type TableSpec } from '../../core/table.ts';
import { BigQueryDialect } from './bigquery-dialect.ts';
import { datasetOf, type BigQueryLocation } from './bigquery-location.ts';
import { bigQueryType, createTableSql } from './bigquery-sql.ts';
import { BigQueryLeaseLocks, type LeaseTiming } from './bigquery-lease-locks.ts';
import { bigQuerySpelling } from './bigquery-spelling.ts';

/** What BigQuery can do, as the core reads it. */
export const BIGQUERY_CAPABILITIES: Capabilities = {
  exportsParquet: false,
  transactionalDdl: false,
  multiProcess: true,
  transactions: false,
};

/** A load job's table schema field. */
interface SchemaField {
  name: string;
  type: string;
  mode: 'NULLABLE' | 'REQUIRED';
}

/** The BigQuery type name a load job's schema uses (NUMERIC/BIGNUMERIC keep precision and scale). */
function fieldOf(c: ColumnSpec): SchemaField {
  const sql = bigQueryType(c.type);
  const m = /^(BIG)?NUMERIC\((\d+), (\d+)\)$/.exec(sql);
  const type = m ? (m[1] ? 'BIGNUMERIC' : 'NUMERIC') : sql === 'BOOL' ? 'BOOLEAN' : sql === 'FLOAT64' ? 'FLOAT' : sql === 'INT64' ? 'INTEGER' : sql;
  return { name: c.name, type, mode: c.nullable === false ? 'REQUIRED' : 'NULLABLE', ...(m ? { precision: m[2], scale: m[3] } : {}) };
}

/** A value as a NDJSON load job reads it into a column of `c`'s type (the forms the other warehouses take). */
export function ndjsonValue(v: unknown, c: ColumnSpec): unknown {
  if (v === null || v === undefined) return null;
  const fail = (): never => {
    throw new TerminalError(`value ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v)} of column ${c.name} is not a ${c.type}`, { hint: 'fix the column type in the column details' });
  };
  switch (c.type) {
    case 'timestamptz':
      return typeof v === 'string' || typeof v === 'number' || v instanceof Date ? parseInstant(v).toISOString() : fail();
    case 'date':
      if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
      return typeof v === 'string' || v instanceof Date ? parseInstant(v).toISOString().slice(0, 10) : fail();
    case 'double': {
      const n = typeof v === 'number' ? v : typeof v === 'bigint' || typeof v === 'string' ? Number(v) : fail();
      // BigQuery's NDJSON takes NaN and ±Infinity as strings.
      return Number.isFinite(n) ? n : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
    }
    case 'bigint':
    case 'integer':
      return typeof v === 'bigint' ? v.toString() : typeof v === 'number' || typeof v === 'string' ? v : fail();
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      if (typeof v === 'string' && /^(true|t|1)$/i.test(v.trim())) return true;
      if (typeof v === 'string' && /^(false|f|0)$/i.test(v.trim())) return false;
      return fail();
    case 'varchar':
      return typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
    case 'json':
      return typeof v === 'string' ? JSON.parse(v) : v;
    default:
      // decimal(p,s): exact text; a number as the shortest text that round-trips it (0.1 → "0.1").
      return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : fail();
  }
}

/** A named query parameter of a job configuration, typed from the (non-NULL) value. */
function queryParameter(name: string, v: unknown): { name: string; parameterType: { type: string }; parameterValue: { value: string } } {
  const typed = (type: string, value: string) => ({ name, parameterType: { type }, parameterValue: { value } });
  if (v instanceof Date) return typed('TIMESTAMP', v.toISOString());
  if (typeof v === 'bigint') return typed('INT64', v.toString());
  if (typeof v === 'number') return Number.isInteger(v) ? typed('INT64', String(v)) : typed('FLOAT64', String(v));
  if (typeof v === 'boolean') return typed('BOOL', String(v));
  if (typeof v === 'string') return typed('STRING', v);
  return typed('JSON', JSON.stringify(v));
}

/** An INT64 as BigQuery sends it (text): a number when it is a safe integer, else the text. */
function safeInteger(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** A value BigQuery returned, as the contract gives it: timestamps as Date, dates and decimals as text (with `scale` digits when known). */
function plain(v: unknown, scale?: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  const kind = v.constructor?.name;
  if (kind === 'BigQueryTimestamp') return new Date((v as { value: string }).value);
  if (kind === 'BigQueryDate' || kind === 'BigQueryDatetime' || kind === 'BigQueryTime') return (v as { value: string }).value;
  if (kind === 'Big') return scale === undefined ? String(v) : (v as { toFixed(dp: number): string }).toFixed(scale);
  if (kind === 'BigQueryInt') return Number((v as { value: string }).value);
  return v;
}

/** A session on one bigquery:// location. */
export class BigQuerySession implements Session {
  readonly dialect: BigQueryDialect;
  readonly capabilities = BIGQUERY_CAPABILITIES;
  private staged = 0;
  private closed = false;
  /** Depth of transaction() calls: the leases taken by lockKey are given back when the outermost one ends. */
  private depth = 0;
  private readonly locks: BigQueryLeaseLocks;

  constructor(
    private readonly client: BigQuery,
    readonly where: BigQueryLocation,
    leaseTiming: Partial<LeaseTiming> = {},
  ) {
    this.dialect = new BigQueryDialect(where);
    this.locks = new BigQueryLeaseLocks(this, where, leaseTiming);
  }

  /** Runs one query job (a statement or a script) and returns its rows and DML row count. */
  private async run(sql: string, params: unknown[] = []): Promise<{ rows: Row[]; affected: number }> {
    if (this.closed) throw new TerminalError('the BigQuery session is closed', { hint: 'open a new session' });
    // NULLs go into the text as NULL literals (bigQuerySpelling); the other values as named parameters.
    const sent = params.flatMap((v, i) => (v === null || v === undefined ? [] : [queryParameter(`p${i + 1}`, v)]));
    try {
      const [job] = await this.client.createJob({
        configuration: {
          query: {
            query: bigQuerySpelling(sql, this.where, params),
            useLegacySql: false,
            ...(sent.length ? { parameterMode: 'NAMED', queryParameters: sent } : {}),
          },
        },
        location: this.where.location,
      });
      // INT64 as a number when it is safe, else as its exact text; JSON columns parsed.
      const [rows, , response] = await job.getQueryResults({ wrapIntegers: { integerTypeCastFunction: safeInteger }, parseJSON: true });
      const result = response as { numDmlAffectedRows?: string; schema?: { fields?: { name: string; scale?: string }[] } } | undefined;
      const affected = Number(result?.numDmlAffectedRows ?? 0);
      // Decimals keep the scale the result schema gives (NUMERIC(p, s) columns), as the contract returns them.
      const scales = new Map((result?.schema?.fields ?? []).flatMap((f) => (f.scale !== undefined ? [[f.name, Number(f.scale)] as const] : [])));
      return { rows: (rows as Row[]).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v, scales.get(k))]))), affected };
    } catch (err) {
      throw this.jobError(err, sql.split('\n')[0]);
    }
  }

  /** A failed job as a coinlake error naming the project and the statement's first line: 5xx, 429 and rate limits retry. */
  private jobError(err: unknown, what: string): CoinlakeError {
    if (err instanceof CoinlakeError) return err;
    const code = Number((err as { code?: unknown }).code);
    const message = `BigQuery (${this.where.projectId}, ${this.where.location}) failed on ${what}: ${errorMessage(err)}`;
    if (code === 429 || code >= 500) return new TransientError(message, { status: code }, { cause: err });
    return new TerminalError(message, { hint: 'check the statement, the dataset and GOOGLE_APPLICATION_CREDENTIALS' }, { cause: err });
  }

  async exec(sql: string, params?: unknown[]): Promise<number> {
    return (await this.run(sql, params)).affected;
  }

  /** The statements as one script job, each in BigQuery's spelling; BigQuery stops a script at its first error. */
  async execAll(statements: string[]): Promise<void> {
    if (statements.length === 0) return;
    await this.run(statements.map((sql) => `${bigQuerySpelling(sql.trim().replace(/;$/, ''), this.where)};`).join('\n'));
  }

  async query<T = Row>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.run(sql, params)).rows as T[];
  }

  /** Creates the dataset of `schema` in the session's location if missing. */
  async ensureSchema(schema: string): Promise<void> {
    await this.exec(`CREATE SCHEMA IF NOT EXISTS \`${this.where.projectId}.${datasetOf(this.where, schema)}\` OPTIONS (location = '${this.where.location}')`);
  }

  /** The columns of `schema.name` as its dataset's INFORMATION_SCHEMA lists them (none when the table is missing). */
  async tableColumns(schema: string, name: string): Promise<string[]> {
    const have = await this.query<{ column_name: string }>(
      `SELECT column_name FROM \`${this.where.projectId}.${datasetOf(this.where, schema)}\`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = $1`,
      [name],
    );
    return have.map((r) => r.column_name);
  }

  /** Creates the table (partitioned by date, clustered by id) if missing, and adds the spec's columns it lacks. */
  async ensureTable(t: TableSpec): Promise<void> {
    const datasetId = datasetOf(this.where, t.schema);
    await this.exec(createTableSql({ projectId: this.where.projectId, datasetId, tableId: t.name }, t));
    const known = new Set(await this.tableColumns(t.schema, t.name));
    const missing = [...t.columns, ...LINEAGE_COLUMNS].filter((c) => !known.has(c.name));
    if (missing.length === 0) return;
    await this.exec(`ALTER TABLE ${this.dialect.table(t.schema, t.name)} ${missing.map((c) => `ADD COLUMN IF NOT EXISTS ${this.dialect.ident(c.name)} ${bigQueryType(c.type)}`).join(', ')}`);
  }

  /** The next staging table of a load, in the table's dataset: `dataset._stg_<table>_<run>_<n>`. */
  private stagingName(t: TableSpec, runId: string): string {
    this.staged += 1;
    return `${datasetOf(this.where, t.schema)}.${assertIdentifier(`_stg_${t.name}_${runId.replace(/[^A-Za-z0-9_]/g, '_')}_${this.staged}`, 'staging table')}`;
  }

  /** Runs one load job into `staging` (dataset.table) from a local file uploaded with the job, or from gs:// URIs. */
  private async loadJob(staging: string, metadata: Record<string, unknown>, file: string): Promise<number> {
    const [datasetId, tableId] = staging.split('.');
    try {
      // The job runs in the client's location (the session's).
      const table = this.client.dataset(datasetId, { projectId: this.where.projectId }).table(tableId);
      const [job] = await table.load(file, metadata);
      return Number(job.statistics?.load?.outputRows ?? 0);
    } catch (err) {
      throw this.jobError(err, `the load job into ${staging} from ${path.basename(file)}`);
    }
  }

  /** Stages rows by one load job of NDJSON with the table's schema (lineage from ctx, then STAGING_ORDINAL). */
  async stage(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<string> {
    const staging = this.stagingName(t, ctx.runId);
    const columns = [...t.columns, ...LINEAGE_COLUMNS];
    const ord: ColumnSpec = { name: STAGING_ORDINAL, type: 'bigint', nullable: false };
    const lines = rows.map((r, i) => {
      const record: Record<string, unknown> = {};
      for (const c of t.columns) record[c.name] = ndjsonValue(r[c.name], c);
      record._run_id = ctx.runId;
      record._loaded_at = ctx.loadedAt.toISOString();
      record[STAGING_ORDINAL] = i;
      return JSON.stringify(record);
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bq-'));
    try {
      const file = path.join(dir, 'batch.ndjson');
      await writeFile(file, lines.length ? `${lines.join('\n')}\n` : '');
      await this.loadJob(staging, {
        sourceFormat: 'NEWLINE_DELIMITED_JSON',
        schema: { fields: [...columns, ord].map(fieldOf) },
        writeDisposition: 'WRITE_TRUNCATE',
        createDisposition: 'CREATE_IF_NEEDED',
      }, file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return staging;
  }

  /**
   * Stages curated Parquet files (data and lineage columns) for `t`: load jobs into `<staging>_files` (the first
   * truncates, the others append), then the staging table numbers the rows by load time and run (STAGING_ORDINAL),
   * so the newest load wins a repeated key. Returns the staging table and the rows loaded.
   */
  async stageParquet(t: TableSpec, files: string[], runId: string): Promise<{ staging: string; rows: number }> {
    if (files.length === 0) throw new ConfigError(`no curated files for ${t.name}: nothing to load into BigQuery`, { hint: "run the table's job first; curated Parquet lands under curated/<table>/" });
    const staging = this.stagingName(t, runId);
    const raw = `${staging}_files`;
    let rows = 0;
    try {
      for (const [i, file] of files.entries()) {
        rows += await this.loadJob(raw, {
          sourceFormat: 'PARQUET',
          writeDisposition: i === 0 ? 'WRITE_TRUNCATE' : 'WRITE_APPEND',
          createDisposition: 'CREATE_IF_NEEDED',
          parquetOptions: { enableListInference: true },
        }, file);
      }
      const ord = this.dialect.ident(STAGING_ORDINAL);
      await this.exec(`CREATE TABLE ${this.dialect.staging(staging)} AS\nSELECT *, ROW_NUMBER() OVER (ORDER BY \`_loaded_at\`, \`_run_id\`) - 1 AS ${ord} FROM ${this.dialect.staging(raw)}`);
    } finally {
      await this.dropStaging(raw).catch(() => undefined);
    }
    return { staging, rows };
  }

  async dropStaging(staging: string): Promise<void> {
    await this.exec(`DROP TABLE IF EXISTS ${this.dialect.staging(staging)}`);
  }

  /**
   * BigQuery keeps no transaction across jobs (capabilities.transactions false): runs fn as is, each write mode atomic
   * on its own; the locks fn took are given back when it ends, however it ends.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.depth += 1;
    try {
      return await fn();
    } finally {
      this.depth -= 1;
      if (this.depth === 0) await this.locks.releaseAll();
    }
  }

  /**
   * BigQuery has no named locks: a lease row per key (bigquery-lease-locks.ts), waited for, held until the outermost
   * transaction() ends (outside one: given back at once).
   */
  async lockKey(key: string): Promise<void> {
    await this.locks.take(key);
    if (this.depth === 0) await this.locks.releaseAll();
  }

  async close(): Promise<void> {
    if (!this.closed) await this.locks.releaseAll().catch(() => undefined);
    this.closed = true;
  }
}
