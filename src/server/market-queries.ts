// Market trends for the page: the current asset and exchange snapshots, the asset price history, and every observed
// change of the snapshot rows (change events) as their history. Parameterised SQL; names only from allow-lists.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';
import { MAX_SERIES_POINTS, iso, num, placeholders, rangeSql, sec, strideIndexes, type TimeRange, type Unavailable } from './query-parts.ts';
import type { WarehouseTables } from './warehouse-tables.ts';

// ── snapshots over time (change events) ─────────────────────────────────────────────────────────────────────

/**
 * The after-images of a snapshot table's rows for the given keys, oldest first: every insert and update the merge
 * (or scd2) loads recorded in coinlake_meta.change_event. That is the table's history as it was observed.
 */
async function snapshotImages(s: Session, t: WarehouseTables, table: string, keyColumn: string, ids: string[]): Promise<Map<string, { t: number; image: Record<string, unknown> }[]>> {
  const out = new Map<string, { t: number; image: Record<string, unknown> }[]>(ids.map((id) => [id, []]));
  if (!t.has(META_SCHEMA, 'change_event') || ids.length === 0) return out;
  const keys = ids.map((id) => JSON.stringify({ [keyColumn]: id }));
  const rows = await s.query<{ primary_key: string; after: string | null; event_time: Date }>(
    `SELECT primary_key, "after", event_time FROM coinlake_meta.change_event
      WHERE table_name = $1 AND operation IN ('insert', 'update') AND primary_key IN (${placeholders(2, keys.length)})
      ORDER BY event_time, event_id`,
    [`${DATA_SCHEMA}.${table}`, ...keys],
  );
  for (const r of rows) {
    if (!r.after) continue;
    const id = String((JSON.parse(r.primary_key) as Record<string, unknown>)[keyColumn]);
    out.get(id)?.push({ t: sec(r.event_time), image: JSON.parse(r.after) as Record<string, unknown> });
  }
  return out;
}

/** Values of one field of the images (null where absent or not a number). */
const field = (images: { image: Record<string, unknown> }[], name: string): (number | null)[] =>
  images.map(({ image }) => (typeof image[name] === 'number' ? (image[name] as number) : image[name] == null ? null : Number(image[name])));

// ── assets ──────────────────────────────────────────────────────────────────────────────────────────────────

const ASSET_COLUMNS = ['id', 'rank', 'symbol', 'name', 'price_usd', 'market_cap_usd', 'supply', 'max_supply', 'volume_usd_24hr', 'change_percent_24hr', 'snapshot_time'];
const HISTORY_COLUMNS = ['asset_id', 'interval', 'time', 'price_usd', 'circulating_supply'];
/** History intervals in the order the trend charts prefer them (hourly first: enough points, not too many). */
export const HISTORY_INTERVALS = ['h1', 'h2', 'h6', 'h12', 'd1', 'm30', 'm15', 'm5', 'm1'];

/** `WHERE is_current` for scd2 tables (current versions only), else nothing. */
function currentOnly(t: WarehouseTables, table: string): string {
  return t.columnsOf(DATA_SCHEMA, table).has('is_current') ? 'WHERE is_current' : '';
}

/** An asset as the selector and the snapshot table show it. */
export interface AssetItem {
  id: string;
  rank: number | null;
  symbol: string | null;
  name: string | null;
  priceUsd: number | null;
  marketCapUsd: number | null;
  supply: number | null;
  maxSupply: number | null;
  volumeUsd24Hr: number | null;
  changePercent24Hr: number | null;
  snapshotTime: string | null;
  /** Price history held per interval. */
  history: { interval: string; points: number; from: string | null; to: string | null }[];
}

