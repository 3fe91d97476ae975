// A Session on a PostgreSQL warehouse: one pg.Client in UTC, DuckDB-shaped results, COPY-based staging,
// monthly range partitions created on demand, and advisory locks that serialize runs of the same job.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { STAGING_ORDINAL, type Capabilities, type LoadContext, type Session } from '../../core/destination.ts';
import { ConfigError, TerminalError } from '../../core/errors.ts';
import { allColumns, type ColumnSpec, type Row, type TableSpec } from '../../core/table.ts';
import { copyTextChunks, encodeCopyValue, escapeCopyText } from './postgres-copy.ts';
import { postgresDialect } from './postgres-dialect.ts';
import { statementError, type PgEndpoint } from './postgres-errors.ts';
import { toPgParam } from './postgres-values.ts';

/** Many processes may write; DDL is transactional; Parquet is written by the lake's own DuckDB writer. */
export const POSTGRES_CAPABILITIES: Capabilities = {
  exportsParquet: false,
  transactionalDdl: true,
  multiProcess: true,
};

const d = postgresDialect;

const CREATE_IF_NOT_EXISTS = /^\s*CREATE\s+(?:UNIQUE\s+)?(?:SCHEMA|TABLE|SEQUENCE|INDEX)\s+IF\s+NOT\s+EXISTS\b/i;
/** unique_violation (on a catalog index), duplicate_table, duplicate_schema, duplicate_object. */
const DUPLICATE_OBJECT = new Set(['23505', '42P07', '42P06', '42710']);

/** PostgreSQL truncates longer identifiers silently, which could make two partition names collide. */
const MAX_IDENT = 63;

/**
 * The 64-bit advisory lock id of a key: the first 8 bytes of its SHA-256, as a signed decimal. Computed here rather
 * than with hashtext() so that every server version and every client agree on it.
 */
