// Typed tables of the CoinLore streams (DESIGN §4/§5). CoinLore mixes types: prices, percentages and supplies come as
// strings, volumes and ranks as numbers; all land as DOUBLE/INTEGER. `""` (msupply of uncapped coins) and
// `0000-00-00` dates become NULL in the normalizer's casts; `"0?"` (an unknown supply or market cap) is made null by
// the source (coinlore-source.ts).
import type { ColumnSpec, TableSpec } from '../../core/table.ts';

const d = (name: string): ColumnSpec => ({ name, source: name, type: 'double' });
const v = (name: string): ColumnSpec => ({ name, source: name, type: 'varchar' });
/** Time of the snapshot (CoinLore's `info.time`, else the response's Date header); never a change on its own. */
const snapshotTime: ColumnSpec = { name: 'snapshot_time', source: 'snapshot_time', type: 'timestamptz', volatile: true };

/** `/tickers/` and `/ticker/` items. */
export const coinloreTickersTable: TableSpec = {
  schema: 'coinlake',
  name: 'coinlore_tickers',
  primaryKey: ['id'],
  clusteredBy: ['id'],
  columns: [
    v('id'),
    v('symbol'),
    v('name'),
    v('nameid'),
    { name: 'rank', source: 'rank', type: 'integer' },
    d('price_usd'),
    d('percent_change_24h'),
    d('percent_change_1h'),
    d('percent_change_7d'),
    d('price_btc'),
    d('market_cap_usd'),
    d('volume24'),
    d('volume24a'),
    d('csupply'),
    d('tsupply'),
    d('msupply'),
    snapshotTime,
  ],
};

/** `/exchanges/` values. `date_live` / `date_added` appear in older payloads (2021), often as `0000-00-00…`. */
export const coinloreExchangesTable: TableSpec = {
  schema: 'coinlake',
  name: 'coinlore_exchanges',
  primaryKey: ['id'],
  columns: [
    v('id'),
    v('name'),
    v('name_id'),
    d('volume_usd'),
    { name: 'active_pairs', source: 'active_pairs', type: 'integer' },
    v('url'),
    v('country'),
    { name: 'date_live', source: 'date_live', type: 'date' },
    { name: 'date_added', source: 'date_added', type: 'timestamptz' },
    snapshotTime,
  ],
};

/** Markets of a coin (`/coin/markets/`) and pairs of an exchange (`/exchange/`), one row per exchange and pair. */
export const coinloreMarketsTable: TableSpec = {
  schema: 'coinlake',
  name: 'coinlore_markets',
  primaryKey: ['exchange_name', 'base', 'quote'],
  clusteredBy: ['exchange_name'],
  columns: [
    { name: 'exchange_name', source: 'name', type: 'varchar' },
    v('base'),
    v('quote'),
    { name: 'pair', type: 'varchar', derived: true },
    d('price'),
    d('price_usd'),
    d('volume'),
    d('volume_usd'),
    { name: 'time', source: 'time', type: 'timestamptz' },
  ],
};

/** `/global/` (an array of one object): one row per snapshot. */
export const coinloreGlobalTable: TableSpec = {
  schema: 'coinlake',
  name: 'coinlore_global',
  primaryKey: ['snapshot_time'],
  columns: [
    { name: 'snapshot_time', source: 'snapshot_time', type: 'timestamptz' },
    { name: 'coins_count', source: 'coins_count', type: 'integer' },
    { name: 'active_markets', source: 'active_markets', type: 'integer' },
    d('total_mcap'),
    d('total_volume'),
    d('btc_d'),
    d('eth_d'),
    d('mcap_change'),
    d('volume_change'),
    d('avg_change_percent'),
    d('volume_ath'),
    d('mcap_ath'),
  ],
};

/** `/coin/social_stats/` flattened: reddit and twitter figures of a coin. */
export const coinloreSocialStatsTable: TableSpec = {
  schema: 'coinlake',
  name: 'coinlore_social_stats',
  primaryKey: ['coin_id'],
  columns: [
    v('coin_id'),
    d('reddit_avg_active_users'),
    { name: 'reddit_subscribers', source: 'reddit_subscribers', type: 'bigint' },
    { name: 'twitter_followers_count', source: 'twitter_followers_count', type: 'bigint' },
    { name: 'twitter_status_count', source: 'twitter_status_count', type: 'bigint' },
    snapshotTime,
  ],
};
