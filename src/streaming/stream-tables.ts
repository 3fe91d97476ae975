// Tables the live feeds load: ticks as they arrive (partitioned by time, clustered by their id) and the snapshot tables
// of polled feeds.
import type { TableSpec } from '../core/table.ts';

/** `coinlake.stream_prices`: one row per asset price in a CoinCap prices frame. */
export const streamPricesTable: TableSpec = {
  schema: 'coinlake',
  name: 'stream_prices',
  columns: [
    { name: 'msg_id', type: 'varchar' },
    { name: 'source', type: 'varchar' },
    { name: 'asset_id', type: 'varchar' },
    { name: 'price_usd', type: 'double' },
    /** CoinCap's prices frames carry no time: this is the receipt time. */
    { name: 'received_at', type: 'timestamptz' },
  ],
  primaryKey: ['msg_id'],
  partitionBy: 'received_at',
  changeEvents: 'changes',
  clusteredBy: ['asset_id', 'received_at'],
};

/** `coinlake.stream_trades`: one row per trade (CoinCap trades, Binance trade streams) or Binance aggregate trade. */
export const streamTradesTable: TableSpec = {
  schema: 'coinlake',
  name: 'stream_trades',
  columns: [
    { name: 'msg_id', type: 'varchar' },
    { name: 'source', type: 'varchar' },
    { name: 'exchange', type: 'varchar' },
    /** `BASE-QUOTE`: tickers for Binance (`BTC-USDT`), CoinCap asset ids for CoinCap (`bitcoin-tether`). */
    { name: 'symbol', type: 'varchar' },
    { name: 'trade_id', type: 'varchar', nullable: true },
    { name: 'side', type: 'varchar', nullable: true },
    { name: 'price', type: 'double' },
    { name: 'volume', type: 'double' },
    { name: 'price_usd', type: 'double', nullable: true },
    /** Exchange time of the trade. */
    { name: 'ts', type: 'timestamptz' },
    { name: 'received_at', type: 'timestamptz' },
    /** Binance aggregate trades (`aggTrade`): the aggregate trade id (trade_id is NULL), and the first and last trade ids it covers. */
    { name: 'agg_trade_id', type: 'bigint', nullable: true, optional: true },
    { name: 'first_trade_id', type: 'bigint', nullable: true, optional: true },
    { name: 'last_trade_id', type: 'bigint', nullable: true, optional: true },
  ],
  primaryKey: ['msg_id'],
  partitionBy: 'ts',
  changeEvents: 'changes',
  clusteredBy: ['exchange', 'symbol', 'ts'],
};

/** Column every snapshot table of a polled feed carries: the poll's time slot (ms, a multiple of the poll interval). */
export const PROCESSING_TIMESTAMP = 'processing_timestamp';

/**
 * The snapshot table of a polled stream (`stream_coincap_assets` for `coincap.assets`): the stream's columns plus
 * `processing_timestamp`, one row per key and poll (primary key: the stream's key + processing_timestamp), so a
 * redelivered or re-published record merges onto itself. Partitioned by the date of processing_timestamp and
 * clustered by the stream's key (id / exchange id).
 */
export function snapshotTable(base: TableSpec, name: string): TableSpec {
  return {
    schema: 'coinlake',
    name,
    columns: [...base.columns, { name: PROCESSING_TIMESTAMP, type: 'timestamptz' }],
    primaryKey: [...base.primaryKey, PROCESSING_TIMESTAMP],
    partitionBy: PROCESSING_TIMESTAMP,
    clusteredBy: [...base.primaryKey],
  };
}
