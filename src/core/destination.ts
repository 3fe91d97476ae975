// Contract every warehouse implements (destinations/<name>/). The loader reads capabilities as data.
import type { AppendedBatch, AppendedShape, AppendMergeOptions, AppendMergeResult } from './append-merge.ts';
import type { JsonRecordsLayout } from './source.ts';
import type { ColumnType, Row, TableSpec } from './table.ts';

/** How a batch is applied to its target table. */
export type WriteMode = 'replace' | 'append' | 'merge' | 'delete_insert' | 'scd2';
export const WRITE_MODES: readonly WriteMode[] = ['replace', 'append', 'merge', 'delete_insert', 'scd2'];

/**
 * Ordinal column every staging table carries after the lineage columns: 0, 1, 2… in the order the rows were
 * given to `stage()`, so the loader can keep the last row per key without engine-specific row ids.
 */
export const STAGING_ORDINAL = '_ord';

/**
 * What a destination can do; the core reads these, never the destination's name. The optional Dialect members
 * (readCsv, copyToParquet, externalViewSelect, advisoryLocks, partitionTablesSql) are capabilities too: present when
 * the engine can, absent when it cannot, and the core honours their absence.
 */
export interface Capabilities {
  /** The destination can write its staging table to a Parquet file itself (DuckDB COPY TO). */
  exportsParquet: boolean;
  /** DDL runs inside transactions and rolls back with them. */
  transactionalDdl: boolean;
  /** Several processes may write at once (PostgreSQL yes, embedded DuckDB no). */
  multiProcess: boolean;
  /**
   * Statements of separate calls can share one atomic transaction (Session.transaction). Default true. When false,
   * Session.transaction runs its function without atomicity, and each write mode is applied as one atomic script
   * (Dialect.writeModeScript).
   */
  transactions?: boolean;
}

/** One script applying a write mode; its last statement returns one row: inserted, updated, deleted. */
export interface WriteModeScript {
  sql: string;
  params: unknown[];
}

/** SQL flavour helpers the shared write-mode SQL needs. */
export interface Dialect {
  /** Quotes a validated identifier. */
  ident(name: string): string;
  /** `schema.table` quoted. */
  table(schema: string, name: string): string;
  /** SQL type for a logical column type. */
  sqlType(type: string): string;
  /** Positional parameter placeholder for 1-based index i ($1 on both DuckDB and PostgreSQL). */
  param(i: number): string;
  /** Expression that turns a row alias into a JSON text/object, for change events. */
  rowToJson(alias: string, columns: string[]): string;
  /**
   * Text expression rendering `expr`, a value of logical type `type`, as canonical JSON: never NULL (`null` for NULL),
   * and the same text on every destination for the same value: numbers as the shortest text that round-trips
   * (NaN / ±Infinity as the strings "NaN", "Infinity", "-Infinity"), decimals as strings with the column's scale,
   * timestamps as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC), dates as "YYYY-MM-DD", strings escaped as JSON.stringify does.
   * The one exception: `json` columns embed the value as the engine stores it (PostgreSQL's JSONB reorders keys and
   * spaces its text), so those are equal as values, not as text. Used for change-event images (load/change-events.ts).
   */
  jsonValue(expr: string, type: ColumnType): string;
  /**
   * Optional, where some column type cannot be compared with = or IS DISTINCT FROM (BigQuery's JSON): an expression of
   * `expr`, a value of logical type `type`, that can, equal exactly when the values are. Absent: `expr` itself.
   */
  comparable?(expr: string, type: ColumnType): string;
  /**
   * A joined UPDATE (not standard SQL; each engine spells it its own way): sets `set` (`col = expr, …`) on the rows of
   * `target` (aliased `t`) that match a row of `from` (aliased `s`) by `where`, which may refer to both aliases.
   * Used by the write modes (load/write-modes.ts, load/scd2.ts).
   */
  updateFrom(target: string, set: string, from: string, where: string): string;
  /** DDL that creates the id sequence `schema.name` (validated identifiers) if it is missing, starting at 1. */
  createSequence(schema: string, name: string): string;
  /** Expression that yields the next value of a sequence made by createSequence (one per row where a query returns rows). */
  nextId(schema: string, name: string): string;
  /**
   * Optional: the advisory locks that hold run leases on a multi-process warehouse (runner/abandoned-runs.ts,
   * distributed/run-lease.ts). Absent where the engine has none: runs then hold no lease, and no other process's open
   * run is ever marked abandoned (nothing tells a live one from a dead one).
   */
  advisoryLocks?: AdvisoryLockSql;
  /**
   * Optional, where the warehouse reads files itself: the table expression (for a FROM) that reads a CSV file as
   * `spec` describes it. Absent where it cannot (then the caller parses the file and stages rows).
   */
  readCsv?(spec: CsvReadSpec): string;
  /**
   * Optional, where the warehouse writes files itself: the statement writing the rows of `select` as Parquet to the
   * file `target`, or with opts.partitionColumn to hive-partitioned folders under the directory `target`
   * (`<column>=<value>/<fileStem>_<i>.parquet`, files already there kept); exec() returns the rows written.
   */
  copyToParquet?(select: string, target: string, opts?: ParquetCopyOptions): string;
  /**
   * Optional (the file engine): the statement writing `select`'s rows to the file `target` as headerless CSV in the
   * form Session.stageCsv reads (NULL an empty field, an empty string `""`, timestamps ISO 8601 with an offset,
   * numbers as their shortest round-trip text).
   */
  copyToCsv?(select: string, target: string): string;
  /**
   * Optional, where a table can have partitions that the catalog lists like tables but whose rows belong to their
   * parent: the query of those partitions (columns schema_name, table_name) in the schemas given as $1…$<schemaCount>.
   */
  partitionTablesSql?(schemaCount: number): string;
  /**
   * Optional: the SELECT of an external view that rebuilds `t`, written with `mode`, from its curated Parquet files
   * (`glob`), with exactly the table's rows; absent where the engine cannot read Parquet (lake/external-views.ts).
   */
  externalViewSelect?(glob: string, t: TableSpec, mode: WriteMode): string;
  /**
   * Optional, required when capabilities.transactions is false: the whole write mode from `staging` (as stage()
   * named it) into `t` as one atomic script — de-duplication, checks, the change events (`events`, built by the core),
   * the writes and the counts (load/write-modes.ts).
   */
  writeModeScript?(t: TableSpec, staging: string, mode: WriteMode, ctx: LoadContext, events: ChangeEventStatements): WriteModeScript;
}

