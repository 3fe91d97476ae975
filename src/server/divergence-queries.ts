// Cross-venue divergence for the page, read from the model table coinlake.fact_price_divergence: the pairs it holds,
// each venue's price beside the median, the spread, and the alert episodes (gaps and islands over window functions).
// Nothing is computed from candles here. Portable, parameterised SQL; names only from allow-lists.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA } from '../catalog/meta-tables.ts';
import { factPriceDivergenceTable } from '../models/fact-price-divergence.ts';
import { iso, rangeSql, sec, type TimeRange, type Unavailable } from './query-parts.ts';
import type { WarehouseTables } from './warehouse-tables.ts';

const TABLE = factPriceDivergenceTable.name;
const COLUMNS = ['grain', 'symbol', 'ts', 'exchange', 'price', 'median_price', 'deviation_bps', 'spread_bps'];

/** The grains the model writes, with the step between consecutive times (an SQL interval unit). */
export const DIVERGENCE_GRAINS = ['1m', '1h'] as const;
export type DivergenceGrain = (typeof DIVERGENCE_GRAINS)[number];
const STEP: Record<DivergenceGrain, string> = { '1m': `INTERVAL '1 minute'`, '1h': `INTERVAL '1 hour'` };

/** Alert defaults: |deviation| above this many bps … */
export const DEFAULT_MAX_BPS = 50;
/** … for at least this many consecutive times (minutes or hours). */
export const DEFAULT_CONSECUTIVE = 5;
/** Times an answer charts unless told (`limit`): a day of minutes. */
export const DEFAULT_TIMES = 1440;
/** Most episodes an answer lists (newest first); `alertsTotal` counts them all. */
export const MAX_ALERTS = 200;

/** Why the divergence panel has nothing to show when the model has not been built. */
export const DIVERGENCE_MISSING =
  'coinlake.fact_price_divergence has not been built in this warehouse: run `coinlake models run` (it compares the venues of each pair in ohlcv_1m and ohlcv_1h)';

/** A pair and grain the table holds. */
export interface DivergencePair {
  symbol: string;
  grain: DivergenceGrain;
  /** Venues with at least one row, sorted. */
  venues: string[];
  /** Distinct times. */
  times: number;
  from: string | null;
  to: string | null;
}

/** Every (symbol, grain) of fact_price_divergence with its venues; unavailable when the table does not exist. */
export async function divergencePairs(s: Session, t: WarehouseTables): Promise<{ available: true; pairs: DivergencePair[] } | Unavailable> {
  if (!hasDivergenceTable(t)) return { available: false, reason: DIVERGENCE_MISSING };
  const table = s.dialect.table(DATA_SCHEMA, TABLE);
  const rows = await s.query<{ symbol: string; grain: string; n: unknown; first: Date; last: Date }>(
    `SELECT symbol, grain, count(DISTINCT ts) AS n, min(ts) AS first, max(ts) AS last FROM ${table} GROUP BY symbol, grain ORDER BY symbol, grain`,
  );
  const venues = await s.query<{ symbol: string; grain: string; exchange: string }>(
    `SELECT DISTINCT symbol, grain, exchange FROM ${table} ORDER BY symbol, grain, exchange`,
  );
  return {
    available: true,
    pairs: rows
      .filter((r): r is typeof r & { grain: DivergenceGrain } => (DIVERGENCE_GRAINS as readonly string[]).includes(r.grain))
      .map((r) => ({
        symbol: r.symbol,
        grain: r.grain,
        venues: venues.filter((v) => v.symbol === r.symbol && v.grain === r.grain).map((v) => v.exchange),
        times: Number(r.n),
        from: iso(r.first),
        to: iso(r.last),
      })),
  };
}

/** True when the table holds rows of the pair at the grain (the table must exist: see divergencePairs). */
export async function holdsPair(s: Session, symbol: string, grain: DivergenceGrain): Promise<boolean> {
  const rows = await s.query(`SELECT 1 AS one FROM ${s.dialect.table(DATA_SCHEMA, TABLE)} WHERE grain = $1 AND symbol = $2 LIMIT 1`, [grain, symbol]);
  return rows.length > 0;
}

/** True when fact_price_divergence exists with the columns the page reads. */
export const hasDivergenceTable = (t: WarehouseTables): boolean => t.hasColumns(DATA_SCHEMA, TABLE, COLUMNS);

/** An episode: one venue's |deviation_bps| above the threshold at consecutive times (one step apart). */
export interface DivergenceAlert {
  exchange: string;
  from: string;
  to: string;
  /** Times in the episode. */
  length: number;
  maxAbsBps: number;
  /** True when the episode reaches the pair's latest time (it may still be going on). */
  open: boolean;
}

