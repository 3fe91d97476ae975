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
import { tableExists } from '../destinations/table-exists.ts';
import { bridgeAssetSourceModel } from './identity/bridge-asset-source.ts';
import { exchangeAliases, exchangeKeySql, type ExchangeAlias } from './identity/exchange-alias.ts';
import type { Model, ModelContext } from './model.ts';

const v = (name: string): ColumnSpec => ({ name, type: 'varchar' });
const d = (name: string): ColumnSpec => ({ name, type: 'double' });
const i = (name: string): ColumnSpec => ({ name, type: 'integer' });
const t = (name: string, columns: ColumnSpec[], primaryKey: string[]): TableSpec => ({ schema: 'coinlake', name, columns, primaryKey });

/**
 * One row per canonical asset (bridge_asset_source's asset_id): its symbol, name, and its id and rank in each source
 * (the best-ranked when a pin joined several). Two coins that share a ticker are two rows with the same asset_symbol.
 */
export const dimAssetTable = t('dim_asset', [v('asset_id'), v('asset_symbol'), v('name'), v('coincap_id'), i('coincap_rank'), v('coinlore_id'), i('coinlore_rank'), i('source_ids'), { name: 'flagged', type: 'boolean' }], ['asset_id']);
/**
 * One row per exchange key (CoinCap `exchange_id` = CoinLore `name_id`, lower case; candle tables' exchange names; ccxt
 * exchange ids of ccxt_markets), an id that is an alias (identity/exchange-alias.ts) counted under its exchange's key.
 */
