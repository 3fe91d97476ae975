// Contract of a live feed (`coinlake stream --source <source>.<stream>`): what its records are and where they land
// (all the consumer needs), plus how they are produced — from websocket frames (sources/<source>/<source>-feeds.ts) or
// by polling a REST stream every N seconds (streaming/poll-feeds.ts). Every record carries its natural key, the
// JetStream `Nats-Msg-Id`, so a re-publish is stored once.
import type { WriteMode } from '../core/destination.ts';
import type { Row, TableSpec } from '../core/table.ts';
import type { GapFiller } from './ws-producer.ts';

/** One record, ready to publish. */
export interface FeedRecord {
  /** Natural key of the record: the message id JetStream de-duplicates on. */
  msgId: string;
  /** Values under the table's column (source) names, typed by the normalizer in the consumer. */
  record: Record<string, unknown>;
}

/** What the consumer of a feed needs: the stream name is `<source>.<stream>`, its subject `coinlake.<source>.<stream>`. */
interface FeedBase {
  source: string;
  stream: string;
  table: TableSpec;
  writeMode: WriteMode;
  /** Adds derived columns to a typed row (runs after typing, as a batch job's stream derive() does). */
  derive?(row: Row): void;
}

/** Options a websocket feed's URL depends on. */
export interface FeedOptions {
  /** Websocket base URL (the replay server's under --replay). */
  baseUrl: string;
  /** CoinCap asset ids or Binance symbols; the feed's default when empty. */
  symbols: string[];
}

/** A websocket feed. */
export interface WsFeed extends FeedBase {
  kind: 'websocket';
  defaultBaseUrl: string;
  /** What `--symbols` names for this feed, for the help (`CoinCap asset ids (prices)`); feeds may share one. */
  symbolsHelp: string;
  /** The websocket URL to open. */
  url(opts: FeedOptions): string;
  /** Records of one text frame received at `receivedAt` (ms); frames of other kinds give none. */
  parse(frame: string, receivedAt: number): FeedRecord[];
  /**
   * The kind of a frame that gave no record, which the producer counts as ignored (`depthUpdate`, `non-JSON`,
   * `trade (invalid)`); undefined for a frame the feed expects to give none (an open kline).
   */
  ignoredKind?(frame: string): string | undefined;
  /** Feeds of time series with a REST history (klines): the minute a record is about, per series, for gap-fill. */
  seriesPoint?(record: Record<string, unknown>): { series: string; openTime: number } | undefined;
  /** Feeds of trades with consecutive ids per series (Binance trade streams): the trade's series and id, for REST gap-fill. */
  tradeId?(record: Record<string, unknown>): { series: string; id: number } | undefined;
  /**
   * Feeds with gap-fill: where a (re)started producer resumes, read from the feed's table — per series (`symbol`), the
   * largest `point` (a kline's open time, a trade's id) of the rows matching `where`.
   */
  lastStored?: { point: string; where: string };
  /** Feeds with gap-fill: what refills a gap from the source's REST API at `restBaseUrl`. */
  gapFiller?(restBaseUrl: string): GapFiller;
}

/** A feed that polls a REST stream of a source (`coincap.assets`) and publishes every record of each snapshot. */
export interface PollFeed extends FeedBase {
  kind: 'polling';
  /** The batch job whose stream is polled (`coincap.assets`): same requests, paging, rate limit and record shapes. */
  job: string;
  /** Default seconds between polls. */
  defaultIntervalSeconds: number;
  /** Records of one snapshot taken at `snapshotAt` (ms): the source's records, each with its message id. */
  snapshot(records: Record<string, unknown>[], snapshotAt: number): FeedRecord[];
}

export type Feed = WsFeed | PollFeed;
