// Model `fact_indicators`: technical indicators per (interval, exchange, symbol) over the candle tables ohlcv_1m,
// ohlcv_1h and ohlcv_1d, all in SQL that runs unchanged on DuckDB and PostgreSQL. Windowed indicators (SMA, Bollinger,
// simple RSI, log returns, volatility, VWAP) are window functions; the recursive ones (EMA, MACD and its signal,
// Wilder's RSI) are one recursive CTE that walks each series candle by candle. Full rebuild on every run.
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';
import { ohlcv1mTable } from '../sources/ohlcv-table.ts';
import type { IndicatorParams, Model, ModelContext } from './model.ts';

const num = (name: string) => ({ name, type: 'double' as const });

/** `coinlake.fact_indicators`: one row per candle. */
export const factIndicatorsTable: TableSpec = {
  schema: 'coinlake',
  name: 'fact_indicators',
  columns: [
    { name: 'interval', type: 'varchar' },
    { name: 'exchange', type: 'varchar' },
    { name: 'symbol', type: 'varchar' },
    { name: 'ts', type: 'timestamptz' },
    num('close'),
    /** Simple moving average of close over `window` candles; NULL until the window is full. */
    num('sma'),
    /** EMA of close, span `window`, pandas `adjust=False`: seeded with the first close, then a·x + (1−a)·prev. */
    num('ema'),
    /** sma ± k·(sample standard deviation, n−1) over `window` candles. */
    num('bb_upper'),
    num('bb_lower'),
    /** RSI from simple rolling means of gains and losses over `rsi` changes (pandas rolling). */
    num('rsi_simple'),
    /** RSI with Wilder's smoothing: SMA seed over the first `rsi` changes, then (prev·(n−1) + x)/n. */
    num('rsi_wilder'),
    /** EMA(fast) − EMA(slow), both adjust=False; signal = EMA(signal span) of macd seeded with the first macd. */
    num('macd'),
    num('macd_signal'),
    num('macd_hist'),
    /** ln(close / previous close). */
    num('log_return'),
    /** Sample standard deviation of log returns over `volatility` returns; NULL until full. */
    num('volatility'),
    /** Session VWAP: cumulative Σ(typical price · base volume) / Σ base volume since the UTC day began. */
    num('vwap'),
  ],
  primaryKey: ['interval', 'exchange', 'symbol', 'ts'],
};

const SOURCES: [string, string][] = [
  ['1m', 'ohlcv_1m'],
  ['1h', 'ohlcv_1h'],
  ['1d', 'ohlcv_1d'],
];

/** A double constant as SQL: JS's shortest round-trip text, cast, so both engines hold the identical double. */
const f8 = (x: number) => `CAST(${String(x)} AS DOUBLE PRECISION)`;

function assertWindow(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`indicator parameter ${name} must be a positive integer, got ${n}`);
}

