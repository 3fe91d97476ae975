// Star schema over the CoinCap and CoinLore snapshot tables (and the exchanges and symbols of the candle tables):
// dimensions are rebuilt on every run; snapshot facts are incremental — a snapshot (source, id, snapshot_time) already
// in the fact is never written again, so the facts keep the history the source tables (which hold only the latest
// snapshot) overwrite. Plain SQL that runs unchanged on DuckDB and PostgreSQL. When the warehouse holds ccxt markets
// (`ccxt_markets`, loaded by `ccxt.markets`), their exchanges join dim_exchange and their base assets bridge_asset_source;
// without that table the models read exactly what they read before it existed (it is never created here).
import type { Session } from '../core/destination.ts';
import type { ColumnSpec, TableSpec } from '../core/table.ts';
import { assetsTable, exchangesTable, marketsTable } from '../sources/coincap/coincap-tables.ts';
import { ccxtMarketsTable } from '../sources/ccxt/ccxt-tables.ts';
import { coinloreExchangesTable, coinloreMarketsTable, coinloreTickersTable } from '../sources/coinlore/coinlore-tables.ts';
import { ohlcv1mTable } from '../sources/ohlcv-table.ts';
import type { Model, ModelContext } from './model.ts';

const v = (name: string): ColumnSpec => ({ name, type: 'varchar' });
const d = (name: string): ColumnSpec => ({ name, type: 'double' });
const i = (name: string): ColumnSpec => ({ name, type: 'integer' });
const t = (name: string, columns: ColumnSpec[], primaryKey: string[]): TableSpec => ({ schema: 'coinlake', name, columns, primaryKey });

/** One row per canonical asset symbol (upper case), with its id, name and rank in each source (best-ranked coin when a source has several with the symbol). */
export const dimAssetTable = t('dim_asset', [v('asset_symbol'), v('name'), v('coincap_id'), i('coincap_rank'), v('coinlore_id'), i('coinlore_rank')], ['asset_symbol']);
/**
 * Every id a source uses for an asset: CoinCap ids, CoinLore ids, exchange pair symbols (source `exchange:<name>`), and
 * the markets ccxt lists (source `ccxt:<exchange id>`, the exchange's own market id as source id and symbol).
 */
export const bridgeAssetSourceTable = t('bridge_asset_source', [v('asset_symbol'), v('source'), v('source_id'), v('source_symbol'), v('source_name'), { name: 'is_primary', type: 'boolean' }], ['source', 'source_id']);
/** One row per exchange key (CoinCap `exchange_id` = CoinLore `name_id`, lower case; candle tables' exchange names; ccxt exchange ids of ccxt_markets). */
export const dimExchangeTable = t('dim_exchange', [v('exchange_key'), v('name'), v('coincap_id'), v('coinlore_id'), v('url'), v('country'), { name: 'in_candles', type: 'boolean' }], ['exchange_key']);
/** Every UTC day from the earliest to the latest date in the snapshots and candles. */
export const dimDateTable = t('dim_date', [{ name: 'date_key', type: 'date' }, i('year'), i('quarter'), i('month'), i('day'), i('iso_day_of_week'), { name: 'is_weekend', type: 'boolean' }], ['date_key']);
export const factAssetSnapshotTable = t(
  'fact_asset_snapshot',
  [v('asset_symbol'), v('source'), v('source_id'), { name: 'snapshot_time', type: 'timestamptz' }, { name: 'date_key', type: 'date' }, d('price_usd'), d('market_cap_usd'), d('supply'), d('max_supply'), i('rank'), d('volume_usd_24hr')],
  ['source', 'source_id', 'snapshot_time'],
);
/** CoinLore gives no share or rank of exchanges: both are computed within its snapshot from volume_usd. */
export const factExchangeSnapshotTable = t(
  'fact_exchange_snapshot',
  [v('exchange_key'), v('source'), { name: 'snapshot_time', type: 'timestamptz' }, { name: 'date_key', type: 'date' }, d('percent_total_volume'), d('volume_usd'), i('rank'), i('trading_pairs')],
  ['source', 'exchange_key', 'snapshot_time'],
);
/** Markets (exchange × pair) per snapshot; CoinLore's exchange key is its lower-cased exchange name. */
export const factMarketTable = t(
  'fact_market',
  [v('exchange_key'), v('source'), v('base_symbol'), v('quote_symbol'), v('pair'), { name: 'snapshot_time', type: 'timestamptz' }, { name: 'date_key', type: 'date' }, d('price_quote'), d('price_usd'), d('volume_usd_24hr'), d('percent_exchange_volume'), { name: 'trades_count_24hr', type: 'bigint' }],
  ['source', 'exchange_key', 'pair', 'snapshot_time'],
);