export const dimExchangeTable = t('dim_exchange', [v('exchange_key'), v('name'), v('coincap_id'), v('coinlore_id'), v('url'), v('country'), { name: 'in_candles', type: 'boolean' }, v('aliases')], ['exchange_key']);
/** Every UTC day from the earliest to the latest date in the snapshots and candles. */
export const dimDateTable = t('dim_date', [{ name: 'date_key', type: 'date' }, i('year'), i('quarter'), i('month'), i('day'), i('iso_day_of_week'), { name: 'is_weekend', type: 'boolean' }], ['date_key']);
export const factAssetSnapshotTable = t(
  'fact_asset_snapshot',
  [v('asset_symbol'), v('source'), v('source_id'), { name: 'snapshot_time', type: 'timestamptz' }, { name: 'date_key', type: 'date' }, d('price_usd'), d('market_cap_usd'), d('supply'), d('max_supply'), i('rank'), d('volume_usd_24hr'), v('asset_id')],
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
const hasCcxtMarkets = (s: Session) => tableExists(s, ccxtMarketsTable.schema, ccxtMarketsTable.name);

/** What a model's select is built from: whether ccxt_markets exists, and the exchange-key mapping of the aliases. */
interface SelectInput {
  ccxt: boolean;
  /** SQL mapping a lower-case exchange id to its exchange key (identity/exchange-alias.ts). */
  exchangeKey: (expr: string) => string;
}
/** A model's select, fixed or built from its input. */
type Select = string | ((input: SelectInput) => string);

/** The select's SQL and its parameters: the lineage ($1, $2), then the aliases' (from $3). */
async function selectOf(s: Session, select: Select): Promise<{ sql: string; params: unknown[]; aliases: ExchangeAlias[] }> {
  if (typeof select === 'string') return { sql: select, params: [], aliases: [] };
  const aliases = await exchangeAliases(s);
  const { key, params } = exchangeKeySql(s, aliases, 3);
  let used = false;
  const exchangeKey = (expr: string) => ((used = true), key(expr));
  const sql = select({ ccxt: await hasCcxtMarkets(s), exchangeKey });
  return { sql, params: used ? params : [], aliases };
}

/** A model that deletes its table and inserts `select` (whose last two columns are the lineage placeholders). */
function rebuilt(spec: TableSpec, description: string, dependsOn: string[], select: Select): Model {
  return {
    name: spec.name,
    description,
    dependsOn,
    async run({ session: s, runId, loadedAt }: ModelContext) {
      await prepare(s, spec);
      const { sql, params } = await selectOf(s, select);
      await s.exec(`DELETE FROM coinlake.${spec.name}`);
      return s.exec(`INSERT INTO coinlake.${spec.name} (${cols(spec)}) ${sql}`, [runId, loadedAt.toISOString(), ...params]);
    },
  };
}

/**
 * A fact that only gains the snapshots it does not hold yet (by its primary key); `--full` rebuilds it. Before it
 * does, `keep` brings the rows it holds in line with today's identity: an exchange key now an alias, an asset_id the
 * bridge now gives otherwise.
 */
function appended(spec: TableSpec, description: string, dependsOn: string[], select: Select, keep: { exchangeKey?: boolean; assetId?: boolean } = {}): Model {
  const key = spec.primaryKey!;
  return {
    name: spec.name,
    description,
    dependsOn,
    async run({ session: s, runId, loadedAt, full }: ModelContext) {
      await prepare(s, spec);
      const { sql, params, aliases } = await selectOf(s, select);
      const target = `coinlake.${spec.name}`;
      if (full) await s.exec(`DELETE FROM ${target}`);
      else {
        const remap = exchangeKeySql(s, aliases, 1);
        if (keep.exchangeKey && remap.params.length > 0) {
          await s.exec(`UPDATE ${target} SET exchange_key = ${remap.key('exchange_key')} WHERE exchange_key <> ${remap.key('exchange_key')}`, remap.params);
        }
        if (keep.assetId) {
          await s.exec(
            s.dialect.updateFrom(target, 'asset_id = s.asset_id', 'coinlake.bridge_asset_source', 's.source = t.source AND s.source_id = t.source_id AND (t.asset_id IS NULL OR t.asset_id <> s.asset_id)'),
          );
        }
      }
      return s.exec(
        `INSERT INTO ${target} (${cols(spec)})
         SELECT n.* FROM (${sql}) n
          WHERE NOT EXISTS (SELECT 1 FROM ${target} f WHERE ${key.map((k) => `f."${k}" = n."${k}"`).join(' AND ')})`,
        [runId, loadedAt.toISOString(), ...params],
      );
    },
  };
}

const day = (ts: string) => `CAST(${ts} AS DATE)`;

export const dimAssetModel = rebuilt(
  dimAssetTable,
  "one row per canonical asset (the bridge's asset_id) with its symbol, name, and CoinCap and CoinLore id and rank",
  ['bridge_asset_source'],
  `WITH b AS (SELECT asset_id, asset_symbol, source, source_id, match_status FROM coinlake.bridge_asset_source),
        ids AS (SELECT asset_id, min(asset_symbol) AS asset_symbol, count(*) AS n,
                       max(CASE WHEN match_status IN ('weak', 'ambiguous') THEN 1 ELSE 0 END) AS f FROM b GROUP BY asset_id),
        cc AS (SELECT b.asset_id, c.id, c.name, c.rank, row_number() OVER (PARTITION BY b.asset_id ORDER BY c.rank NULLS LAST, c.id) AS k
                 FROM b JOIN coinlake.coincap_assets c ON b.source = 'coincap' AND c.id = b.source_id),
        cl AS (SELECT b.asset_id, c.id, c.name, c.rank, row_number() OVER (PARTITION BY b.asset_id ORDER BY c.rank NULLS LAST, c.id) AS k
                 FROM b JOIN coinlake.coinlore_tickers c ON b.source = 'coinlore' AND c.id = b.source_id)
   SELECT ids.asset_id, ids.asset_symbol, coalesce(cc.name, cl.name), cc.id, cc.rank, cl.id, cl.rank, CAST(ids.n AS INTEGER), ids.f = 1, ${LINEAGE}
     FROM ids LEFT JOIN cc ON cc.asset_id = ids.asset_id AND cc.k = 1 LEFT JOIN cl ON cl.asset_id = ids.asset_id AND cl.k = 1`,
);

export const dimExchangeModel = rebuilt(
  dimExchangeTable,
  'exchanges of CoinCap, CoinLore, the candle tables and ccxt markets, matched on their lower-case id or its alias (exchange_alias)',
  [],
  ({ ccxt, exchangeKey: key }) => `WITH cc AS (SELECT ${key('lower(exchange_id)')} AS k, exchange_id, name, exchange_url,
                     row_number() OVER (PARTITION BY ${key('lower(exchange_id)')} ORDER BY CASE WHEN lower(exchange_id) = ${key('lower(exchange_id)')} THEN 0 ELSE 1 END, exchange_id) AS rn
                FROM coinlake.coincap_exchanges),
        cl AS (SELECT ${key('lower(name_id)')} AS k, id, name, url, country,
                     row_number() OVER (PARTITION BY ${key('lower(name_id)')} ORDER BY CASE WHEN lower(name_id) = ${key('lower(name_id)')} THEN 0 ELSE 1 END, id) AS rn
                FROM coinlake.coinlore_exchanges WHERE name_id IS NOT NULL),
        kraw AS (SELECT DISTINCT lower(exchange) AS raw FROM coinlake.ohlcv_1m),
        kx AS (SELECT DISTINCT ${key('raw')} AS k FROM kraw),
        raws AS (SELECT lower(exchange_id) AS raw FROM coinlake.coincap_exchanges UNION SELECT lower(name_id) FROM coinlake.coinlore_exchanges WHERE name_id IS NOT NULL
                 UNION SELECT raw FROM kraw${ccxt ? ' UNION SELECT DISTINCT lower(exchange) FROM coinlake.ccxt_markets' : ''}),
        al AS (SELECT ${key('raw')} AS k, string_agg(raw, ',' ORDER BY raw) AS aliases FROM raws WHERE raw <> ${key('raw')} GROUP BY ${key('raw')}),
        keys AS (SELECT DISTINCT ${key('raw')} AS k FROM raws WHERE raw IS NOT NULL)
   SELECT keys.k, coalesce(cc.name, cl.name, keys.k), cc.exchange_id, cl.id, coalesce(cc.exchange_url, cl.url), cl.country, kx.k IS NOT NULL, al.aliases, ${LINEAGE}
     FROM keys LEFT JOIN cc ON cc.k = keys.k AND cc.rn = 1 LEFT JOIN cl ON cl.k = keys.k AND cl.rn = 1 LEFT JOIN kx ON kx.k = keys.k LEFT JOIN al ON al.k = keys.k`,
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
  `SELECT upper(a.symbol) AS asset_symbol, 'coincap' AS source, a.id AS source_id, a.snapshot_time, ${day('a.snapshot_time')} AS date_key,
          a.price_usd, a.market_cap_usd, a.supply, a.max_supply, a.rank, a.volume_usd_24hr, b.asset_id, ${LINEAGE}
     FROM coinlake.coincap_assets a LEFT JOIN coinlake.bridge_asset_source b ON b.source = 'coincap' AND b.source_id = a.id WHERE a.snapshot_time IS NOT NULL
   UNION ALL
   SELECT upper(l.symbol), 'coinlore', l.id, l.snapshot_time, ${day('l.snapshot_time')}, l.price_usd, l.market_cap_usd, l.csupply, l.msupply, l.rank, l.volume24, b.asset_id, ${LINEAGE}
     FROM coinlake.coinlore_tickers l LEFT JOIN coinlake.bridge_asset_source b ON b.source = 'coinlore' AND b.source_id = l.id WHERE l.snapshot_time IS NOT NULL`,
  { assetId: true },
);

export const factExchangeSnapshotModel = appended(
  factExchangeSnapshotTable,
  'share of total volume, volume USD, rank and trading pairs per exchange, source and snapshot time',
  ['dim_exchange', 'dim_date'],
  ({ exchangeKey: key }) => `SELECT ${key('lower(exchange_id)')} AS exchange_key, 'coincap' AS source, snapshot_time, ${day('snapshot_time')} AS date_key,
          percent_total_volume, volume_usd, rank, trading_pairs, ${LINEAGE} FROM coinlake.coincap_exchanges WHERE snapshot_time IS NOT NULL
   UNION ALL
   SELECT ${key('lower(name_id)')}, 'coinlore', snapshot_time, ${day('snapshot_time')},
          100 * volume_usd / nullif(sum(volume_usd) OVER (PARTITION BY snapshot_time), 0),
          volume_usd, CAST(CASE WHEN volume_usd IS NOT NULL THEN rank() OVER (PARTITION BY snapshot_time ORDER BY volume_usd DESC NULLS LAST) END AS INTEGER),
          active_pairs, ${LINEAGE}
     FROM coinlake.coinlore_exchanges WHERE snapshot_time IS NOT NULL AND name_id IS NOT NULL`,
  { exchangeKey: true },
);

export const factMarketModel = appended(
  factMarketTable,
  'price, 24h volume and share of exchange volume per market (exchange × pair), source and snapshot time',
  ['dim_exchange', 'dim_asset', 'dim_date'],
  ({ exchangeKey: key }) => `SELECT ${key('lower(exchange_id)')} AS exchange_key, 'coincap' AS source, upper(base_symbol) AS base_symbol, upper(quote_symbol) AS quote_symbol, pair,
          snapshot_time, ${day('snapshot_time')} AS date_key, price_quote, price_usd, volume_usd_24hr, percent_exchange_volume, trades_count_24hr, ${LINEAGE}
     FROM coinlake.coincap_markets WHERE snapshot_time IS NOT NULL
   UNION ALL
   SELECT ${key('lower(exchange_name)')}, 'coinlore', upper(base), upper(quote), pair, "time", ${day('"time"')}, price, price_usd, volume_usd,
          100 * volume_usd / nullif(sum(volume_usd) OVER (PARTITION BY exchange_name, "time"), 0), CAST(NULL AS BIGINT), ${LINEAGE}
     FROM coinlake.coinlore_markets WHERE "time" IS NOT NULL`,
  { exchangeKey: true },
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
