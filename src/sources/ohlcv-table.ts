// The candle tables every market-history source writes (CryptoDataDownload files, Binance klines): one
// layout, keyed by (exchange, symbol, ts). One-minute candles land in `ohlcv_1m`; every other interval in
// its own table of the same layout, `ohlcv_<interval>` (`ohlcv_1h`, `ohlcv_1d`, `ohlcv_1mo` for months).
import { intervalTableSuffix, type CandleInterval } from '../core/candle-interval.ts';
import type { ColumnSpec, TableSpec } from '../core/table.ts';

const price = (name: string): ColumnSpec => ({ name, type: 'double' });

/** Columns in table order; a source's records use these names. */
export const OHLCV_COLUMNS: ColumnSpec[] = [
  { name: 'exchange', type: 'varchar' },
  /** Canonical pair `BASE-QUOTE`, e.g. `BTC-USDT`. */
  { name: 'symbol', type: 'varchar' },
  /** Open time of the candle (UTC). */
  { name: 'ts', type: 'timestamptz' },
  price('open'),
  price('high'),
  price('low'),
  price('close'),
  /** Traded amount in the base asset (`Volume BTC`, Binance `volume`). */
  price('volume_base'),
  /** Traded amount in the quote asset (`Volume USDT`, Binance quote asset volume). */
  price('volume_quote'),
  /** Number of trades; NULL where the source does not say. */
  { name: 'trade_count', type: 'bigint' },
];

/** Primary key of every candle table. */
export const OHLCV_KEY = ['exchange', 'symbol', 'ts'];

/** Table name of an interval's candles: `ohlcv_1m`, `ohlcv_1h`, `ohlcv_1mo`. */
export function ohlcvTableName(interval: CandleInterval): string {
  return `ohlcv_${intervalTableSuffix(interval)}`;
}

/** The candle table of an interval in schema `coinlake`, partitioned by the UTC date of `ts` (yearly `dt=YYYY` folders in the lake). */
export function ohlcvTable(interval: CandleInterval): TableSpec {
  return {
    schema: 'coinlake',
    name: ohlcvTableName(interval),
    columns: OHLCV_COLUMNS,
    primaryKey: OHLCV_KEY,
    partitionBy: 'ts',
    // Yearly lake folders: measured on 5M one-minute candles, DuckDB's partitioned Parquet writer takes ~1 s for a
    // handful of year files, ~2.5 s for 114 month files and 6–10 s for 3,472 day files.
    lakeGrain: 'year',
    clusteredBy: ['exchange', 'symbol', 'ts'],
    // Append-only: a new candle's row says all an insert event would; a corrected candle is an update event.
    changeEvents: 'changes',
  };
}

/** `coinlake.ohlcv_1m`. */
export const ohlcv1mTable: TableSpec = ohlcvTable('1m');