const SOURCE_TABLES = [assetsTable, exchangesTable, marketsTable, coinloreTickersTable, coinloreExchangesTable, coinloreMarketsTable, ohlcv1mTable];

/** Lineage values of a model run, as the two last select columns. */
const LINEAGE = `CAST($1 AS VARCHAR), CAST($2 AS TIMESTAMPTZ)`;
const cols = (s: TableSpec) => [...s.columns.map((c) => `"${c.name}"`), '_run_id', '_loaded_at'].join(', ');

async function prepare(s: Session, target: TableSpec): Promise<void> {
  for (const src of SOURCE_TABLES) await s.ensureTable(src);
  await s.ensureTable(target);
}

/** Whether `coinlake.ccxt_markets` exists (the markets of ccxt exchanges are read only then). */
async function hasCcxtMarkets(s: Session): Promise<boolean> {
  const rows = await s.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [ccxtMarketsTable.schema, ccxtMarketsTable.name]);
  return rows.length > 0;
}

/** A model's select, fixed or built from whether ccxt_markets exists. */
type Select = string | ((ccxt: boolean) => string);

/** A model that deletes its table and inserts `select` (whose last two columns are the lineage placeholders). */
function rebuilt(spec: TableSpec, description: string, dependsOn: string[], select: Select): Model {
  return {
    name: spec.name,
    description,
    dependsOn,
    async run({ session: s, runId, loadedAt }: ModelContext) {
      await prepare(s, spec);
      const sql = typeof select === 'string' ? select : select(await hasCcxtMarkets(s));
      await s.exec(`DELETE FROM coinlake.${spec.name}`);
      return s.exec(`INSERT INTO coinlake.${spec.name} (${cols(spec)}) ${sql}`, [runId, loadedAt.toISOString()]);
    },
  };
}

/** A fact that only gains the snapshots it does not hold yet (by its primary key); `--full` rebuilds it. */
function appended(spec: TableSpec, description: string, dependsOn: string[], select: string): Model {
  const key = spec.primaryKey!;
  return {
    name: spec.name,
    description,
    dependsOn,
    async run({ session: s, runId, loadedAt, full }: ModelContext) {
      await prepare(s, spec);
      if (full) await s.exec(`DELETE FROM coinlake.${spec.name}`);
      return s.exec(
        `INSERT INTO coinlake.${spec.name} (${cols(spec)})
         SELECT n.* FROM (${select}) n
          WHERE NOT EXISTS (SELECT 1 FROM coinlake.${spec.name} f WHERE ${key.map((k) => `f."${k}" = n."${k}"`).join(' AND ')})`,
        [runId, loadedAt.toISOString()],
      );
    },
  };
}

const day = (ts: string) => `CAST(${ts} AS DATE)`;

export const dimAssetModel = rebuilt(
  dimAssetTable,
  'one row per canonical symbol with its CoinCap and CoinLore id, name and rank',
  ['bridge_asset_source'],
  `WITH cc AS (SELECT upper(symbol) AS s, id, name, rank, row_number() OVER (PARTITION BY upper(symbol) ORDER BY rank NULLS LAST, id) AS k FROM coinlake.coincap_assets),
        cl AS (SELECT upper(symbol) AS s, id, name, rank, row_number() OVER (PARTITION BY upper(symbol) ORDER BY rank NULLS LAST, id) AS k FROM coinlake.coinlore_tickers),
        syms AS (SELECT DISTINCT asset_symbol FROM coinlake.bridge_asset_source)
   SELECT syms.asset_symbol, coalesce(cc.name, cl.name), cc.id, cc.rank, cl.id, cl.rank, ${LINEAGE}
     FROM syms LEFT JOIN cc ON cc.s = syms.asset_symbol AND cc.k = 1 LEFT JOIN cl ON cl.s = syms.asset_symbol AND cl.k = 1`,
);

