// A Session on the embedded DuckDB warehouse: one connection, plain-JS results, appender-based staging.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { DuckDBTimestampTZValue, type DuckDBConnection } from '@duckdb/node-api';
import type { AppendedBatch, AppendedShape, AppendMergeOptions, AppendMergeResult } from '../../core/append-merge.ts';
import { STAGING_ORDINAL, type Capabilities, type JsonStaging, type LoadContext, type ParquetExportOptions, type Session } from '../../core/destination.ts';
import { TerminalError, errorMessage } from '../../core/errors.ts';
import { allColumns, type ColumnSpec, type Row, type TableSpec } from '../../core/table.ts';
import { describeAppended, mergeAppended } from './duckdb-append-merge.ts';
import { duckdbTuneForBulkImport } from './duckdb-bulk-settings.ts';
import { appendInChunks, type ChunkColumn } from './duckdb-chunk-writer.ts';
import { duckdbDialect } from './duckdb-dialect.ts';
import { duckdbCopyToParquet, sqlString } from './duckdb-file-sql.ts';
import { DuckdbJsonStaging } from './duckdb-json-staging.ts';
import { inputConverter, resultConverter, toDuckDBParam } from './duckdb-values.ts';

/** One process owns the file; DDL is transactional; COPY TO writes Parquet. */
export const DUCKDB_CAPABILITIES: Capabilities = {
  exportsParquet: true,
  transactionalDdl: true,
  multiProcess: false,
};

const d = duckdbDialect;

/**
 * A DuckDB session. Use it from one task at a time: nested `transaction()` calls join the outer one
 * (DuckDB has no savepoints), so an inner failure rolls everything back once it reaches the outer call.
 */
export class DuckdbSession implements Session {
  readonly dialect = duckdbDialect;
  readonly capabilities = DUCKDB_CAPABILITIES;
  private depth = 0;
  private closed = false;

  constructor(
    private readonly connection: DuckDBConnection,
    /** The warehouse file (or `:memory:`). */
    readonly path: string,
    /** Gives the database back when the session closes (the last session of a file closes it). */
    private readonly release: () => void,
  ) {}

  async exec(sql: string, params?: unknown[]): Promise<number> {
    const result = await this.connection.run(sql, params?.map(toDuckDBParam));
    return result.rowsChanged;
  }

