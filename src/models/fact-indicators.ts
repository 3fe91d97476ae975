// Model `fact_indicators`: technical indicators per (interval, exchange, symbol) over the candle tables ohlcv_1m,
// ohlcv_1h and ohlcv_1d, all in SQL that runs unchanged on DuckDB and PostgreSQL. Windowed indicators (SMA, Bollinger,
// simple RSI, log returns, volatility, VWAP) are window functions; the recursive ones (EMA, MACD and its signal,
// Wilder's RSI) are linear recurrences evaluated set-based in blocks (linear-recurrence.ts), not row by row.
// Incremental: per series, only the candles from the first one loaded after the last run onwards are recomputed,
// seeded from the last kept row (EMA-type states) and a lookback of the largest window (rolling indicators).
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { TableSpec } from '../core/table.ts';
import { ohlcv1mTable } from '../sources/ohlcv-table.ts';
import { BlockSql, f8, planBlocks, type Recurrence, type RecurrenceSource } from './linear-recurrence.ts';
import type { IndicatorParams, Model, ModelContext, ModelOutput } from './model.ts';
import { paramsText, readModelState, writeModelState } from './model-state.ts';

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
    /**
     * Whether the row's candle is complete: TRUE for minute candles, the rollup's is_complete for hours and days (an
     * hour rolled up from 41 of its 60 minutes is FALSE, and so are the indicators computed on it); NULL for candles
     * not rolled up from minutes (imported hour candles), whose completeness is not known.
     */
    { name: 'is_complete', type: 'boolean' },
    /** Candle number in its series, from 0; the states below seed the next incremental run. */
    { name: 'seq', type: 'bigint' },
    /** EMA(macdFast) and EMA(macdSlow) of close (macd = ema_fast − ema_slow). */
    num('ema_fast'),
    num('ema_slow'),
    /** Wilder's smoothed average gain and loss (rsi_wilder = 100 − 100 / (1 + gain/loss)); NULL before the seed. */
    num('wilder_avg_gain'),
    num('wilder_avg_loss'),
  ],
  primaryKey: ['interval', 'exchange', 'symbol', 'ts'],
};

const MODEL = 'fact_indicators';
/** The version of the rows' layout; a run over rows of another rebuilds them all. */
const LAYOUT = 2;
/** What layout LAYOUT added, for the run's detail. */
const LAYOUT_CHANGE = 'is_complete added';
const SOURCES: [string, string][] = [
  ['1m', 'ohlcv_1m'],
  ['1h', 'ohlcv_1h'],
  ['1d', 'ohlcv_1d'],
];
const TEMP = ['model_ind_changed', 'model_ind_kept', 'model_ind_series', 'model_ind_base', 'model_ind_win'];

function assertWindow(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigError(`indicator parameter ${name} must be a positive integer, got ${n}`, { field: name, hint: `give ${name} as a whole number of candles, 1 or more, e.g. --param ${name}=20` });
  }
}

/** Rows before the first recomputed candle that the rolling indicators need: max(window − 1, rsi, volatility). */
const lookbackRows = (p: IndicatorParams): number => Math.max(p.window - 1, p.rsi, p.volatility);

const emaAlpha = (span: number) => 2 / (span + 1);
/** y = (1 − α)·y + α·x for the EMA-type series; Wilder's α = 1/n. */
function recurrences(p: IndicatorParams) {
  const ema = (name: string, span: number): Recurrence & { alpha: number } => ({ name, alpha: emaAlpha(span), beta: 1 - emaAlpha(span) });
  return {
    ema: ema('ema', p.window),
    fast: ema('ema_fast', p.macdFast),
    slow: ema('ema_slow', p.macdSlow),
    gain: { name: 'avg_gain_w', alpha: 1 / p.rsi, beta: (p.rsi - 1) / p.rsi },
    loss: { name: 'avg_loss_w', alpha: 1 / p.rsi, beta: (p.rsi - 1) / p.rsi },
    signal: ema('macd_signal', p.macdSignal),
  };
}

const SERIES = ['"interval"', 'exchange', 'symbol'];
const sameSeries = (a: string, b: string) => SERIES.map((c) => `${a}.${c} = ${b}.${c}`).join(' AND ');

/**
 * Builds fact_indicators: incrementally (only each series' range from its first candle loaded after the last run)
 * when the last run used the same parameters, else (or with `full`, or when the table is empty) from scratch.
 * Candles deleted from the candle tables are not noticed by an incremental run: `full` rebuilds.
 */
