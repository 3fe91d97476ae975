// Model `fact_price_divergence` (#25 item 3, the candle venues): how far each venue's price strays from the others, per
// pair and minute (from ohlcv_1m) and per pair and hour (from ohlcv_1h). For every (grain, symbol, ts) the venues'
// closes give the cross-venue median, and each venue's row has its deviation from it in basis points, the max–min
// spread of that time in basis points, and the z-score of its deviation against its own deviations of the trailing
// window (a time window: a venue's missing minutes shorten it, they do not stretch it). Portable SQL, the same numbers
// on DuckDB and PostgreSQL. Incremental: per symbol, the times from the first candle loaded after the last run are
// recomputed, reading one window further back for the z-scores.
import type { TableSpec } from '../core/table.ts';
import { ohlcv1mTable } from '../sources/ohlcv-table.ts';
import type { Model, ModelContext, ModelOutput } from './model.ts';
import { paramsText, readModelState, writeModelState } from './model-state.ts';

const num = (name: string) => ({ name, type: 'double' as const });

/** `coinlake.fact_price_divergence`: one row per grain, symbol, time and venue. */
export const factPriceDivergenceTable: TableSpec = {
  schema: 'coinlake',
  name: 'fact_price_divergence',
  columns: [
    /** `1m` (from ohlcv_1m) or `1h` (from ohlcv_1h). */
    { name: 'grain', type: 'varchar' },
    /** Canonical pair `BASE-QUOTE`. */
    { name: 'symbol', type: 'varchar' },
    { name: 'ts', type: 'timestamptz' },
    /** The venue (`exchange` of the candle tables). */
    { name: 'exchange', type: 'varchar' },
    /** The venue's close. */
    num('price'),
    /** Venues with a close at this time. */
    { name: 'venues', type: 'integer' },
    /** Median of the venues' closes (the mean of the middle two for an even number). */
    num('median_price'),
    /** (price − median) / median × 10,000. */
    num('deviation_bps'),
    /** (max − min of the venues' closes) / median × 10,000; 0 with one venue. */
    num('spread_bps'),
    /**
     * (deviation − mean) / sample standard deviation, both over this venue's deviations in the trailing window (this
     * time and the WINDOW − 1 minutes or hours before it); NULL with fewer than 2 of them or no spread among them
     * (a standard deviation of at most MIN_SD_BPS: deviations equal but for rounding, whose z-score would be noise).
     */
    num('zscore'),
  ],
  primaryKey: ['grain', 'symbol', 'ts', 'exchange'],
};

const MODEL = 'fact_price_divergence';
/** A standard deviation of deviations at or below this many bps is none (rounding noise of equal deviations). */
export const MIN_SD_BPS = 1e-6;
/** Minutes (or hours) of a venue's trailing window for its z-score. */
export const DIVERGENCE_WINDOW = 60;
const GRAINS: { grain: string; table: string; unit: string }[] = [
  { grain: '1m', table: 'ohlcv_1m', unit: 'minute' },
  { grain: '1h', table: 'ohlcv_1h', unit: 'hour' },
];
const TEMP = ['model_div_changed', 'model_div_stats'];

/** Quotes a snapshot's USD price stands beside (stablecoins at par: a depeg shows as divergence). */
export const USD_QUOTES = ['USD', 'USDT', 'USDC', 'BUSD', 'DAI', 'TUSD', 'FDUSD'];
/** Each USD-quoted exchange pair (symbol) with its asset in the bridge. */
const USD_PAIRS = `SELECT DISTINCT source_id AS symbol, asset_id FROM coinlake.bridge_asset_source
  WHERE source LIKE 'exchange:%' AND split_part(source_id, '-', 2) IN (${USD_QUOTES.map((q) => `'${q}'`).join(', ')})`;

/** Where the model keeps the pair → asset mapping its snapshot venues were built with (a model_state row of its own). */
const IDENTITY_STATE = `${MODEL}:identity`;

/** Each USD-quoted pair's asset in the bridge now (the pairs the snapshot venues stand beside), as sorted JSON text. */
async function usdPairAssets(s: ModelContext['session']): Promise<Record<string, string>> {
  const rows = await s.query<{ symbol: string; asset_id: string }>(`${USD_PAIRS} ORDER BY 1, 2`);
  const out: Record<string, string> = {};
  // A pair two venues list under one symbol has one asset per venue; '|' joins them (any change shows).
  for (const r of rows) out[r.symbol] = out[r.symbol] === undefined ? r.asset_id : `${out[r.symbol]}|${r.asset_id}`;
  return out;
}

