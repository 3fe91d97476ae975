// Contract every source implements (sources/<name>/): a source is a set of streams read as pages.
import type { HttpClient } from '../http/http-client.ts';
import type { ColumnSpec, Row, TableSpec } from './table.ts';
import type { WriteMode } from './destination.ts';
import type { CandleInterval } from './candle-interval.ts';

/** Half-open time window [start, end). */
export interface TimeWindow {
  start: Date;
  end: Date;
}

/** One page of a stream: the exact bytes received, the records parsed from them, and the state after it. */
export interface Page<State = unknown> {
  raw: Uint8Array;
  /** `raw` exactly as received gzipped (Content-Encoding: gzip), when it was: the raw lake stores these bytes. */
  rawGzip?: Uint8Array;
  /** Source records (field names as the source sends them), before typing. */
  records: Record<string, unknown>[];
  /** Where the page came from (URL with secrets redacted, or file path). */
  origin: string;
  nextState?: State;
  /**
   * Optional: where `records` sit in `raw` (JSON), so a warehouse that reads JSON itself can type them from the landed
   * page without JavaScript touching every value (normalize/staged-normalizer.ts). `records` stays authoritative.
   */
  json?: JsonRecordsLayout;
}

/**
 * How a page's records sit in its raw JSON: the elements of the top-level array `recordsKey`, minus those at
 * `skipped`, in order, each with `envelopeFields` set from the top level.
 */
export interface JsonRecordsLayout {
  /** Key of the top-level array holding the records, e.g. `data`. */
  recordsKey: string;
  /** Fields set on every record from the top level: field → top-level key (null when the top level lacks it). */
  envelopeFields?: Record<string, string>;
  /** 0-based positions in that array of elements the stream dropped (e.g. outside the requested window). */
  skipped?: number[];
  /**
   * What derive() sets on every row of this page, when it sets the same values on all of them: column → value.
   * Without it (or when it misses a derived column), rows are typed in JavaScript.
   */
  derived?: Record<string, string | number | boolean | null>;
}

/** Options a job passes to a stream (asset id, interval, …). */
export type StreamParams = Record<string, string | number | boolean | undefined>;

/** What a stream gets when it reads. */
export interface ReadContext<State = unknown> {
  http: HttpClient;
  baseUrl: string;
  params: StreamParams;
  state?: State;
  window?: TimeWindow;
  signal: AbortSignal;
}

/** A stream: named, keyed, typed, and read page by page. */
export interface Stream<State = unknown> {
  name: string;
  /** The table rows land in (columns carry `source` field names for the normalizer). */
  table: TableSpec;
  defaultWriteMode: WriteMode;
  /** Column whose maximum becomes the watermark (incremental streams). */
  cursor?: string;
  read(ctx: ReadContext<State>): AsyncIterable<Page<State>>;
  /** Adds derived fields to a typed row (e.g. canonical pair); runs after typing. */
  derive?(row: Row, params: StreamParams): void;
  /** The table for these params when it depends on them (e.g. candles of an interval); default `table`. */
  tableFor?(params: StreamParams): TableSpec;
  /**
   * Incremental streams: the state after every record of `window` has been read — what a backfill that covered the
   * window commits. States of incremental streams carry a numeric `watermark` (ms) that only moves forward.
   */
  stateAfter?(params: StreamParams, window: TimeWindow): State & { watermark: number };
  /** Time series streams: what a complete series looks like, for gap reports (one row per grid point). */
  series?(params: StreamParams): SeriesSpec;
}

/** Rows matching `filter` in the stream's table form a series with one `timeColumn` value per `interval` grid point. */
export interface SeriesSpec {
  filter: Record<string, string>;
  timeColumn: string;
  interval: CandleInterval;
}

/** A source: a name, its default base URL and its streams. */
export interface Source {
  name: string;
  defaultBaseUrl: string;
  /** Requests per minute allowed without a key. */
  rateLimitPerMinute: number;
  streams: Stream<unknown>[];
}

export type { ColumnSpec };