  async query<T = Row>(sql: string, params?: unknown[]): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(sql, params?.map(toDuckDBParam));
    const names = reader.columnNames();
    const converters = reader.columnTypes().map(resultConverter);
    return reader.getRows().map((values) => {
      const row: Row = {};
      for (let i = 0; i < names.length; i++) {
        const v = values[i];
        row[names[i]] = v === null ? null : converters[i](v);
      }
      return row as T;
    });
  }

  async ensureSchema(schema: string): Promise<void> {
    await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${d.ident(schema)}`);
  }

  /**
   * Data tables carry no PRIMARY KEY constraint: the write modes de-duplicate and match keys in SQL themselves,
   * and DuckDB's ART index on a key turns UPDATEs into delete+insert, slows bulk inserts and (in older
   * versions) rejected delete-then-insert of the same key within one transaction.
   */
  async ensureTable(t: TableSpec): Promise<void> {
    const target = d.table(t.schema, t.name);
    await this.transaction(async () => {
      await this.ensureSchema(t.schema);
      const defs = allColumns(t).map((c) => `${columnDef(c)}${c.nullable === false ? ' NOT NULL' : ''}`);
      await this.connection.run(`CREATE TABLE IF NOT EXISTS ${target} (${defs.join(', ')})`);
      const existing = await this.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns
          WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2`,
        [t.schema, t.name],
      );
      const have = new Set(existing.map((r) => r.column_name.toLowerCase()));
      for (const c of allColumns(t)) {
        if (!have.has(c.name.toLowerCase())) {
          await this.connection.run(`ALTER TABLE ${target} ADD COLUMN ${columnDef(c)}`);
        }
      }
    });
  }

  async stage(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<string> {
    const name = `stg_${t.name}_${randomBytes(4).toString('hex')}`;
    const defs = [...allColumns(t).map(columnDef), `${d.ident(STAGING_ORDINAL)} BIGINT`];
    await this.connection.run(`CREATE TEMP TABLE ${d.ident(name)} (${defs.join(', ')})`);
    const loadedAt = new DuckDBTimestampTZValue(BigInt(ctx.loadedAt.getTime()) * 1000n);
    const columns: ChunkColumn[] = [
      ...t.columns.map((c) => dataColumn(rows, c, `${t.schema}.${t.name}`)),
      { valueAt: () => ctx.runId },
      { valueAt: () => loadedAt },
      { valueAt: (i) => BigInt(i) },
    ];
    const appender = await this.connection.createAppender(name, 'main', 'temp');
    try {
      appendInChunks(appender, columns, rows.length);
      appender.closeSync();
    } catch (err) {
      try {
        appender.clear();
        appender.closeSync();
      } catch {
        // The appender may already be unusable; the table is dropped below either way.
      }
      await this.dropStaging(name);
      throw err;
    }
    return name;
  }

  /** A staging table DuckDB fills from landed JSON pages itself (duckdb-json-staging.ts); undefined for tables with json columns. */
  async jsonStaging(t: TableSpec): Promise<JsonStaging | undefined> {
    if (!DuckdbJsonStaging.supports(t)) return undefined;
    const name = `stg_${t.name}_${randomBytes(4).toString('hex')}`;
    const table = `${t.schema}.${t.name}`;
    return DuckdbJsonStaging.create(this.connection, t, name, (rows) => t.columns.map((c) => dataColumn(rows, c, table)));
  }

  /**
   * One COPY … (FORMAT parquet, PARTITION_BY (dt)): DuckDB writes `<dir>/dt=YYYY-MM-DD/<fileStem>_<i>.parquet`
   * itself; rows whose partition column is NULL go under `opts.day`. The partition key is not repeated inside the files.
   */
  async exportParquet(staging: string, dir: string, opts: ParquetExportOptions): Promise<void> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.day)) throw new TerminalError(`invalid partition day "${opts.day}" (expected YYYY-MM-DD)`);
    await mkdir(dir, { recursive: true });
    const grain = opts.grain ?? 'day';
    const day = sqlString(opts.day.slice(0, grain === 'year' ? 4 : grain === 'month' ? 7 : 10));
    // The UTC date (the session runs in UTC) from the epoch: a plain CAST of a TIMESTAMPTZ goes through ICU's calendar,
    // several times slower per row; infinite times, which have no epoch, still take it.
    const p = opts.partitionColumn ? d.ident(opts.partitionColumn) : undefined;
    const column = p ? `COALESCE(CAST(make_timestamp(epoch_us(${p})) AS DATE), CAST(${p} AS DATE))` : undefined;
    const value = grain === 'year' ? `CAST(year(${column}) AS VARCHAR)` : grain === 'month' ? `strftime(${column}, '%Y-%m')` : `CAST(${column} AS VARCHAR)`;
    const dt = column ? `COALESCE(${value}, ${day})` : day;
    const order = (opts.orderBy?.length ? opts.orderBy : [STAGING_ORDINAL]).map((c) => d.ident(c)).join(', ');
    const select = `SELECT * EXCLUDE (${d.ident(STAGING_ORDINAL)}), ${dt} AS dt FROM ${d.ident(staging)} ORDER BY ${order}`;
    await this.connection.run(duckdbCopyToParquet(select, dir, { partitionColumn: 'dt', fileStem: opts.fileStem }));
  }

  async dropStaging(staging: string): Promise<void> {
    await this.connection.run(`DROP TABLE IF EXISTS temp.main.${d.ident(staging)}`);
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
    await this.connection.run('BEGIN TRANSACTION');
    this.depth = 1;
    try {
      const result = await fn();
      await this.connection.run('COMMIT');
      return result;
    } catch (err) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      this.depth = 0;
    }
  }

  /** No-op: the process that opened the file is the only writer. */
  async lockKey(_key: string): Promise<void> {}

  /** Memory limit (spilling to a temp directory), no insertion order and leaner Parquet writes; see duckdb-bulk-settings.ts. */
  tuneForBulkImport(memoryLimit: string): Promise<() => Promise<void>> {
    return duckdbTuneForBulkImport(this, memoryLimit);
  }

  /** See duckdb-append-merge.ts. */
  describeAppended(t: TableSpec, batch: AppendedBatch, opts?: AppendMergeOptions): Promise<AppendedShape> {
    return describeAppended(this, t, batch, opts);
  }

  /** See duckdb-append-merge.ts. */
  mergeAppended(t: TableSpec, batch: AppendedBatch, opts?: AppendMergeOptions, shape?: AppendedShape): Promise<AppendMergeResult> {
    return mergeAppended(this, t, batch, opts, shape);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.connection.closeSync();
    } finally {
      this.release();
    }
  }
}

function columnDef(c: ColumnSpec): string {
  return `${d.ident(c.name)} ${d.sqlType(c.type)}`;
}

/** Reads one column of the batch, converting each value to the column's DuckDB type; a bad value names its row and column. */
function dataColumn(rows: Row[], spec: ColumnSpec, table: string): ChunkColumn {
  const convert = inputConverter(spec.type);
  const key = spec.name;
  return {
    valueAt(i) {
      const v = rows[i][key];
      if (v === null || v === undefined) return null;
      try {
        return convert(v);
      } catch (err) {
        throw new TerminalError(
          `cannot load ${preview(v)} into ${table}.${key} (${spec.type}), row ${i + 1} of the batch: ${errorMessage(err)}`,
          { field: key, row: i + 1 },
          { cause: err },
        );
      }
    },
  };
}

function preview(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? Object.prototype.toString.call(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
