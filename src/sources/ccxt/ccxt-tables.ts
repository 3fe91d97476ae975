// The tables of the ccxt streams besides candles (which land in the shared ohlcv_<interval> tables): trades, tickers
// and markets of every exchange, keyed by the ccxt exchange id. Column `source` names are the fields of ccxt's unified
// structures (Trade, Ticker, Market), which the records carry as ccxt parsed them.
import type { TableSpec } from '../../core/table.ts';

/** `coinlake.ccxt_trades`: public trades, one row per (exchange, symbol, trade id). */
export const ccxtTradesTable: TableSpec = {
  schema: 'coinlake',
  name: 'ccxt_trades',
  columns: [
    { name: 'exchange', type: 'varchar' },
    /** Canonical `BASE-QUOTE`. */
    { name: 'symbol', type: 'varchar' },
    { name: 'trade_id', type: 'varchar', source: 'id' },
    { name: 'ts', type: 'timestamptz', source: 'timestamp' },
    { name: 'side', type: 'varchar', nullable: true },
    { name: 'price', type: 'double' },
    /** In the base asset. */
    { name: 'amount', type: 'double' },
    /** In the quote asset (price × amount unless the exchange says otherwise). */
    { name: 'cost', type: 'double', nullable: true },
    { name: 'taker_or_maker', type: 'varchar', source: 'takerOrMaker', nullable: true },
  ],
  primaryKey: ['exchange', 'symbol', 'trade_id'],
  partitionBy: 'ts',
  lakeGrain: 'month',
  clusteredBy: ['exchange', 'symbol', 'ts'],
  changeEvents: 'changes',
};

/** `coinlake.ccxt_tickers`: 24-hour tickers as each fetch saw them, one row per (exchange, symbol, exchange time). */
export const ccxtTickersTable: TableSpec = {
  schema: 'coinlake',
  name: 'ccxt_tickers',
  columns: [
    { name: 'exchange', type: 'varchar' },
    { name: 'symbol', type: 'varchar' },
    { name: 'ts', type: 'timestamptz', source: 'timestamp' },
    { name: 'last', type: 'double', nullable: true },
    { name: 'bid', type: 'double', nullable: true },
    { name: 'ask', type: 'double', nullable: true },
    { name: 'open', type: 'double', nullable: true },
    { name: 'high', type: 'double', nullable: true },
    { name: 'low', type: 'double', nullable: true },
    { name: 'base_volume', type: 'double', source: 'baseVolume', nullable: true },
    { name: 'quote_volume', type: 'double', source: 'quoteVolume', nullable: true },
    { name: 'vwap', type: 'double', nullable: true },
    /** Change over the 24 hours in percent. */
    { name: 'percentage', type: 'double', nullable: true },
  ],
  primaryKey: ['exchange', 'symbol', 'ts'],
  partitionBy: 'ts',
  clusteredBy: ['exchange', 'symbol', 'ts'],
};

/** `coinlake.ccxt_markets`: the markets each exchange lists, under its own ids and ccxt's unified symbol. */
export const ccxtMarketsTable: TableSpec = {
  schema: 'coinlake',
  name: 'ccxt_markets',
  columns: [
    { name: 'exchange', type: 'varchar' },
    /** The exchange's own market id, e.g. Kraken's `XXBTZUSD`. */
    { name: 'market_id', type: 'varchar', source: 'id' },
    /** Canonical `BASE-QUOTE`. */
    { name: 'symbol', type: 'varchar', source: 'canonical' },
    /** ccxt's unified symbol, e.g. `BTC/USD`. */
    { name: 'unified_symbol', type: 'varchar', source: 'symbol' },
    { name: 'base', type: 'varchar' },
    { name: 'quote', type: 'varchar' },
    /** The exchange's own asset ids, e.g. Kraken's `XXBT`. */
    { name: 'base_id', type: 'varchar', source: 'baseId', nullable: true },
    { name: 'quote_id', type: 'varchar', source: 'quoteId', nullable: true },
    /** `spot`, `swap`, `future`, `option`. */
    { name: 'type', type: 'varchar', nullable: true },
    { name: 'active', type: 'boolean', nullable: true },
    { name: 'price_precision', type: 'double', source: 'pricePrecision', nullable: true },
    { name: 'amount_precision', type: 'double', source: 'amountPrecision', nullable: true },
  ],
  primaryKey: ['exchange', 'market_id'],
  clusteredBy: ['exchange', 'market_id'],
};