/** The current asset snapshot (coinlake.coincap_assets) by rank, each with the price history held for it. */
export async function assetList(s: Session, t: WarehouseTables): Promise<{ available: true; assets: AssetItem[] } | Unavailable> {
  if (!t.hasColumns(DATA_SCHEMA, 'coincap_assets', ASSET_COLUMNS)) {
    return { available: false, reason: 'coinlake.coincap_assets is not loaded yet: run `npx coinlake --replay run coincap.assets`' };
  }
  const rows = await s.query<Record<string, unknown>>(
    `SELECT ${ASSET_COLUMNS.map((c) => s.dialect.ident(c)).join(', ')} FROM coinlake.coincap_assets ${currentOnly(t, 'coincap_assets')}
      ORDER BY rank NULLS LAST, id`,
  );
  const history = new Map<string, AssetItem['history']>();
  if (t.hasColumns(DATA_SCHEMA, 'coincap_asset_history', HISTORY_COLUMNS)) {
    const h = await s.query<{ asset_id: string; interval: string; n: unknown; first: Date; last: Date }>(
      `SELECT asset_id, "interval", count(*) AS n, min("time") AS first, max("time") AS last
         FROM coinlake.coincap_asset_history GROUP BY asset_id, "interval" ORDER BY asset_id, "interval"`,
    );
    for (const r of h) {
      const list = history.get(r.asset_id) ?? [];
      list.push({ interval: r.interval, points: Number(r.n), from: iso(r.first), to: iso(r.last) });
      history.set(r.asset_id, list);
    }
  }
  return {
    available: true,
    assets: rows.map((r) => ({
      id: String(r.id),
      rank: num(r.rank),
      symbol: (r.symbol as string | null) ?? null,
      name: (r.name as string | null) ?? null,
      priceUsd: num(r.price_usd),
      marketCapUsd: num(r.market_cap_usd),
      supply: num(r.supply),
      maxSupply: num(r.max_supply),
      volumeUsd24Hr: num(r.volume_usd_24hr),
      changePercent24Hr: num(r.change_percent_24hr),
      snapshotTime: iso(r.snapshot_time),
      history: history.get(String(r.id)) ?? [],
    })),
  };
}

/** Trends of one asset: price history (with market cap = price × circulating supply) and its observed snapshots. */
export interface AssetTrend {
  id: string;
  /** Interval of the price history (null when none is held). */
  interval: string | null;
  /** Points in the range before thinning. */
  points: number;
  history: { t: number[]; price: (number | null)[]; supply: (number | null)[]; marketCap: (number | null)[] };
  /** The current max supply (null: unlimited or unknown). */
  maxSupply: number | null;
  /** Every observed change of the snapshot row: rank, price, market cap, supply and max supply at load time. */
  snapshots: { t: number[]; rank: (number | null)[]; price: (number | null)[]; marketCap: (number | null)[]; supply: (number | null)[]; maxSupply: (number | null)[] };
}

/** Price, market cap, supply vs max supply and rank over time for the given assets. */
export async function assetTrends(s: Session, t: WarehouseTables, ids: string[], opts: TimeRange & { interval?: string }): Promise<AssetTrend[]> {
  const hasHistory = t.hasColumns(DATA_SCHEMA, 'coincap_asset_history', HISTORY_COLUMNS);
  const hasAssets = t.hasColumns(DATA_SCHEMA, 'coincap_assets', ['id', 'max_supply']);
  const intervals = new Map<string, Set<string>>();
  if (hasHistory && ids.length) {
    const rows = await s.query<{ asset_id: string; interval: string }>(
      `SELECT DISTINCT asset_id, "interval" FROM coinlake.coincap_asset_history WHERE asset_id IN (${placeholders(1, ids.length)})`,
      ids,
    );
    for (const r of rows) intervals.set(r.asset_id, (intervals.get(r.asset_id) ?? new Set()).add(r.interval));
  }
  const maxSupply = new Map<string, number | null>();
  if (hasAssets && ids.length) {
    const rows = await s.query<{ id: string; max_supply: unknown }>(
      `SELECT id, max_supply FROM coinlake.coincap_assets WHERE id IN (${placeholders(1, ids.length)})`,
      ids,
    );
    for (const r of rows) maxSupply.set(r.id, num(r.max_supply));
  }
  const images = await snapshotImages(s, t, 'coincap_assets', 'id', ids);
  const out: AssetTrend[] = [];
  for (const id of ids) {
    const held = intervals.get(id) ?? new Set<string>();
    const interval = opts.interval ? (held.has(opts.interval) ? opts.interval : null) : (HISTORY_INTERVALS.find((i) => held.has(i)) ?? [...held].sort()[0] ?? null);
    const history: AssetTrend['history'] = { t: [], price: [], supply: [], marketCap: [] };
    let points = 0;
    if (interval) {
      const params: unknown[] = [id, interval];
      const rows = await s.query<{ time: Date; price_usd: unknown; circulating_supply: unknown }>(
        `SELECT "time", price_usd, circulating_supply FROM coinlake.coincap_asset_history
          WHERE asset_id = $1 AND "interval" = $2${rangeSql('"time"', opts, params)} ORDER BY "time"`,
        params,
      );
      points = rows.length;
      for (const i of strideIndexes(rows.length, MAX_SERIES_POINTS)) {
        const r = rows[i];
        const price = num(r.price_usd);
        const supply = num(r.circulating_supply);
        history.t.push(sec(r.time));
        history.price.push(price);
        history.supply.push(supply);
        history.marketCap.push(price != null && supply != null ? price * supply : null);
      }
    }
    const seen = images.get(id) ?? [];
    out.push({
      id,
      interval,
      points,
      history,
      maxSupply: maxSupply.get(id) ?? null,
      snapshots: {
        t: seen.map((x) => x.t),
        rank: field(seen, 'rank'),
        price: field(seen, 'price_usd'),
        marketCap: field(seen, 'market_cap_usd'),
        supply: field(seen, 'supply'),
        maxSupply: field(seen, 'max_supply'),
      },
    });
  }
  return out;
}

