// Table and column specifications shared by sources, the normalizer, the loader and destinations.
import { ConfigError } from './errors.ts';
import type { QualityCheck } from './quality-check.ts';

/** Logical column types; each destination maps them to its own SQL types. */
export type ColumnType =
  | 'varchar'
  | 'double'
  | 'bigint'
  | 'integer'
  | 'boolean'
  | 'timestamptz'
  | 'date'
  | 'json'
  | `decimal(${number},${number})`;

/** One column of a typed table. `source` is the field name in the source record (default: `name`). */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  source?: string;
  nullable?: boolean;
  /** Filled by the stream's derive() after typing, not read from the record. */
  derived?: boolean;
  /** Written with a changed row but never itself a change (merge ignores it when comparing). */
  volatile?: boolean;
  /**
   * Sent by only some versions of the source (CoinCap v3's `tokens`): a record without it loads NULL, and that is
   * neither drift (missingFields) nor an `on_missing: fail` failure.
   */
  optional?: boolean;
}

/** A typed table in the warehouse. */
export interface TableSpec {
  schema: string;
  name: string;
  columns: ColumnSpec[];
  /** Key for `merge` and for de-duplicating a batch. */
  primaryKey: string[];
  /** Timestamp or date column whose UTC date defines the partition (`delete_insert`, lake `dt=`). */
  partitionBy?: string;
  /**
   * Granularity of the curated lake's `dt=` folders: `day` (`dt=YYYY-MM-DD`, default), `month` (`dt=YYYY-MM`) or
   * `year` (`dt=YYYY`), for tables with many rows per day (candles), where one file per day would make thousands of
   * small files per load.
   */
  lakeGrain?: 'day' | 'month' | 'year';
  /** Columns the destination clusters or orders by. */
  clusteredBy?: string[];
  /**
   * `merge` only: each batch is a full snapshot, so rows whose key is absent from it are deleted (each with a
   * 'delete' change event). An empty batch deletes nothing. Default false: merge never deletes.
   */
  deleteMissing?: boolean;
  /** Options of the `scd2` write mode (history kept as versions with valid_from / valid_to / is_current). */
  scd2?: Scd2Options;
  /** Data-quality checks, run after every load and by `coinlake check`. */
  checks?: QualityCheck[];
  /** Row-count audit of every run (runner/audit.ts). */
  audit?: AuditOptions;
  /**
   * Which keys `merge` and `scd2` write change events for: `all` (inserts, updates, deletes; the default, for snapshot
   * tables), `changes` (updates and deletes only: an append-only time series, whose new rows say all an insert event
   * would), `none`.
   */
  changeEvents?: ChangeEventsPolicy;
}

/** The values of TableSpec.changeEvents (`change_events` in the catalog). */
export const CHANGE_EVENT_POLICIES = ['all', 'changes', 'none'] as const;
export type ChangeEventsPolicy = (typeof CHANGE_EVENT_POLICIES)[number];

/** Options of the `scd2` write mode. */
export interface Scd2Options {
  /** Each batch is a full snapshot: the current version of a key absent from it is closed. Default false. */
  closeMissing?: boolean;
}

/** How unusual a run's row-count delta must be to be flagged. */
export interface AuditOptions {
  /** Flag a delta farther than k standard deviations from the mean of earlier deltas. Default 3. */
  k?: number;
  /** Earlier runs needed before anything is flagged. Default 5. */
  minRuns?: number;
}

/** Rows as plain objects keyed by column name; values are JS primitives, Date, or objects for JSON. */
export type Row = Record<string, unknown>;

/** Columns every data table carries for lineage. */
export const LINEAGE_COLUMNS: ColumnSpec[] = [
  { name: '_run_id', type: 'varchar' },
  { name: '_loaded_at', type: 'timestamptz' },
];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Validates an identifier that comes from config; throws a ConfigError naming it otherwise. */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (!IDENT.test(name)) {
    throw new ConfigError(`invalid ${what} "${name}": expected letters, digits and _ (not starting with a digit)`);
  }
  return name;
}

/** The table's columns plus the lineage columns, in load order. */
export function allColumns(t: TableSpec): ColumnSpec[] {
  return [...t.columns, ...LINEAGE_COLUMNS];
}
