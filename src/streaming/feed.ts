// Contract of a websocket feed (streaming/<source>-feeds.ts): where to connect, and how one frame becomes records
// with the table's column names, each with its natural key (the JetStream `Nats-Msg-Id`, so a re-publish is stored once).
import type { WriteMode } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';

/** One record of a frame, ready to publish. */
export interface FeedRecord {
  /** Natural key of the record: the message id JetStream de-duplicates on. */
  msgId: string;
  /** Values under the table's column names (typed by the normalizer in the consumer). */
  record: Record<string, unknown>;
}

/** Options a feed's URL depends on. */
export interface FeedOptions {
  /** Websocket base URL (the replay server's under --replay). */
  baseUrl: string;
  /** CoinCap asset ids or Binance symbols; the feed's default when empty. */
  symbols: string[];
}

/** A websocket feed: the stream name is `<source>.<stream>`, its subject `coinlake.<source>.<stream>`. */
export interface Feed {
  source: string;
  stream: string;
  table: TableSpec;
  writeMode: WriteMode;
  defaultBaseUrl: string;
  /** The websocket URL to open. */
  url(opts: FeedOptions): string;
  /** Records of one text frame received at `receivedAt` (ms); frames of other kinds give none. */
  parse(frame: string, receivedAt: number): FeedRecord[];
  /** Feeds of time series with a REST history (klines): the minute a record is about, per series, for gap-fill. */
  seriesPoint?(record: Record<string, unknown>): { series: string; openTime: number } | undefined;
}
