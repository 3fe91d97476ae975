// Typed tables of the CoinCap streams (DESIGN §4/§5): source field names in snake_case, decimals as DOUBLE.
import type { ColumnSpec, TableSpec } from '../../core/table.ts';

const d = (name: string, source: string): ColumnSpec => ({ name, source, type: 'double' });
const v = (name: string, source = name): ColumnSpec => ({ name, source, type: 'varchar' });

export const assetsTable: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_assets',
  primaryKey: ['id'],
  clusteredBy: ['id'],
  columns: [
    v('id'),
    { name: 'rank', source: 'rank', type: 'integer' },
    v('symbol'),
    v('name'),
    d('supply', 'supply'),
    d('max_supply', 'maxSupply'),
    d('market_cap_usd', 'marketCapUsd'),
    d('volume_usd_24hr', 'volumeUsd24Hr'),
    d('price_usd', 'priceUsd'),
    d('change_percent_24hr', 'changePercent24Hr'),
    d('vwap_24hr', 'vwap24Hr'),
    v('explorer'),
    // CoinCap v3 only: v2 payloads never carry it.
    { name: 'tokens', source: 'tokens', type: 'json', optional: true },
    { name: 'snapshot_time', source: 'timestamp', type: 'timestamptz', volatile: true },
  ],
};

export const exchangesTable: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_exchanges',
  primaryKey: ['exchange_id'],
  clusteredBy: ['exchange_id'],
  columns: [
    v('exchange_id', 'exchangeId'),
    v('name'),
    { name: 'rank', source: 'rank', type: 'integer' },
    d('percent_total_volume', 'percentTotalVolume'),
    d('volume_usd', 'volumeUsd'),
    { name: 'trading_pairs', source: 'tradingPairs', type: 'integer' },
    { name: 'socket', source: 'socket', type: 'boolean' },
    v('exchange_url', 'exchangeUrl'),
    { name: 'updated', source: 'updated', type: 'timestamptz' },
    { name: 'snapshot_time', source: 'timestamp', type: 'timestamptz', volatile: true },
  ],
};

export const ratesTable: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_rates',
  primaryKey: ['id'],
  columns: [
    v('id'),
    v('symbol'),
    v('currency_symbol', 'currencySymbol'),
    v('type'),
    d('rate_usd', 'rateUsd'),
    { name: 'snapshot_time', source: 'timestamp', type: 'timestamptz', volatile: true },
  ],
};

export const marketsTable: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_markets',
  primaryKey: ['exchange_id', 'base_id', 'quote_id'],
  clusteredBy: ['exchange_id'],
  columns: [
    v('exchange_id', 'exchangeId'),
    { name: 'rank', source: 'rank', type: 'integer' },
    v('base_symbol', 'baseSymbol'),
    v('base_id', 'baseId'),
    v('quote_symbol', 'quoteSymbol'),
    v('quote_id', 'quoteId'),
    { name: 'pair', type: 'varchar', derived: true },
    d('price_quote', 'priceQuote'),
    d('price_usd', 'priceUsd'),
    d('volume_usd_24hr', 'volumeUsd24Hr'),
    d('percent_exchange_volume', 'percentExchangeVolume'),
    { name: 'trades_count_24hr', source: 'tradesCount24Hr', type: 'bigint' },
    { name: 'updated', source: 'updated', type: 'timestamptz' },
    { name: 'snapshot_time', source: 'timestamp', type: 'timestamptz', volatile: true },
  ],
};

export const assetHistoryTable: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_asset_history',
  primaryKey: ['asset_id', 'interval', 'time'],
  partitionBy: 'time',
  // An append-only time series: a new point's row says all an insert event would.
  changeEvents: 'changes',
  clusteredBy: ['asset_id'],
  columns: [
    { name: 'asset_id', type: 'varchar', derived: true },
    { name: 'interval', type: 'varchar', derived: true },
    { name: 'time', source: 'time', type: 'timestamptz' },
    d('price_usd', 'priceUsd'),
    d('circulating_supply', 'circulatingSupply'),
    { name: 'date', source: 'date', type: 'timestamptz' },
  ],
};
