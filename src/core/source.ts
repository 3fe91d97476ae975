// Contract every source implements (sources/<name>/): a source is a set of streams read as pages.
import type { HttpClient } from '../http/http-client.ts';
import type { ColumnSpec, Row, TableSpec } from './table.ts';
import type { WriteMode } from './destination.ts';
import type { CandleInterval } from './candle-interval.ts';
import type { Feed } from '../streaming/feed.ts';
import type { ReplayOptions } from '../replay/replay-server.ts';

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
  /**
   * Optional, for pages of any size: the same records a slice at a time, each slice parsed from `raw` when it is
   * reached, so a 50 MB page never exists as one tree of objects (the declarative REST source sets it). Read it once,
   * instead of `records`: reading `records` parses them all. `nextState` is final once the slices have been read.
   */
  slices?: () => Iterable<Record<string, unknown>[]>;
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

/** A catalog connection's credentials, decrypted, for a source that uses them itself (Source.credentialsInRead). */
export interface ConnectionCredentials {
  /** The connection's user_name. */
  user?: string;
  secret: string;
}

/** What a stream gets when it reads. */
export interface ReadContext<State = unknown> {
  http: HttpClient;
  baseUrl: string;
  /** The connection's credentials, for a source with `credentialsInRead` (others get theirs as request headers). */
  credentials?: ConnectionCredentials;
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
  /**
   * Incremental streams: the `asset` and `interval` that name a job's state (`<STREAM>_<ASSET>_<INTERVAL>`) when the
   * job gives none. Without it only the values given name it.
   */
  stateNameDefaults?: { asset: string; interval: string };
  /** Candle streams: how `coinlake repair` fetches a venue's missing candles again through this stream (optional). */
  refetch?: CandleRefetch;
}

/** One venue's candle series as the candle tables key it. */
export interface CandleSeries {
  /** The `exchange` column, e.g. `binance` or a ccxt exchange id. */
  exchange: string;
  /** The `symbol` column: canonical `BASE-QUOTE`, e.g. `BTC-USDT`. */
  symbol: string;
  interval: CandleInterval;
}

/**
 * A candle stream's promise to `coinlake repair` (runner/candle-repair.ts): for a series it serves, `params(series)`
 * are the params of a job of this stream whose read, given a window and no state, yields exactly that series'
 * candles with open time in the window (none for a time the venue has no candle), into `tableFor(params)`. The core
 * finds the stream for an exchange by asking every registered stream's `exchanges()`, never by name.
 */
export interface CandleRefetch {
  /** The `exchange` values this stream refetches (e.g. `['binance']`); may be long (every exchange a library knows). */
  exchanges(): readonly string[];
  /** Job params reading `series` (its symbol turned into the venue's form), or undefined when it cannot (e.g. an interval the venue lacks). */
  params(series: CandleSeries): StreamParams | undefined;
}

/** Rows matching `filter` in the stream's table form a series with one `timeColumn` value per `interval` grid point. */
export interface SeriesSpec {
  filter: Record<string, string>;
  timeColumn: string;
  interval: CandleInterval;
}

/** The environment variables a source reads, by what they mean (names, e.g. `COINLAKE_BINANCE_URL`). */
export interface SourceVariables {
  /** Base URL of its API, over `defaultBaseUrl` (replay or not). */
  baseUrl: string;
  /** API key, sent as a Bearer token (and registered for redaction). */
  apiKey?: string;
  /** Websocket base URL of its live feeds, over each feed's default (not under --replay). */
  wsUrl?: string;
}

/** How a source is served by the local replay server (`--replay`). */
export interface SourceReplay {
  /** Its base URL on the replay server at `serverUrl` (http://127.0.0.1:PORT); `env` holds the variables it reads. */
  baseUrl(serverUrl: string, env: NodeJS.ProcessEnv): string;
  /** Options it needs from the replay server, from the variables it reads (e.g. the API key its routes require). */
  serverOptions?(env: NodeJS.ProcessEnv): Partial<ReplayOptions>;
}

/**
 * Names a source offers the command line's help and error messages as copyable examples, so no command names a
 * source itself (the registry collects the first of each kind: sources/registry.ts EXAMPLES).
 */
export interface SourceExamples {
  /** A job that runs without parameters, e.g. `coincap.assets`. */
  job?: string;
  /** The same with the parameters a per-asset job takes, e.g. `coincap.asset_history --asset bitcoin --interval h1`. */
  jobWithParams?: string;
  /** A job that backfills a list of symbols, e.g. `binance.klines`. */
  backfillJob?: string;
  /** A catalog connection (section) and one of its assets (table_name). */
  connection?: string;
  catalogAsset?: string;
  /** A data table it loads, e.g. `coincap_assets`. */
  table?: string;
  /** An exchange id as its rows carry it, e.g. `binance`. */
  exchange?: string;
  /** A subject its live feed publishes to, e.g. `coinlake.binance.trades`. */
  subject?: string;
}

/** A source: a name, its default base URL, its streams, and what the core learns about it (variables, replay, feeds). */
export interface Source {
  name: string;
  defaultBaseUrl: string;
  /** Base URL when the job has an API key, if it differs from `defaultBaseUrl` (e.g. CoinCap v3). */
  keyedBaseUrl?: string;
  /** Requests per minute allowed without a key. */
  rateLimitPerMinute: number;
  streams: Stream<unknown>[];
  /** The environment variables it reads. */
  variables: SourceVariables;
  /** How the replay server serves it; absent: `--replay` leaves it at its default URL (or `variables.baseUrl`). */
  replay?: SourceReplay;
  /**
   * Its catalog connection's secret goes to its streams (ReadContext.credentials) instead of out as an Authorization
   * header: keys a library signs requests with (an exchange's API key and secret). Default false.
   */
  credentialsInRead?: boolean;
  /**
   * The connection (run history and state key) of a job given by name with these params; default the source's name
   * upper-cased. A source over many venues names one per venue (e.g. one per exchange), so their states never mix.
   */
  connectionName?(params: StreamParams): string;
  /** Its live feeds (`coinlake stream --source <source>.<stream>`); a function, so feeds may refer back to the source. */
  feeds?(): Feed[];
  /** Names for the command line's help and error examples. */
  examples?: SourceExamples;
}

export type { ColumnSpec };