async function build({ session: s, runId, loadedAt, full }: ModelContext): Promise<ModelOutput> {
  await s.ensureTable(ohlcv1mTable);
  await s.ensureTable(factPriceDivergenceTable);
  // layout 2: the snapshot sources joined the venues.
  const params = paramsText({ window: DIVERGENCE_WINDOW, layout: 2 });
  const state = await readModelState(s, MODEL);
  const why = full ? 'full (--full)' : !state ? 'full (first run)' : state.params !== params ? 'full (parameters changed)' : undefined;
  const mark = why === undefined ? state!.loadedAt : undefined;
  if (mark === undefined) await s.exec(`DELETE FROM coinlake.fact_price_divergence`);
  const have = new Set((await s.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'coinlake'`)).map((r) => r.table_name));
  let rows = 0;
  let symbols = 0;
  const snapshots = have.has('fact_asset_snapshot') && have.has('bridge_asset_source');
  // Pairs whose asset changed since the last run (a pin, a forbid, a new coin): their snapshot venues are rebuilt.
  const mapping = snapshots ? await usdPairAssets(s) : {};
  const before = mark ? await readModelState(s, IDENTITY_STATE) : undefined;
  const old: Record<string, string> = before ? (JSON.parse(before.params) as Record<string, string>) : {};
  const remapped = mark ? [...new Set([...Object.keys(mapping), ...Object.keys(old)])].filter((p) => mapping[p] !== old[p]).sort() : [];
  for (const g of GRAINS.filter((x) => have.has(x.table))) {
    for (const t of TEMP) await s.exec(`DROP TABLE IF EXISTS ${t}`);
    try {
      const out = await buildGrain(s, g, mark, runId, loadedAt, snapshots, remapped);
      rows += out.rows;
      symbols += out.symbols;
    } finally {
      for (const t of TEMP) await s.exec(`DROP TABLE IF EXISTS ${t}`);
    }
  }
  await writeModelState(s, MODEL, params, runId, loadedAt);
  await writeModelState(s, IDENTITY_STATE, paramsText(mapping), runId, loadedAt);
  const moved = remapped.length ? `; ${remapped.length} pair(s) of another asset since the last run, rebuilt` : '';
  return { rows, detail: why ?? `incremental: ${symbols} symbol(s) with new prices (candles or snapshots)${moved}` };
}

/**
 * The prices of one grain as venues: the candles' closes, and, when the star schema is built, each snapshot source's
 * USD price (fact_asset_snapshot, the latest of the minute or hour per source) beside every USD-quoted pair of the same
 * asset (bridge_asset_source), at the times that pair has a candle. Columns: symbol, ts, exchange, close, _loaded_at.
 */
function pricesOf(table: string, unit: string, snapshots: boolean): string {
  const candles = `SELECT symbol, ts, exchange, close, _loaded_at FROM ${table} WHERE close IS NOT NULL`;
  if (!snapshots) return `(${candles})`;
  const at = `date_trunc('${unit}', f.snapshot_time)`;
  return `(${candles}
     UNION ALL
     SELECT symbol, ts, exchange, close, _loaded_at FROM (
       SELECT p.symbol, ${at} AS ts, f.source AS exchange, f.price_usd AS close, f._loaded_at,
              row_number() OVER (PARTITION BY p.symbol, ${at}, f.source ORDER BY f.snapshot_time DESC, f.source_id) AS k
         FROM coinlake.fact_asset_snapshot f
         JOIN (${USD_PAIRS}) p ON p.asset_id = f.asset_id
        WHERE f.price_usd IS NOT NULL AND f.snapshot_time IS NOT NULL
          AND EXISTS (SELECT 1 FROM ${table} c WHERE c.symbol = p.symbol AND c.ts = ${at} AND c.close IS NOT NULL)) snap
      WHERE k = 1)`;
}

/** Recomputes one grain's rows from each changed symbol's first changed time; returns the rows written and the symbols. */
async function buildGrain(
  s: ModelContext['session'],
  g: (typeof GRAINS)[number],
  mark: Date | undefined,
  runId: string,
  loadedAt: Date,
  snapshots: boolean,
  remapped: string[] = [],
): Promise<{ rows: number; symbols: number }> {
  const table = `coinlake.${g.table}`;
  const source = pricesOf(table, g.unit, snapshots);
  const back = `INTERVAL '${DIVERGENCE_WINDOW - 1} ${g.unit}s'`;
  // Changed: each symbol from its first price loaded after the last run, and a remapped pair from its first candle.
  const again = remapped.map((_, i) => s.dialect.param(i + 2)).join(', ');
  await s.exec(
    `CREATE TEMP TABLE model_div_changed AS
     SELECT symbol, min(first_ts) AS first_ts FROM (
       SELECT symbol, min(ts) AS first_ts FROM ${source} AS p
        WHERE close IS NOT NULL ${mark ? `AND _loaded_at > CAST($1 AS TIMESTAMPTZ)` : ''}
        GROUP BY symbol${
          mark && remapped.length
            ? `
       UNION ALL
       SELECT symbol, min(ts) FROM ${table} WHERE close IS NOT NULL AND symbol IN (${again}) GROUP BY symbol`
            : ''
        }) c
      GROUP BY symbol`,
    mark ? [mark.toISOString(), ...remapped] : [],
  );
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM model_div_changed`);
  if (Number(n) === 0) return { rows: 0, symbols: 0 };
  // The venues' median, extremes and count per time, from one window before the first change on.
  await s.exec(
    `CREATE TEMP TABLE model_div_stats AS
     SELECT m.symbol, m.ts, CAST(count(*) AS INTEGER) AS venues, percentile_cont(0.5) WITHIN GROUP (ORDER BY m.close) AS median_price,
            max(m.close) AS hi, min(m.close) AS lo
       FROM ${source} m JOIN model_div_changed c ON c.symbol = m.symbol AND m.ts >= c.first_ts - ${back}
      WHERE m.close IS NOT NULL
      GROUP BY m.symbol, m.ts`,
  );
  await s.exec(
    `DELETE FROM coinlake.fact_price_divergence WHERE grain = '${g.grain}' AND EXISTS (SELECT 1 FROM model_div_changed c
       WHERE c.symbol = coinlake.fact_price_divergence.symbol AND coinlake.fact_price_divergence.ts >= c.first_ts)`,
  );
  const dev = `(m.close - st.median_price) / st.median_price * 10000`;
  const rows = await s.exec(
    `INSERT INTO coinlake.fact_price_divergence (grain, symbol, ts, exchange, price, venues, median_price, deviation_bps, spread_bps, zscore, _run_id, _loaded_at)
     SELECT '${g.grain}', d.symbol, d.ts, d.exchange, d.price, d.venues, d.median_price, d.deviation_bps, d.spread_bps,
            CASE WHEN d.n >= 2 AND d.sd > ${MIN_SD_BPS} THEN (d.deviation_bps - d.mean) / d.sd END, $1, CAST($2 AS TIMESTAMPTZ)
       FROM (SELECT m.symbol, m.ts, m.exchange, m.close AS price, st.venues, st.median_price,
                    ${dev} AS deviation_bps, (st.hi - st.lo) / st.median_price * 10000 AS spread_bps,
                    count(*) OVER w AS n, avg(${dev}) OVER w AS mean, stddev_samp(${dev}) OVER w AS sd
               FROM ${source} m JOIN model_div_stats st ON st.symbol = m.symbol AND st.ts = m.ts
              WHERE m.close IS NOT NULL AND st.median_price <> 0
             WINDOW w AS (PARTITION BY m.symbol, m.exchange ORDER BY m.ts RANGE BETWEEN ${back} PRECEDING AND CURRENT ROW)) d
       JOIN model_div_changed c ON c.symbol = d.symbol AND d.ts >= c.first_ts`,
    [runId, loadedAt.toISOString()],
  );
  return { rows, symbols: Number(n) };
}

export const factPriceDivergenceModel: Model = {
  name: MODEL,
  description: `each venue's price against the cross-venue median per pair and minute (and hour): deviation and spread in bps, z-score over ${DIVERGENCE_WINDOW} minutes (incremental)`,
  // fact_asset_snapshot (and through it the bridge) for the snapshot venues.
  dependsOn: ['ohlcv_1h', 'fact_asset_snapshot'],
  run: build,
};