/** Where a script's change events are read from: the target and the batch (quoted, aliased t and s in the events). */
export interface ChangeEventScope {
  target: string;
  staging: string;
  /** Expression giving each event row its id (a script numbers them itself where there are no sequences). */
  eventId: string;
  /** Extra condition on the target rows that count (scd2: the current versions). */
  targetFilter?: string;
}

/**
 * The change-event statements of one load, as the core writes them on every warehouse (load/change-events.ts), for a
 * write-mode script to run before its writes; each is undefined where the table's changeEvents policy writes none.
 */
export interface ChangeEventStatements {
  updates(scope: ChangeEventScope): string | undefined;
  inserts(scope: ChangeEventScope): string | undefined;
  deletes(scope: ChangeEventScope): string | undefined;
  /** Their parameters: $1 the process id, $2 the table (`schema.name`), $3 the load time. */
  params: unknown[];
}

/** Statements of advisory locks on one 64-bit id, given as parameter `$1` (decimal text). */
export interface AdvisoryLockSql {
  /** Waits for the lock and holds it for the session until unlock(); `shared` holders exclude only exclusive ones. */
  lock(shared: boolean): string;
  /** Takes the session-level lock if it is free; returns one row whose boolean `ok` says whether it was taken. */
  tryLock(shared: boolean): string;
  /** Takes the lock exclusively until the transaction ends if it is free; one row with boolean `ok`. */
  tryTransactionLock(): string;
  /** Lets go of a session-level lock taken with the same `shared`. */
  unlock(shared: boolean): string;
}

/** A CSV file whose layout is known: nothing is sniffed, fields are never quoted (a `"` is data). */
export interface CsvReadSpec {
  file: string;
  /** Lines before the first data row (banners, the header). */
  skipLines: number;
  delimiter: string;
  /** Every column of the file, in order, with the logical type it is read as. */
  columns: { name: string; type: ColumnType }[];
  /** Columns whose empty value makes the line malformed rather than NULL. */
  notNull: string[];
  /**
   * Temp tables that receive the malformed lines with their line numbers (the warehouse's own shape) instead of the
   * read failing; without it malformed lines are skipped.
   */
  rejects?: { table: string; scan: string };
}