/** Rebuilds fact_indicators from the candle tables with the given windows. */
export async function buildIndicators(s: Session, p: IndicatorParams, runId: string, loadedAt: Date): Promise<number> {
  for (const [k, v] of Object.entries(p)) if (k !== 'bollingerK') assertWindow(k, v);
  await s.ensureTable(ohlcv1mTable);
  await s.ensureTable(factIndicatorsTable);
  const series = `"interval", exchange, symbol`;
  await s.exec(`DROP TABLE IF EXISTS model_ind_base`);
  await s.exec(`DROP TABLE IF EXISTS model_ind_win`);
  // Only candle tables that exist take part (ohlcv_1h / ohlcv_1d exist once their models ran).
  const have = new Set(
    (await s.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'coinlake'`)).map((r) => r.table_name),
  );
  const parts = SOURCES.filter(([, t]) => have.has(t)).map(
    ([iv, t]) => `SELECT CAST('${iv}' AS VARCHAR) AS "interval", exchange, symbol, ts, high, low, close, volume_base FROM coinlake.${t}`,
  );
  await s.exec(
    `CREATE TEMP TABLE model_ind_base AS
     SELECT c.*, row_number() OVER (PARTITION BY ${series} ORDER BY ts) - 1 AS rn,
            c.close - lag(c.close) OVER (PARTITION BY ${series} ORDER BY ts) AS diff,
            ln(c.close / lag(c.close) OVER (PARTITION BY ${series} ORDER BY ts)) AS log_return
       FROM (${parts.join(' UNION ALL ')}) c`,
  );
  const rows = (n: number) => `(PARTITION BY ${series} ORDER BY ts ROWS BETWEEN ${n - 1} PRECEDING AND CURRENT ROW)`;
  const gain = `CASE WHEN diff IS NULL THEN NULL WHEN diff > 0 THEN diff ELSE ${f8(0)} END`;
  const loss = `CASE WHEN diff IS NULL THEN NULL WHEN diff < 0 THEN -diff ELSE ${f8(0)} END`;
  const typical = `(high + low + close) / ${f8(3)}`;
  await s.exec(
    `CREATE TEMP TABLE model_ind_win AS
     SELECT ${series}, ts, rn, close, log_return, ${gain} AS gain, ${loss} AS loss,
            CASE WHEN count(close) OVER ${rows(p.window)} = ${p.window} THEN avg(close) OVER ${rows(p.window)} END AS sma,
            CASE WHEN count(close) OVER ${rows(p.window)} = ${p.window} THEN stddev_samp(close) OVER ${rows(p.window)} END AS sd,
            CASE WHEN count(diff) OVER ${rows(p.rsi)} = ${p.rsi} THEN avg(${gain}) OVER ${rows(p.rsi)} END AS avg_gain,
            CASE WHEN count(diff) OVER ${rows(p.rsi)} = ${p.rsi} THEN avg(${loss}) OVER ${rows(p.rsi)} END AS avg_loss,
            CASE WHEN count(log_return) OVER ${rows(p.volatility)} = ${p.volatility} THEN stddev_samp(log_return) OVER ${rows(p.volatility)} END AS volatility,
            sum(${typical} * volume_base) OVER (PARTITION BY ${series}, date_trunc('day', ts) ORDER BY ts ROWS UNBOUNDED PRECEDING)
              / NULLIF(sum(volume_base) OVER (PARTITION BY ${series}, date_trunc('day', ts) ORDER BY ts ROWS UNBOUNDED PRECEDING), 0) AS vwap
       FROM model_ind_base`,
  );
  await s.exec(`CREATE INDEX model_ind_win_key ON model_ind_win ("interval", exchange, symbol, rn)`);
  const ema = (span: number, x: string, prev: string) => {
    const a = 2 / (span + 1);
    return `(${f8(a)} * ${x} + ${f8(1 - a)} * ${prev})`;
  };
  const fast = ema(p.macdFast, 'b.close', 'r.ema_fast');
  const slow = ema(p.macdSlow, 'b.close', 'r.ema_slow');
  const n = p.rsi;
  const wilder = (col: string, prev: string) =>
    `CASE WHEN b.rn = ${n} THEN b.avg_${col} WHEN b.rn > ${n} THEN (${prev} * ${f8(n - 1)} + b.${col}) / ${f8(n)} END`;
  const rsi = (g: string, l: string) => `CASE WHEN ${l} = 0 THEN (CASE WHEN ${g} = 0 THEN NULL ELSE ${f8(100)} END) ELSE ${f8(100)} - ${f8(100)} / (${f8(1)} + ${g} / ${l}) END`;
  await s.exec(`DELETE FROM coinlake.fact_indicators`);
  return s.exec(
    `INSERT INTO coinlake.fact_indicators ("interval", exchange, symbol, ts, close, sma, ema, bb_upper, bb_lower, rsi_simple, rsi_wilder,
                                           macd, macd_signal, macd_hist, log_return, volatility, vwap, _run_id, _loaded_at)
     WITH RECURSIVE r AS (
       SELECT ${series}, rn, close AS ema, close AS ema_fast, close AS ema_slow, ${f8(0)} AS macd_signal,
              CAST(NULL AS DOUBLE PRECISION) AS wilder_gain, CAST(NULL AS DOUBLE PRECISION) AS wilder_loss
         FROM model_ind_win WHERE rn = 0
       UNION ALL
       SELECT b."interval", b.exchange, b.symbol, b.rn,
              ${ema(p.window, 'b.close', 'r.ema')}, ${fast}, ${slow},
              ${ema(p.macdSignal, `(${fast} - ${slow})`, 'r.macd_signal')},
              ${wilder('gain', 'r.wilder_gain')}, ${wilder('loss', 'r.wilder_loss')}
         FROM r JOIN model_ind_win b ON b."interval" = r."interval" AND b.exchange = r.exchange AND b.symbol = r.symbol AND b.rn = r.rn + 1
     )
     SELECT w."interval", w.exchange, w.symbol, w.ts, w.close, w.sma, r.ema,
            w.sma + ${f8(p.bollingerK)} * w.sd, w.sma - ${f8(p.bollingerK)} * w.sd,
            ${rsi('w.avg_gain', 'w.avg_loss')}, ${rsi('r.wilder_gain', 'r.wilder_loss')},
            r.ema_fast - r.ema_slow, r.macd_signal, (r.ema_fast - r.ema_slow) - r.macd_signal,
            w.log_return, w.volatility, w.vwap, $1, CAST($2 AS TIMESTAMPTZ)
       FROM model_ind_win w JOIN r ON r."interval" = w."interval" AND r.exchange = w.exchange AND r.symbol = w.symbol AND r.rn = w.rn`,
    [runId, loadedAt.toISOString()],
  ).finally(async () => {
    await s.exec(`DROP TABLE IF EXISTS model_ind_win`);
    await s.exec(`DROP TABLE IF EXISTS model_ind_base`);
  });
}

export const factIndicatorsModel: Model = {
  name: 'fact_indicators',
  description: 'SMA, EMA, Bollinger, RSI (simple and Wilder), MACD, log returns, volatility and VWAP per series and interval',
  dependsOn: ['ohlcv_1h', 'ohlcv_1d'],
  run: ({ session, indicators, runId, loadedAt }: ModelContext) => buildIndicators(session, indicators, runId, loadedAt),
};