// ── exchanges ───────────────────────────────────────────────────────────────────────────────────────────────

const EXCHANGE_COLUMNS = ['exchange_id', 'name', 'rank', 'percent_total_volume', 'volume_usd', 'trading_pairs', 'updated', 'snapshot_time'];

/** An exchange of the current snapshot. */
export interface ExchangeItem {
  id: string;
  name: string | null;
  rank: number | null;
  percentTotalVolume: number | null;
  volumeUsd: number | null;
  tradingPairs: number | null;
  updated: string | null;
  snapshotTime: string | null;
}

/** The current exchange snapshot (coinlake.coincap_exchanges) by rank. */
export async function exchangeList(s: Session, t: WarehouseTables): Promise<{ available: true; exchanges: ExchangeItem[] } | Unavailable> {
  if (!t.hasColumns(DATA_SCHEMA, 'coincap_exchanges', EXCHANGE_COLUMNS)) {
    return { available: false, reason: 'coinlake.coincap_exchanges is not loaded yet: run `npx coinlake --replay run coincap.exchanges`' };
  }
  const rows = await s.query<Record<string, unknown>>(
    `SELECT ${EXCHANGE_COLUMNS.map((c) => s.dialect.ident(c)).join(', ')} FROM coinlake.coincap_exchanges ${currentOnly(t, 'coincap_exchanges')}
      ORDER BY rank NULLS LAST, exchange_id`,
  );
  return {
    available: true,
    exchanges: rows.map((r) => ({
      id: String(r.exchange_id),
      name: (r.name as string | null) ?? null,
      rank: num(r.rank),
      percentTotalVolume: num(r.percent_total_volume),
      volumeUsd: num(r.volume_usd),
      tradingPairs: num(r.trading_pairs),
      updated: iso(r.updated),
      snapshotTime: iso(r.snapshot_time),
    })),
  };
}

/** An exchange's observed snapshots over time. */
export interface ExchangeTrend {
  id: string;
  t: number[];
  rank: (number | null)[];
  volumeUsd: (number | null)[];
  percentTotalVolume: (number | null)[];
}

/** Volume USD, share and rank over time for the given exchanges, from the change events of their snapshot rows. */
export async function exchangeTrends(s: Session, t: WarehouseTables, ids: string[], range: TimeRange): Promise<ExchangeTrend[]> {
  const images = await snapshotImages(s, t, 'coincap_exchanges', 'exchange_id', ids);
  const from = range.from ? sec(range.from) : -Infinity;
  const to = range.to ? sec(range.to) : Infinity;
  return ids.map((id) => {
    const seen = (images.get(id) ?? []).filter((x) => x.t >= from && x.t < to);
    return { id, t: seen.map((x) => x.t), rank: field(seen, 'rank'), volumeUsd: field(seen, 'volume_usd'), percentTotalVolume: field(seen, 'percent_total_volume') };
  });
}