/** One pair at one grain: each venue's series, the median and spread per time, and the alert episodes. */
export interface DivergenceData {
  symbol: string;
  grain: DivergenceGrain;
  maxBps: number;
  consecutive: number;
  /** The pair's latest time at this grain (the whole table, not only the range shown). */
  latest: string | null;
  /** Per venue (sorted by name), its own times: a venue missing a time has no point there. */
  venues: { exchange: string; t: number[]; price: number[]; deviationBps: number[] }[];
  median: { t: number[]; values: number[] };
  spread: { t: number[]; values: number[] };
  /** Episodes of at least `consecutive` times over the pair's whole history, newest first (at most MAX_ALERTS). */
  alerts: DivergenceAlert[];
  alertsTotal: number;
}

/**
 * The newest `limit` times of a pair (oldest first) within the range, and its alert episodes over all its times:
 * a venue's |deviation_bps| > maxBps at ≥ consecutive times each one step (minute, hour) after the last.
 */
export async function divergence(
  s: Session,
  q: { symbol: string; grain: DivergenceGrain; maxBps: number; consecutive: number; limit: number } & TimeRange,
): Promise<DivergenceData> {
  const table = s.dialect.table(DATA_SCHEMA, TABLE);
  const params: unknown[] = [q.grain, q.symbol];
  const range = rangeSql('ts', q, params);
  params.push(q.limit);
  const rows = await s.query<{ ts: Date; exchange: string; price: unknown; median_price: unknown; deviation_bps: unknown; spread_bps: unknown }>(
    `SELECT ts, exchange, price, median_price, deviation_bps, spread_bps FROM ${table}
      WHERE grain = $1 AND symbol = $2${range}
        AND ts >= (SELECT min(ts) FROM (SELECT DISTINCT ts FROM ${table} WHERE grain = $1 AND symbol = $2${range} ORDER BY ts DESC LIMIT $${params.length}) newest)
      ORDER BY ts, exchange`,
    params,
  );
  const venues = new Map<string, DivergenceData['venues'][number]>();
  const median: DivergenceData['median'] = { t: [], values: [] };
  const spread: DivergenceData['spread'] = { t: [], values: [] };
  for (const r of rows) {
    const t = sec(r.ts);
    let v = venues.get(r.exchange);
    if (!v) venues.set(r.exchange, (v = { exchange: r.exchange, t: [], price: [], deviationBps: [] }));
    v.t.push(t);
    v.price.push(Number(r.price));
    v.deviationBps.push(Number(r.deviation_bps));
    // Every venue's row of a time carries the same median and spread: the first one gives them.
    if (median.t.at(-1) !== t) {
      median.t.push(t);
      median.values.push(Number(r.median_price));
      spread.t.push(t);
      spread.values.push(Number(r.spread_bps));
    }
  }
  const [{ latest }] = await s.query<{ latest: Date | null }>(`SELECT max(ts) AS latest FROM ${table} WHERE grain = $1 AND symbol = $2`, [q.grain, q.symbol]);
  const episodes = await alertEpisodes(s, q);
  return {
    symbol: q.symbol,
    grain: q.grain,
    maxBps: q.maxBps,
    consecutive: q.consecutive,
    latest: iso(latest),
    venues: [...venues.values()].sort((a, b) => (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0)),
    median,
    spread,
    alerts: episodes.rows.map((e) => ({ ...e, open: latest !== null && e.to === latest.toISOString() })),
    alertsTotal: episodes.total,
  };
}

/**
 * Gaps and islands: a venue's times above the threshold, each starting a new island unless the venue's previous such
 * time is exactly one step before it; islands of at least `consecutive` times are the episodes.
 */
async function alertEpisodes(
  s: Session,
  q: { symbol: string; grain: DivergenceGrain; maxBps: number; consecutive: number },
): Promise<{ rows: Omit<DivergenceAlert, 'open'>[]; total: number }> {
  const table = s.dialect.table(DATA_SCHEMA, TABLE);
  const rows = await s.query<{ exchange: string; first_ts: Date; last_ts: Date; n: unknown; max_abs: unknown; total: unknown }>(
    `WITH over AS (
       SELECT exchange, ts, abs(deviation_bps) AS abs_bps,
              CASE WHEN lag(ts) OVER (PARTITION BY exchange ORDER BY ts) = ts - ${STEP[q.grain]} THEN 0 ELSE 1 END AS starts
         FROM ${table}
        WHERE grain = $1 AND symbol = $2 AND abs(deviation_bps) > $3),
     islands AS (
       SELECT exchange, ts, abs_bps, sum(starts) OVER (PARTITION BY exchange ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
         FROM over),
     episodes AS (
       SELECT exchange, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS n, max(abs_bps) AS max_abs
         FROM islands GROUP BY exchange, island HAVING count(*) >= $4)
     SELECT exchange, first_ts, last_ts, n, max_abs, count(*) OVER () AS total FROM episodes
      ORDER BY last_ts DESC, exchange LIMIT $5`,
    [q.grain, q.symbol, q.maxBps, q.consecutive, MAX_ALERTS],
  );
  return {
    rows: rows.map((r) => ({ exchange: r.exchange, from: r.first_ts.toISOString(), to: r.last_ts.toISOString(), length: Number(r.n), maxAbsBps: Number(r.max_abs) })),
    total: rows.length ? Number(rows[0].total) : 0,
  };
}