async function buildIndicators(s: Session, p: IndicatorParams, runId: string, loadedAt: Date, full: boolean): Promise<ModelOutput> {
  for (const [k, v] of Object.entries(p)) if (k !== 'bollingerK') assertWindow(k, v);
  if (!Number.isFinite(p.bollingerK)) {
    throw new ConfigError(`indicator parameter bollingerK must be a number, got ${p.bollingerK}`, { field: 'bollingerK', hint: 'give it as a number of standard deviations, e.g. --param bollingerK=2' });
  }
  await s.ensureTable(ohlcv1mTable);
  await s.ensureTable(factIndicatorsTable);
  // The layout the stored rows were built for rides with the parameters: rows of an older layout are rebuilt once.
  const params = paramsText({ ...p, layout: LAYOUT });
  const state = await readModelState(s, MODEL);
  const stateLayout = state ? (JSON.parse(state.params) as { layout?: number }).layout : undefined;
  const empty = (await s.query(`SELECT 1 AS x FROM coinlake.fact_indicators LIMIT 1`)).length === 0;
  const why = full
    ? 'full (--full)'
    : !state
      ? 'full (first run)'
      : stateLayout !== LAYOUT
        ? `full (rows of an older layout: ${LAYOUT_CHANGE})`
        : state.params !== params
          ? 'full (parameters changed)'
          : empty
            ? 'full (table empty)'
            : undefined;
  const mark = why === undefined ? state!.loadedAt : undefined;
  if (mark === undefined) await s.exec(`DELETE FROM coinlake.fact_indicators`);
  for (const t of TEMP) await s.exec(`DROP TABLE IF EXISTS ${t}`);
  try {
    const series = await scopeSeries(s, p, mark);
    const rows = series === 0 ? 0 : await computeRows(s, p, runId, loadedAt, mark !== undefined);
    await writeModelState(s, MODEL, params, runId, loadedAt);
    return { rows, detail: why ?? `incremental: ${series} series with new candles` };
  } finally {
    for (const t of TEMP) await s.exec(`DROP TABLE IF EXISTS ${t}`);
  }
}

/**
 * The candles of the tables that exist (ohlcv_1h / ohlcv_1d exist once their models ran), as one relation with their
 * interval; a candle without a close has no indicators and no row.
 */