export const bridgeAssetSourceModel = rebuilt(
  bridgeAssetSourceTable,
  'one coin across CoinCap ids, CoinLore ids, exchange pair symbols and ccxt market ids',
  [],
  (ccxt) => `SELECT upper(symbol), 'coincap', id, symbol, name, row_number() OVER (PARTITION BY upper(symbol) ORDER BY rank NULLS LAST, id) = 1, ${LINEAGE} FROM coinlake.coincap_assets
   UNION ALL
   SELECT upper(symbol), 'coinlore', id, symbol, name, row_number() OVER (PARTITION BY upper(symbol) ORDER BY rank NULLS LAST, id) = 1, ${LINEAGE} FROM coinlake.coinlore_tickers
   UNION ALL
   SELECT DISTINCT upper(split_part(symbol, '-', 1)), 'exchange:' || exchange, symbol, symbol, CAST(NULL AS VARCHAR), TRUE, ${LINEAGE} FROM coinlake.ohlcv_1m${
    ccxt
      ? `
   UNION ALL
   SELECT upper(base), 'ccxt:' || lower(exchange), market_id, market_id, CAST(NULL AS VARCHAR), TRUE, ${LINEAGE} FROM coinlake.ccxt_markets WHERE base IS NOT NULL AND market_id IS NOT NULL`
      : ''
  }`,
);

export const dimExchangeModel = rebuilt(
  dimExchangeTable,
  'exchanges of CoinCap, CoinLore, the candle tables and ccxt markets, matched on their lower-case id',
  [],
  (ccxt) => `WITH cc AS (SELECT lower(exchange_id) AS k, exchange_id, name, exchange_url FROM coinlake.coincap_exchanges),
        cl AS (SELECT lower(name_id) AS k, id, name, url, country FROM coinlake.coinlore_exchanges WHERE name_id IS NOT NULL),
        kx AS (SELECT DISTINCT lower(exchange) AS k FROM coinlake.ohlcv_1m),
        keys AS (SELECT k FROM cc UNION SELECT k FROM cl UNION SELECT k FROM kx${ccxt ? ' UNION SELECT DISTINCT lower(exchange) FROM coinlake.ccxt_markets' : ''})
   SELECT keys.k, coalesce(cc.name, cl.name, keys.k), cc.exchange_id, cl.id, coalesce(cc.exchange_url, cl.url), cl.country, kx.k IS NOT NULL, ${LINEAGE}
     FROM keys LEFT JOIN cc ON cc.k = keys.k LEFT JOIN cl ON cl.k = keys.k LEFT JOIN kx ON kx.k = keys.k`,
);

export const dimDateModel = rebuilt(
  dimDateTable,
  'every UTC day from the earliest to the latest snapshot or candle',
  [],
  `WITH b AS (
     SELECT min(x) AS lo, max(x) AS hi FROM (
       SELECT min(snapshot_time) AS x FROM coinlake.coincap_assets UNION ALL SELECT max(snapshot_time) FROM coinlake.coincap_assets
       UNION ALL SELECT min(snapshot_time) FROM coinlake.coinlore_tickers UNION ALL SELECT max(snapshot_time) FROM coinlake.coinlore_tickers
       UNION ALL SELECT min(snapshot_time) FROM coinlake.coincap_exchanges UNION ALL SELECT max(snapshot_time) FROM coinlake.coincap_exchanges
       UNION ALL SELECT min(snapshot_time) FROM coinlake.coinlore_exchanges UNION ALL SELECT max(snapshot_time) FROM coinlake.coinlore_exchanges
       UNION ALL SELECT min(snapshot_time) FROM coinlake.coincap_markets UNION ALL SELECT max(snapshot_time) FROM coinlake.coincap_markets
       UNION ALL SELECT min("time") FROM coinlake.coinlore_markets UNION ALL SELECT max("time") FROM coinlake.coinlore_markets
       UNION ALL SELECT min(ts) FROM coinlake.ohlcv_1m UNION ALL SELECT max(ts) FROM coinlake.ohlcv_1m) m),
   days AS (SELECT CAST(g.d AS DATE) AS dd FROM b, generate_series(date_trunc('day', b.lo), date_trunc('day', b.hi), INTERVAL '1 day') AS g(d) WHERE b.lo IS NOT NULL)
   SELECT dd, CAST(extract(year FROM dd) AS INTEGER), CAST(extract(quarter FROM dd) AS INTEGER), CAST(extract(month FROM dd) AS INTEGER),
          CAST(extract(day FROM dd) AS INTEGER), CAST(extract(isodow FROM dd) AS INTEGER), extract(isodow FROM dd) >= 6, ${LINEAGE}
     FROM days`,
);