/** Options of Dialect.copyToParquet. */
export interface ParquetCopyOptions {
  /** Column whose value names each row's folder; the target is then a directory. */
  partitionColumn?: string;
  /** File names `<fileStem>_<i>.parquet` in partitioned folders. */
  fileStem?: string;
  /** No dictionary pages (less CPU, somewhat larger files). */
  noDictionary?: boolean;
}

/** Options of a Parquet export. */
export interface ParquetExportOptions {
  partitionColumn?: string;
  /** Partition of every row when there is no partition column (YYYY-MM-DD). */
  day: string;
  fileStem: string;
  orderBy?: string[];
  /** `month` writes `dt=YYYY-MM` folders, `year` `dt=YYYY`, instead of `dt=YYYY-MM-DD` (TableSpec.lakeGrain). Default day. */
  grain?: 'day' | 'month' | 'year';
}

/** Counts of what a write changed. */
export interface LoadResult {
  inserted: number;
  updated: number;
  deleted: number;
}

/** Context of one load, for lineage and change events. */
export interface LoadContext {
  runId: string;
  processId: number;
  loadedAt: Date;
}

/** An open connection to a warehouse. All methods run on one connection, so a transaction spans them. */
export interface Session {
  readonly dialect: Dialect;
  readonly capabilities: Capabilities;
  /** Runs a statement, returns affected row count where the engine reports one. */
  exec(sql: string, params?: unknown[]): Promise<number>;
  /**
   * Optional, where every request costs (BigQuery: a job each): runs the statements in order as one request, stopping
   * at the first that fails. Absent: the caller runs them one by one with exec.
   */
  execAll?(statements: string[]): Promise<void>;
  /** Runs a query and returns rows as plain objects (timestamps as Date, bigints as number when safe). */
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Creates the schema if missing. */
  ensureSchema(schema: string): Promise<void>;
  /** Creates the table (with lineage columns) if missing and adds columns that are new in the spec. */
  ensureTable(t: TableSpec): Promise<void>;
  /**
   * Optional: the names of the columns table `schema.name` has in the warehouse (none when it does not exist), where
   * the engine's catalog is not information_schema.columns of the current database under coinlake's schema names
   * (BigQuery: a dataset's INFORMATION_SCHEMA, datasets named by the location). Absent: the core reads that.
   */
  tableColumns?(schema: string, name: string): Promise<string[]>;
  /** Bulk-loads rows into a new temporary staging table shaped like `t` (with lineage columns, then STAGING_ORDINAL); returns its name. */
  stage(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<string>;
  /**
   * Optional: stage() from a file instead of rows, for warehouses that take a stream of text faster than rows (COPY).
   * `file` is headerless CSV as the file engine writes it (DuckDB COPY … (FORMAT csv)): `t`'s data columns in order,
   * then STAGING_ORDINAL; NULL is an empty field, an empty string `""`, timestamps ISO 8601 with an offset, numbers
   * as their shortest round-trip text. The lineage columns come from `ctx`. No row passes through JavaScript.
   */
  stageCsv?(t: TableSpec, file: string, ctx: LoadContext): Promise<string>;
  /**
   * Optional: write mode append of `rows` straight into `t` (lineage columns from `ctx`), without a staging table —
   * for warehouses where staging costs a second write of every row (PostgreSQL: COPY into the target). Returns the
   * rows written; call inside the load's transaction. Append writes no change events, so nothing else needs a staging
   * table; the caller still runs the audit and quality checks on the target.
   */
  appendRows?(t: TableSpec, rows: Row[], ctx: LoadContext): Promise<number>;
  /**
   * Writes a staging table as hive-partitioned Parquet: `<dir>/dt=YYYY-MM-DD/<fileStem>_<i>.parquet`, one
   * partition per UTC date of `partitionColumn` (or all rows under `day`). Only when capabilities.exportsParquet.
   */
  exportParquet?(staging: string, dir: string, opts: ParquetExportOptions): Promise<void>;
  /** Drops a staging table. */
  dropStaging(staging: string): Promise<void>;
  /**
   * Optional: a staging table for `t` the warehouse fills from landed JSON pages itself (see JsonStaging), or undefined
   * when it cannot type some column of `t` that way.
   */
  jsonStaging?(t: TableSpec): Promise<JsonStaging | undefined>;
  /** Runs fn inside BEGIN/COMMIT; rolls back when it throws. Nested calls join the outer transaction. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Takes an exclusive lock named by key until the transaction ends (no-op where one process owns the file). */
  lockKey(key: string): Promise<void>;
  /**
   * Optional: settings for a bulk import on this session (memory limit `memoryLimit`, e.g. '256MB', and whatever
   * makes large reads and writes lean); returns the function that restores the previous settings.
   */
  tuneForBulkImport?(memoryLimit: string): Promise<() => Promise<void>>;
  /**
   * Optional, with mergeAppended: rows the caller appended to `t` itself in this transaction (a bulk file read straight
   * into the table), told apart by their lineage `batch`: per series their rows, distinct times and range; whether a
   * key repeats; how many other rows share their time ranges.
   */
  describeAppended?(t: TableSpec, batch: AppendedBatch, opts?: AppendMergeOptions): Promise<AppendedShape>;
  /**
   * Optional: settles the appended rows of `batch` against the rows already in `t` with the outcome of write mode
   * merge (one row per key; unchanged keys keep their old row and lineage), in the same transaction; no change events.
   */
  mergeAppended?(t: TableSpec, batch: AppendedBatch, opts?: AppendMergeOptions, shape?: AppendedShape): Promise<AppendMergeResult>;
  close(): Promise<void>;
}

/** A landed JSON page whose records the warehouse types itself. */
export interface JsonPageFile {
  /** Absolute path of the landed page (gzipped JSON). */
  file: string;
  layout: JsonRecordsLayout;
  /** STAGING_ORDINAL of the page's first record; the others follow in order. */
  firstOrdinal: number;
  /** Number of records (Page.records.length): a page that holds another number is refused. */
  records: number;
  /**
   * Set when the caller saw every record of the page (as JavaScript parsed it) is an object with exactly the fields
   * the table reads (plus the envelope's), each field holding values of one JSON type or null, and the raw page has
   * no backslash (no escapes, so every string reads the same in both): the type of each field the table reads. The
   * warehouse may then read the records with a fixed structure instead of checking each record's shape itself.
   */
  kinds?: Record<string, JsonFieldKind>;
}

/** The JSON type of a field on every record of a page: all strings, all numbers, or all null (each may also be null). */
export type JsonFieldKind = 'string' | 'number' | 'null';

/** A record left to the caller: `page` is its page's position in the addPages() call, `index` its position in Page.records. */
export interface DeferredRecord {
  page: number;
  index: number;
}

/**
 * A staging table filled while a batch is extracted: the warehouse types the records of landed JSON pages itself, and
 * defers to the caller every record it cannot type exactly as normalize/cast.ts would (a value of another shape, a
 * missing field, anything that would be quarantined); the caller types those and adds them as rows.
 */
export interface JsonStaging {
  /** Types the pages' records; returns the deferred ones and the fields of the others that no column reads. */
  addPages(pages: JsonPageFile[]): Promise<{ deferred: DeferredRecord[]; unknownFields: string[] }>;
  /** Stages rows typed by the caller, each with its STAGING_ORDINAL. */
  addRows(rows: Row[], ordinals: number[]): Promise<void>;
  /** Rows staged so far. */
  readonly rowCount: number;
  /** Completes the table (lineage columns from ctx) and returns its name, as stage() does; call inside the load's transaction. */
  finish(ctx: LoadContext): Promise<string>;
  /** Drops the table (a batch that is not loaded); also after the load, to release what the staging held. */
  discard(): Promise<void>;
  /**
   * For a staging that keeps its rows outside a warehouse that does not export Parquet itself: writes the batch's
   * curated Parquet from them, as Session.exportParquet does (after finish()).
   */
  exportParquet?(dir: string, opts: ParquetExportOptions): Promise<void>;
}

/** How a session is opened. */
export interface OpenOptions {
  /** Called once when the warehouse is busy (an embedded file held by another process) before waiting. */
  onLockWait?: (location: string, timeoutMs: number) => void;
}

/** A warehouse plug-in: opens sessions for a URL or path. */
export interface Destination {
  readonly name: string;
  /** True when this destination handles the given warehouse location. */
  accepts(location: string): boolean;
  open(location: string, opts?: OpenOptions): Promise<Session>;
}