async function candleSource(s: Session): Promise<string> {
  const have = new Set(
    (await s.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'coinlake'`)).map((r) => r.table_name),
  );
  // Rollup tables carry is_complete once their model ran (a table only an import wrote may not have the column yet).
  const flagged = new Set(
    (await s.query<{ table_name: string }>(`SELECT table_name FROM information_schema.columns WHERE table_schema = 'coinlake' AND column_name = 'is_complete'`)).map((r) => r.table_name),
  );
  const complete = (iv: string, t: string) => (iv === '1m' ? 'TRUE' : flagged.has(t) ? 'is_complete' : 'CAST(NULL AS BOOLEAN)');
  const parts = SOURCES.filter(([, t]) => have.has(t)).map(
    ([iv, t]) => `SELECT CAST('${iv}' AS VARCHAR) AS "interval", exchange, symbol, ts, high, low, close, volume_base, ${complete(iv, t)} AS is_complete, _loaded_at FROM coinlake.${t} WHERE close IS NOT NULL`,
  );
  return `(${parts.join(' UNION ALL ')})`;
}

/** The UTC day of a timestamp as an integer (days since 1970-01-01), cheaper to partition by than date_trunc. */
const dayKey = (ts: string) => `CAST(floor(extract(epoch FROM ${ts}) / 86400) AS BIGINT)`;
const typical = (c: string) => `(${c}.high + ${c}.low + ${c}.close) / ${f8(3)}`;

/**
 * `model_ind_series`: one row per series to (re)compute, with its id, the first changed candle time, the anchor
 * (seq of the first row written), the lookback start (seq0, from_ts), the states of the last kept row and the VWAP
 * sums of the lookback start's day before it. Returns how many series there are.
 */
async function scopeSeries(s: Session, p: IndicatorParams, mark: Date | undefined): Promise<number> {
  const candles = await candleSource(s);
  const back = lookbackRows(p);
  // Series with a candle loaded after the last run (every series on a full run), from their earliest such candle.
  await s.exec(
    `CREATE TEMP TABLE model_ind_changed AS
     SELECT "interval", exchange, symbol, min(ts) AS first_ts FROM ${candles} c
      ${mark ? `WHERE _loaded_at > CAST($1 AS TIMESTAMPTZ)` : ''}
      GROUP BY "interval", exchange, symbol`,
    mark ? [mark.toISOString()] : [],
  );
  // The last kept row of each (its states seed the recurrences) and the first of the lookback before it.
  await s.exec(
    `CREATE TEMP TABLE model_ind_kept AS
     WITH last_kept AS (
       SELECT f."interval", f.exchange, f.symbol, max(f.seq) AS seq
         FROM coinlake.fact_indicators f JOIN model_ind_changed c ON ${sameSeries('f', 'c')}
        WHERE f.ts < c.first_ts GROUP BY f."interval", f.exchange, f.symbol),
     wanted AS (
       SELECT "interval", exchange, symbol, seq AS last_seq, seq AS want FROM last_kept
       UNION ALL SELECT "interval", exchange, symbol, seq, greatest(seq - ${back - 1}, 0) FROM last_kept)
     SELECT DISTINCT f."interval", f.exchange, f.symbol, f.ts, f.seq, k.last_seq,
            f.ema, f.ema_fast, f.ema_slow, f.macd_signal, f.wilder_avg_gain, f.wilder_avg_loss
       FROM coinlake.fact_indicators f JOIN wanted k ON f.seq = k.want AND ${sameSeries('f', 'k')}`,
  );
  const look = `(SELECT * FROM model_ind_kept WHERE seq = greatest(last_seq - ${back - 1}, 0))`;
  await s.exec(
    `CREATE TEMP TABLE model_ind_series AS
     WITH vwap_seed AS (
       SELECT l."interval", l.exchange, l.symbol, sum(${typical('c')} * c.volume_base) AS pv, sum(c.volume_base) AS vol
         FROM ${candles} c JOIN ${look} l ON ${sameSeries('c', 'l')}
        WHERE c.ts >= (SELECT min(ts) FROM model_ind_kept) - INTERVAL '1 day' AND c.ts < l.ts AND ${dayKey('c.ts')} = ${dayKey('l.ts')}
        GROUP BY l."interval", l.exchange, l.symbol)
     SELECT row_number() OVER (ORDER BY c."interval", c.exchange, c.symbol) AS sid, c."interval", c.exchange, c.symbol, c.first_ts,
            coalesce(k.seq + 1, 0) AS anchor, coalesce(l.seq, 0) AS seq0, l.ts AS from_ts,
            k.ema AS ema0, k.ema_fast AS fast0, k.ema_slow AS slow0, k.macd_signal AS signal0, k.wilder_avg_gain AS gain0, k.wilder_avg_loss AS loss0,
            ${dayKey('l.ts')} AS seed_day, coalesce(v.pv, ${f8(0)}) AS vwap_pv0, coalesce(v.vol, ${f8(0)}) AS vwap_vol0
       FROM model_ind_changed c
       LEFT JOIN model_ind_kept k ON ${sameSeries('k', 'c')} AND k.seq = k.last_seq
       LEFT JOIN ${look} l ON ${sameSeries('l', 'c')}
       LEFT JOIN vwap_seed v ON ${sameSeries('v', 'c')}`,
  );
  // Statistics of the (small) scope table: PostgreSQL does not analyze temp tables itself and plans much worse
  // without them; cheap on both engines.
  await s.exec(`ANALYZE model_ind_series`);
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM model_ind_series`);
  return Number(n);
}

/** Computes and writes the rows of the scoped series from their anchors on; returns how many. */
async function computeRows(s: Session, p: IndicatorParams, runId: string, loadedAt: Date, incremental: boolean): Promise<number> {
  const candles = await candleSource(s);
  const r = recurrences(p);
  const n = p.rsi;
  // Candles from each series' lookback start, numbered within the series; the UTC day as an integer (VWAP sessions).
  await s.exec(
    `CREATE TEMP TABLE model_ind_base AS
     SELECT s.sid, c.ts, ${dayKey('c.ts')} AS day_key, c.high, c.low, c.close, c.volume_base, c.is_complete,
            s.seq0 + row_number() OVER w - 1 AS seq,
            c.close - lag(c.close) OVER w AS diff,
            CASE WHEN c.close > 0 AND lag(c.close) OVER w > 0 THEN ln(c.close / lag(c.close) OVER w) END AS log_return
       FROM ${candles} c JOIN model_ind_series s ON ${sameSeries('c', 's')} AND (s.from_ts IS NULL OR c.ts >= s.from_ts)
     WINDOW w AS (PARTITION BY s.sid ORDER BY c.ts)`,
  );

  // Rolling windows, VWAP and the EMA-type values over close, gains and losses. Every candle has a close (base), so
  // a window is full from seq window − 1 on (diffs from seq 1); log returns can be missing (non-positive prices), so
  // volatility counts them.
  const rows = (k: number) => `(PARTITION BY b.sid ORDER BY b.seq ROWS BETWEEN ${k - 1} PRECEDING AND CURRENT ROW)`;
  const gain = `CASE WHEN b.diff IS NULL THEN NULL WHEN b.diff > 0 THEN b.diff ELSE ${f8(0)} END`;
  const loss = `CASE WHEN b.diff IS NULL THEN NULL WHEN b.diff < 0 THEN -b.diff ELSE ${f8(0)} END`;
  const session = `(PARTITION BY b.sid, b.day_key ORDER BY b.seq)`;
  // Incremental runs: the VWAP sums of the lookback's first day before the lookback start are added to that day.
  const seedDay = (c: string) => `CASE WHEN b.day_key = s.seed_day THEN s.${c} ELSE ${f8(0)} END`;
  const emaInput = (e: typeof r.ema, seed: string) => () =>
    `CASE WHEN b.seq < s.anchor THEN ${f8(0)} WHEN b.seq = s.anchor THEN coalesce(${f8(e.alpha)} * b.close + ${f8(e.beta)} * s.${seed}, b.close) ELSE ${f8(e.alpha)} * b.close END`;
  // Wilder: starts at seq n with the SMA of the first n changes (ws), or at the anchor from the kept state.
  const wilderInput = (x: string, seed: string, sma: string) => () =>
    `CASE WHEN b.seq < greatest(s.anchor, ${n}) THEN ${f8(0)} WHEN b.seq = ${n} THEN ws.${sma}
          WHEN b.seq = s.anchor THEN (s.${seed} * ${f8(n - 1)} + ${x}) / ${f8(n)} ELSE ${f8(r.gain.alpha)} * ${x} END`;
  const inputs: Record<string, () => string> = {
    [r.ema.name]: emaInput(r.ema, 'ema0'),
    [r.fast.name]: emaInput(r.fast, 'fast0'),
    [r.slow.name]: emaInput(r.slow, 'slow0'),
    [r.gain.name]: wilderInput(gain, 'gain0', 'g'),
    [r.loss.name]: wilderInput(loss, 'loss0', 'l'),
  };
  // The EMA-type values, complete (block partials + carry), in the same select.
  const first = planBlocks([r.ema, r.fast, r.slow, r.gain, r.loss]).map((g, i) => new BlockSql(g, `e${i}`));
  const ws = `(SELECT sid, avg(CASE WHEN diff > 0 THEN diff ELSE ${f8(0)} END) AS g, avg(CASE WHEN diff < 0 THEN -diff ELSE ${f8(0)} END) AS l
                 FROM model_ind_base WHERE seq BETWEEN 1 AND ${n} GROUP BY sid HAVING count(diff) = ${n})`;
  const scope = `JOIN model_ind_series s ON s.sid = b.sid LEFT JOIN ${ws} ws ON ws.sid = b.sid`;
  const src: RecurrenceSource = {
    from: `model_ind_base b ${scope}`,
    seq: 'b.seq',
    anchor: 's.anchor',
    series: 'b.sid',
    input: (x) => inputs[x.name](),
  };
  const value = (x: Recurrence) => first.find((g) => g.group.members.includes(x))!.value(x, src);
  // The rolling windows in a subquery of their own: narrow rows (PostgreSQL re-reads each frame from its tuplestore,
  // which spills to disk when the rows are wide).
  const rolling = `(SELECT b.*,
            CASE WHEN b.seq >= ${p.window - 1} THEN avg(b.close) OVER ${rows(p.window)} END AS sma,
            CASE WHEN b.seq >= ${p.window - 1} THEN stddev_samp(b.close) OVER ${rows(p.window)} END AS sd,
            CASE WHEN b.seq >= ${p.rsi} THEN avg(${gain}) OVER ${rows(p.rsi)} END AS avg_gain,
            CASE WHEN b.seq >= ${p.rsi} THEN avg(${loss}) OVER ${rows(p.rsi)} END AS avg_loss,
            CASE WHEN count(b.log_return) OVER ${rows(p.volatility)} = ${p.volatility} THEN stddev_samp(b.log_return) OVER ${rows(p.volatility)} END AS volatility
       FROM model_ind_base b) b`;
  await s.exec(
    `CREATE TEMP TABLE model_ind_win AS
     SELECT b.sid, b.seq, b.ts, b.close, b.is_complete, b.log_return, s.anchor, s.signal0, b.sma, b.sd, b.avg_gain, b.avg_loss, b.volatility,
            (${seedDay('vwap_pv0')} + sum(${typical('b')} * b.volume_base) OVER ${session})
              / NULLIF(${seedDay('vwap_vol0')} + sum(b.volume_base) OVER ${session}, 0) AS vwap,
            ${value(r.ema)} AS ema, ${value(r.fast)} AS ema_fast, ${value(r.slow)} AS ema_slow,
            ${value(r.gain)} AS wilder_gain, ${value(r.loss)} AS wilder_loss
       FROM ${rolling} ${scope} ${first.map((g) => g.join(src)).join(' ')}`,
  );
  await s.exec(`DROP TABLE model_ind_base`);

  // The signal line (an EMA of MACD) the same way over the rows written, then everything into the table.
  const signal = new BlockSql(planBlocks([r.signal])[0], 'es');
  const sigSrc: RecurrenceSource = {
    from: `(SELECT * FROM model_ind_win WHERE seq >= anchor) w`,
    seq: 'w.seq',
    anchor: 'w.anchor',
    series: 'w.sid',
    input: () =>
      `CASE WHEN w.seq = w.anchor THEN coalesce(${f8(r.signal.alpha)} * (w.ema_fast - w.ema_slow) + ${f8(r.signal.beta)} * w.signal0, w.ema_fast - w.ema_slow)
            ELSE ${f8(r.signal.alpha)} * (w.ema_fast - w.ema_slow) END`,
  };
  const sig = signal.value(r.signal, sigSrc);
  const rsi = (g: string, l: string) => `CASE WHEN ${l} = 0 THEN (CASE WHEN ${g} = 0 THEN NULL ELSE ${f8(100)} END) ELSE ${f8(100)} - ${f8(100)} / (${f8(1)} + ${g} / ${l}) END`;
  const wilder = (c: string) => `CASE WHEN w.seq >= ${n} THEN w.${c} END`;
  if (incremental) {
    await s.exec(
      // The bound on ts alone lets DuckDB skip the row groups that end before the first change (zone maps).
      `DELETE FROM coinlake.fact_indicators WHERE ts >= (SELECT min(first_ts) FROM model_ind_series) AND EXISTS (SELECT 1 FROM model_ind_series s
         WHERE ${sameSeries('s', 'coinlake.fact_indicators')} AND coinlake.fact_indicators.ts >= s.first_ts)`,
    );
  }
  return s.exec(
    `INSERT INTO coinlake.fact_indicators ("interval", exchange, symbol, ts, close, sma, ema, bb_upper, bb_lower, rsi_simple, rsi_wilder,
                                           macd, macd_signal, macd_hist, log_return, volatility, vwap,
                                           is_complete, seq, ema_fast, ema_slow, wilder_avg_gain, wilder_avg_loss, _run_id, _loaded_at)
     SELECT s."interval", s.exchange, s.symbol, w.ts, w.close, w.sma, w.ema,
            w.sma + ${f8(p.bollingerK)} * w.sd, w.sma - ${f8(p.bollingerK)} * w.sd,
            ${rsi('w.avg_gain', 'w.avg_loss')}, CASE WHEN w.seq >= ${n} THEN ${rsi('w.wilder_gain', 'w.wilder_loss')} END,
            w.ema_fast - w.ema_slow, ${sig}, (w.ema_fast - w.ema_slow) - ${sig},
            w.log_return, w.volatility, w.vwap,
            w.is_complete, w.seq, w.ema_fast, w.ema_slow, ${wilder('wilder_gain')}, ${wilder('wilder_loss')}, $1, CAST($2 AS TIMESTAMPTZ)
       FROM ${sigSrc.from} JOIN model_ind_series s ON s.sid = w.sid ${signal.join(sigSrc)}`,
    [runId, loadedAt.toISOString()],
  );
}

export const factIndicatorsModel: Model = {
  name: MODEL,
  description: 'SMA, EMA, Bollinger, RSI (simple and Wilder), MACD, log returns, volatility and VWAP per series and interval (incremental)',
  dependsOn: ['ohlcv_1h', 'ohlcv_1d'],
  run: ({ session, indicators, runId, loadedAt, full }: ModelContext) => buildIndicators(session, indicators, runId, loadedAt, full),
};