export const factAssetSnapshotModel = appended(
  factAssetSnapshotTable,
  'price, market cap, supply, max supply, rank and 24h volume per asset, source and snapshot time',
  ['dim_asset', 'dim_date'],
  `SELECT upper(symbol) AS asset_symbol, 'coincap' AS source, id AS source_id, snapshot_time, ${day('snapshot_time')} AS date_key,
          price_usd, market_cap_usd, supply, max_supply, rank, volume_usd_24hr, ${LINEAGE} FROM coinlake.coincap_assets WHERE snapshot_time IS NOT NULL
   UNION ALL
   SELECT upper(symbol), 'coinlore', id, snapshot_time, ${day('snapshot_time')}, price_usd, market_cap_usd, csupply, msupply, rank, volume24, ${LINEAGE}
     FROM coinlake.coinlore_tickers WHERE snapshot_time IS NOT NULL`,
);

export const factExchangeSnapshotModel = appended(
  factExchangeSnapshotTable,
  'share of total volume, volume USD, rank and trading pairs per exchange, source and snapshot time',
  ['dim_exchange', 'dim_date'],
  `SELECT lower(exchange_id) AS exchange_key, 'coincap' AS source, snapshot_time, ${day('snapshot_time')} AS date_key,
          percent_total_volume, volume_usd, rank, trading_pairs, ${LINEAGE} FROM coinlake.coincap_exchanges WHERE snapshot_time IS NOT NULL
   UNION ALL
   SELECT lower(name_id), 'coinlore', snapshot_time, ${day('snapshot_time')},
          100 * volume_usd / nullif(sum(volume_usd) OVER (PARTITION BY snapshot_time), 0),
          volume_usd, CAST(CASE WHEN volume_usd IS NOT NULL THEN rank() OVER (PARTITION BY snapshot_time ORDER BY volume_usd DESC NULLS LAST) END AS INTEGER),
          active_pairs, ${LINEAGE}
     FROM coinlake.coinlore_exchanges WHERE snapshot_time IS NOT NULL AND name_id IS NOT NULL`,
);

export const factMarketModel = appended(
  factMarketTable,
  'price, 24h volume and share of exchange volume per market (exchange × pair), source and snapshot time',
  ['dim_exchange', 'dim_asset', 'dim_date'],
  `SELECT lower(exchange_id) AS exchange_key, 'coincap' AS source, upper(base_symbol) AS base_symbol, upper(quote_symbol) AS quote_symbol, pair,
          snapshot_time, ${day('snapshot_time')} AS date_key, price_quote, price_usd, volume_usd_24hr, percent_exchange_volume, trades_count_24hr, ${LINEAGE}
     FROM coinlake.coincap_markets WHERE snapshot_time IS NOT NULL
   UNION ALL
   SELECT lower(exchange_name), 'coinlore', upper(base), upper(quote), pair, "time", ${day('"time"')}, price, price_usd, volume_usd,
          100 * volume_usd / nullif(sum(volume_usd) OVER (PARTITION BY exchange_name, "time"), 0), CAST(NULL AS BIGINT), ${LINEAGE}
     FROM coinlake.coinlore_markets WHERE "time" IS NOT NULL`,
);

export const STAR_SCHEMA_MODELS: Model[] = [
  bridgeAssetSourceModel,
  dimAssetModel,
  dimExchangeModel,
  dimDateModel,
  factAssetSnapshotModel,
  factExchangeSnapshotModel,
  factMarketModel,
];