export function advisoryLockId(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

/**
 * A PostgreSQL session. Use it from one task at a time: nested `transaction()` calls join the outer one, so an inner
 * failure rolls everything back once it reaches the outer call.
 */
export class PostgresSession implements Session {
  readonly dialect = postgresDialect;
  readonly capabilities = POSTGRES_CAPABILITIES;
  private depth = 0;
  private closed = false;
  /** Set when the connection died (terminated by the server, broken socket); later calls fail fast. */
  private lostError: unknown;

  constructor(
    private readonly client: pg.Client,
    /** Where this session is connected (no password). */
    readonly endpoint: PgEndpoint,
    /** The server process serving this session, e.g. for pg_terminate_backend() from another connection. */
    readonly backendPid: number,
  ) {
    // Without a listener, an error on an idle connection (server restart, pg_terminate_backend) would crash the process.
    client.on('error', (err) => {
      this.lostError = err;
    });
    client.on('end', () => {
      this.lostError ??= new Error('Connection terminated');
    });
  }

  /** True when the connection is gone; the session can only be closed. */
  get isLost(): boolean {
    return this.lostError !== undefined;
  }

  /**
   * Runs a statement. `CREATE … IF NOT EXISTS` outside a transaction is retried once when another session created the
   * same object at the same moment: PostgreSQL then fails with a duplicate error (e.g. on pg_type) instead of skipping,
   * which two first runs of `coinlake run` against an empty database would otherwise hit.
   */
  async exec(sql: string, params?: unknown[]): Promise<number> {
    try {
      return (await this.run(sql, params)).rowCount ?? 0;
    } catch (err) {
      if (this.depth > 0 || !CREATE_IF_NOT_EXISTS.test(sql) || !DUPLICATE_OBJECT.has((err as { code?: string }).code ?? '')) throw err;
      return (await this.run(sql, params)).rowCount ?? 0;
    }
  }

  async query<T = Row>(sql: string, params?: unknown[]): Promise<T[]> {
    const result = await this.run(sql, params);
    return result.rows as T[];
  }

  /** CREATE SCHEMA IF NOT EXISTS, under an advisory lock so that sessions creating it at once do not collide. */
  async ensureSchema(schema: string): Promise<void> {
    const [found] = await this.query(`SELECT 1 AS found FROM pg_namespace WHERE nspname = $1`, [schema]);
    if (found) return;
    await this.transaction(async () => {
      await this.lockKey(`coinlake:ddl:schema:${schema}`);
      await this.exec(`CREATE SCHEMA IF NOT EXISTS ${d.ident(schema)}`);
    });
  }

  /**
   * Creates the table with its lineage columns if missing, or adds the columns that are new in the spec.
   * `partitionBy` → PARTITION BY RANGE on that column with monthly partitions (made by `stage()` for the months of each
   * batch) and a DEFAULT partition for NULLs; `primaryKey` and `clusteredBy` → plain b-tree indexes (none for a
   * clustering that is a prefix of the key). There is no unique constraint: the shared write-mode SQL de-duplicates
   * itself, and `append` may repeat keys as on DuckDB. When something is missing, the DDL runs under an advisory lock
   * per table, so concurrent runs do not race on it; a table that is already complete costs one catalog query, no lock.
   */
  async ensureTable(t: TableSpec): Promise<void> {
    const indexes = wantedIndexes(t);
    const current = async () => {
      const found = await this.catalog(t);
      const complete = allColumns(t).every((c) => found.columns.has(c.name)) && indexes.every((i) => found.indexes.has(i.name));
      return { found, complete };
    };
    if ((await current()).complete) return;
    const target = d.table(t.schema, t.name);
    await this.transaction(async () => {
      await this.lockKey(ddlLockKey(t));
      const { found, complete } = await current(); // again, under the lock: another run may have done it meanwhile
      if (complete) return;
      if (found.columns.size === 0) {
        await this.ensureSchema(t.schema);
        const defs = allColumns(t).map((c) => `${columnDef(c)}${c.nullable === false ? ' NOT NULL' : ''}`);
        const partition = t.partitionBy ? ` PARTITION BY RANGE (${d.ident(partitionColumn(t).name)})` : '';
        await this.exec(`CREATE TABLE ${target} (${defs.join(', ')})${partition}`);
        if (t.partitionBy) await this.exec(`CREATE TABLE ${d.table(t.schema, derivedName(t, 'default'))} PARTITION OF ${target} DEFAULT`);
      } else {
        for (const c of allColumns(t)) {
          if (!found.columns.has(c.name)) await this.exec(`ALTER TABLE ${target} ADD COLUMN ${columnDef(c)}`);
        }
      }
      for (const index of indexes) {
        if (found.indexes.has(index.name)) continue;
        await this.exec(`CREATE INDEX IF NOT EXISTS ${d.ident(index.name)} ON ${target} (${index.columns.map((c) => d.ident(c)).join(', ')})`);
      }
    });
  }

  /**
   * CREATE TEMP TABLE shaped like `t` (data, lineage, ordinal), then one streamed COPY FROM STDIN in text format.
   * For a range-partitioned target, the monthly partitions the batch needs are created before it returns.
   */
  async stage(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<string> {
    const name = await this.createStaging(t);
    const list = [...allColumns(t).map((c) => d.ident(c.name)), d.ident(STAGING_ORDINAL)].join(', ');
    const lineage = `\t${escapeCopyText(ctx.runId)}\t${ctx.loadedAt.toISOString()}\t`;
    // The partition column's COPY text is ISO-8601 UTC, so its first 7 characters are the month (YYYY-MM) it belongs to.
    const months = new Set<string>();
    const watch = t.partitionBy ? { column: partitionColumn(t).name, each: (text: string) => months.add(text.slice(0, 7)) } : undefined;
    const chunks = copyTextChunks(rows, t.columns, { table: `${t.schema}.${t.name}`, trailing: (i) => lineage + i, watch });
    try {
      await this.copyIn(`COPY ${d.ident(name)} (${list}) FROM STDIN`, chunks, `${t.schema}.${t.name}`);
      if (months.size > 0) await this.ensurePartitions(t, [...months].sort());
    } catch (err) {
      // In an aborted transaction the DROP fails too; the ROLLBACK then removes the table.
      await this.dropStaging(name).catch(() => undefined);
      throw err;
    }
    return name;
  }

  /**
   * Append straight into the target (Session.appendRows): the monthly partitions the rows need are created first (so
   * no row falls into the DEFAULT partition), then one streamed COPY FROM STDIN into the table itself — no temporary
   * table, no INSERT … SELECT.
   */
  async appendRows(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<number> {
    if (rows.length === 0) return 0;
    if (t.partitionBy) {
      const spec = partitionColumn(t);
      const months = new Set<string>();
      // The COPY text of a timestamptz or date starts with its UTC month (YYYY-MM), as stage() reads it.
      for (const r of rows) {
        const v = r[spec.name];
        if (v === null || v === undefined) continue;
        try {
          months.add(encodeCopyValue(spec.type, v).slice(0, 7));
        } catch {
          // Not a time: the COPY below fails on it with the row and column named.
        }
      }
      if (months.size > 0) await this.ensurePartitions(t, [...months].sort());
    }
    const list = allColumns(t).map((c) => d.ident(c.name)).join(', ');
    const lineage = `\t${escapeCopyText(ctx.runId)}\t${ctx.loadedAt.toISOString()}`;
    const chunks = copyTextChunks(rows, t.columns, { table: `${t.schema}.${t.name}`, trailing: () => lineage });
    return this.copyIn(`COPY ${d.table(t.schema, t.name)} (${list}) FROM STDIN`, chunks, `${t.schema}.${t.name}`);
  }

  /**
   * stage() from a headerless CSV file (Session.stageCsv): the temporary table's lineage columns default to `ctx`'s
   * values, the file streams into COPY … FROM STDIN (FORMAT csv) from disk, and the monthly partitions the rows need
   * are read from the staged rows afterwards.
   */
  async stageCsv(t: TableSpec, file: string, ctx: LoadContext): Promise<string> {
    const text = (v: string) => `'${v.replaceAll("'", "''")}'`;
    const name = await this.createStaging(t, { _run_id: text(ctx.runId), _loaded_at: `${text(ctx.loadedAt.toISOString())}::timestamptz` });
    const list = [...t.columns.map((c) => d.ident(c.name)), d.ident(STAGING_ORDINAL)].join(', ');
    try {
      const stream = copyFrom(`COPY ${d.ident(name)} (${list}) FROM STDIN (FORMAT csv)`);
      try {
        await pipeline(createReadStream(file), this.client.query(stream));
      } catch (err) {
        throw statementError(err, this.endpoint, `${t.schema}.${t.name}`);
      }
      if (t.partitionBy) {
        const spec = partitionColumn(t);
        const c = d.ident(spec.name);
        const utc = spec.type === 'timestamptz' ? `${c} AT TIME ZONE 'UTC'` : c;
        const months = await this.query<{ m: string }>(`SELECT DISTINCT to_char(${utc}, 'YYYY-MM') AS m FROM ${d.ident(name)} WHERE ${c} IS NOT NULL ORDER BY 1`);
        if (months.length > 0) await this.ensurePartitions(t, months.map((r) => r.m));
      }
    } catch (err) {
      await this.dropStaging(name).catch(() => undefined);
      throw err;
    }
    return name;
  }

  /** A new temporary staging table shaped like `t` (data, lineage, ordinal), columns named in `defaults` with those DEFAULTs; returns its name. */
  private async createStaging(t: TableSpec, defaults: Record<string, string> = {}): Promise<string> {
    const name = `stg_${t.name.slice(0, 40)}_${randomBytes(4).toString('hex')}`;
    const defs = [...allColumns(t).map((c) => (defaults[c.name] ? `${columnDef(c)} DEFAULT ${defaults[c.name]}` : columnDef(c))), `${d.ident(STAGING_ORDINAL)} BIGINT`];
    await this.exec(`CREATE TEMP TABLE ${d.ident(name)} (${defs.join(', ')})`);
    return name;
  }

  async dropStaging(staging: string): Promise<void> {
    await this.exec(`DROP TABLE IF EXISTS pg_temp.${d.ident(staging)}`);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.depth > 0) {
      this.depth++;
      try {
        return await fn();
      } finally {
        this.depth--;
      }
    }
    await this.run('BEGIN');
    this.depth = 1;
    try {
      const result = await fn();
      const commit = await this.run('COMMIT');
      // COMMIT of a transaction that an earlier (swallowed) error aborted answers ROLLBACK instead of failing.
      if (commit.command === 'ROLLBACK') {
        throw new TerminalError('the transaction was rolled back: a statement inside it failed earlier');
      }
      return result;
    } catch (err) {
      if (!this.isLost) await this.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      this.depth = 0;
    }
  }

  /** pg_advisory_xact_lock on a 64-bit hash of the key: held until the surrounding transaction ends. */
  async lockKey(key: string): Promise<void> {
    if (this.depth === 0) {
      throw new TerminalError(`lockKey("${key}") must run inside transaction(): the lock is released when the transaction ends`);
    }
    await this.run('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryLockId(key)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }

  /** One statement, with parameters converted as on DuckDB and errors mapped (see statementError). */
  private async run(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.client.query(sql, params?.map(toPgParam));
    } catch (err) {
      throw statementError(err, this.endpoint);
    }
  }

  /** Streams COPY text into a COPY … FROM STDIN with backpressure; returns the rows copied. */
  private async copyIn(sql: string, chunks: Iterable<string>, table: string): Promise<number> {
    const stream = copyFrom(sql);
    try {
      await pipeline(Readable.from(chunks), this.client.query(stream));
    } catch (err) {
      throw statementError(err, this.endpoint, table);
    }
    return stream.rowCount;
  }

  /** Column names and index names of a table (both empty when it does not exist), in one catalog query. */
  private async catalog(t: TableSpec): Promise<{ columns: Set<string>; indexes: Set<string> }> {
    const rows = await this.query<{ kind: string; name: string }>(
      `SELECT 'column' AS kind, attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
       UNION ALL
       SELECT 'index', c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1)`,
      [d.table(t.schema, t.name)],
    );
    const columns = new Set<string>();
    const indexes = new Set<string>();
    for (const r of rows) (r.kind === 'column' ? columns : indexes).add(r.name);
    return { columns, indexes };
  }

  /**
   * Creates the `<table>_pYYYYMM` partitions (FOR VALUES FROM the first of the month TO the first of the next, UTC)
   * that the given months (YYYY-MM) need and the target lacks; NULLs go to the DEFAULT partition. Only a missing
   * partition takes the table's DDL lock. Does nothing when the target is not range-partitioned (e.g. it existed
   * before partitionBy was set).
   */
  private async ensurePartitions(t: TableSpec, months: string[]): Promise<void> {
    const spec = partitionColumn(t);
    const target = d.table(t.schema, t.name);
    const missing = async (): Promise<string[]> => {
      const rows = await this.query<{ relkind: string; relname: string | null }>(
        `SELECT p.relkind::text AS relkind, c.relname::text AS relname
           FROM pg_class p LEFT JOIN pg_inherits i ON i.inhparent = p.oid LEFT JOIN pg_class c ON c.oid = i.inhrelid
          WHERE p.oid = to_regclass($1)`,
        [target],
      );
      if (rows.length === 0 || rows[0].relkind !== 'p') return [];
      const have = new Set(rows.map((r) => r.relname));
      return months.filter((m) => !have.has(partitionName(t, m)));
    };
    if ((await missing()).length === 0) return;
    await this.transaction(async () => {
      await this.lockKey(ddlLockKey(t));
      for (const month of await missing()) {
        const [year, mon] = month.split('-').map(Number);
        const next = mon === 12 ? `${String(year + 1).padStart(4, '0')}-01` : `${String(year).padStart(4, '0')}-${String(mon + 1).padStart(2, '0')}`;
        const bound = (m: string) => (spec.type === 'timestamptz' ? `'${m}-01 00:00:00+00'` : `'${m}-01'`);
        await this.exec(
          `CREATE TABLE ${d.table(t.schema, partitionName(t, month))} PARTITION OF ${target} FOR VALUES FROM (${bound(month)}) TO (${bound(next)})`,
        );
      }
    });
  }
}

function columnDef(c: ColumnSpec): string {
  return `${d.ident(c.name)} ${d.sqlType(c.type)}`;
}

/** The b-tree indexes a table gets: its key, and its clustering unless that is a prefix of the key. */
function wantedIndexes(t: TableSpec): { name: string; columns: string[] }[] {
  const out: { name: string; columns: string[] }[] = [];
  if (t.primaryKey.length > 0) out.push({ name: derivedName(t, 'key_idx'), columns: t.primaryKey });
  const clustered = t.clusteredBy ?? [];
  if (clustered.length > 0 && !clustered.every((c, i) => t.primaryKey[i] === c)) {
    out.push({ name: derivedName(t, 'clustered_idx'), columns: clustered });
  }
  return out;
}

/** `<table>_pYYYYMM` for month `YYYY-MM`. */
function partitionName(t: TableSpec, month: string): string {
  return derivedName(t, `p${month.replace('-', '')}`);
}

function ddlLockKey(t: TableSpec): string {
  return `coinlake:ddl:${t.schema}.${t.name}`;
}

/** The partition column's spec; it must be a timestamptz or date column of the table. */
function partitionColumn(t: TableSpec): ColumnSpec {
  const spec = t.columns.find((c) => c.name === t.partitionBy);
  if (!spec || (spec.type !== 'timestamptz' && spec.type !== 'date')) {
    throw new ConfigError(`partition column "${t.partitionBy}" of ${t.schema}.${t.name} must be a timestamptz or date column of the table`);
  }
  return spec;
}

/** `<table>_<suffix>`, refused when PostgreSQL would truncate it. */
function derivedName(t: TableSpec, suffix: string): string {
  const name = `${t.name}_${suffix}`;
  if (name.length > MAX_IDENT) {
    throw new ConfigError(`table name "${t.name}" is too long for PostgreSQL's derived name "${name}" (at most ${MAX_IDENT} characters)`);
  }
  return name;
}
