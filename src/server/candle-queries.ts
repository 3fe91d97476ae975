// Candles for the page (coinlake.ohlcv_<interval>) and, when the analytics models made it, their indicators from
// coinlake.fact_indicators; nothing is computed here. Parameterised SQL; names only from allow-lists.
import type { Session } from '../core/destination.ts';
import { CANDLE_INTERVALS, type CandleInterval } from '../core/candle-interval.ts';
import { DATA_SCHEMA } from '../catalog/meta-tables.ts';
import { ohlcvTableName } from '../sources/ohlcv-table.ts';
import { iso, num, rangeSql, sec, type TimeRange, type Unavailable } from './query-parts.ts';
import type { WarehouseTables } from './warehouse-tables.ts';

const OHLCV_COLUMNS = ['exchange', 'symbol', 'ts', 'open', 'high', 'low', 'close', 'volume_base'];
/** Candle tables by name → their interval (`ohlcv_1h` → `1h`, `ohlcv_1mo` → `1M`). */
const CANDLE_TABLES = new Map<string, CandleInterval>(CANDLE_INTERVALS.map((i) => [ohlcvTableName(i), i]));

/** A symbol and interval with candles. */
export interface CandleSeriesInfo {
  exchange: string;
  symbol: string;
  interval: CandleInterval;
  candles: number;
  from: string | null;
  to: string | null;
}

/** Every (exchange, symbol, interval) that has candles, from the `ohlcv_<interval>` tables that exist. */
export async function candleCatalog(s: Session, t: WarehouseTables): Promise<CandleSeriesInfo[]> {
  const out: CandleSeriesInfo[] = [];
  for (const [name, interval] of CANDLE_TABLES) {
    if (!t.hasColumns(DATA_SCHEMA, name, OHLCV_COLUMNS)) continue;
    const rows = await s.query<{ exchange: string; symbol: string; n: unknown; first: Date; last: Date }>(
      `SELECT exchange, symbol, count(*) AS n, min(ts) AS first, max(ts) AS last FROM ${s.dialect.table(DATA_SCHEMA, name)}
        GROUP BY exchange, symbol ORDER BY exchange, symbol`,
    );
    for (const r of rows) out.push({ exchange: r.exchange, symbol: r.symbol, interval, candles: Number(r.n), from: iso(r.first), to: iso(r.last) });
  }
  return out;
}

/** Indicator columns of fact_indicators by where the page draws them. */
const INDICATOR_PATTERNS: { group: 'overlay' | 'rsi' | 'macd'; re: RegExp }[] = [
  { group: 'overlay', re: /^(sma|ema)(_\d+)?$/ },
  { group: 'overlay', re: /^(bb|bollinger)_(upper|middle|mid|lower)(_\d+)?$/ },
  { group: 'rsi', re: /^rsi(_[a-z0-9]+)*$/ },
  { group: 'macd', re: /^macd(_(signal|hist|histogram|line))?(_\d+)*$/ },
];
const INDICATOR_TIME = ['ts', 'time', 'open_time'];

/** Indicator series aligned to the candles' times (null where the model has no value), or why there are none. */
export type IndicatorSeries =
  | { available: true; overlay: Record<string, (number | null)[]>; rsi: Record<string, (number | null)[]>; macd: Record<string, (number | null)[]> }
  | Unavailable;

/** The candles of one series and, when the models made `fact_indicators`, its indicators. */
export interface CandleData {
  exchange: string;
  symbol: string;
  interval: CandleInterval;
  t: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: (number | null)[];
  indicators: IndicatorSeries;
}

/**
 * The newest `limit` candles of a symbol and interval (oldest first) within the range, with their indicators. Without
 * `fact_indicators` (the analytics models) nothing is computed here: the indicators say why they are absent.
 */
export async function candles(
  s: Session,
  t: WarehouseTables,
  q: { exchange: string; symbol: string; interval: CandleInterval; limit: number } & TimeRange,
): Promise<CandleData | undefined> {
  const name = ohlcvTableName(q.interval);
  if (!t.hasColumns(DATA_SCHEMA, name, OHLCV_COLUMNS)) return undefined;
  const params: unknown[] = [q.exchange, q.symbol];
  const where = `exchange = $1 AND symbol = $2${rangeSql('ts', q, params)}`;
  params.push(q.limit);
  const rows = await s.query<{ ts: Date; open: number; high: number; low: number; close: number; volume_base: number | null }>(
    `SELECT ts, open, high, low, close, volume_base FROM ${s.dialect.table(DATA_SCHEMA, name)} WHERE ${where} ORDER BY ts DESC LIMIT $${params.length}`,
    params,
  );
  rows.reverse();
  const data: CandleData = {
    exchange: q.exchange,
    symbol: q.symbol,
    interval: q.interval,
    t: rows.map((r) => sec(r.ts)),
    open: rows.map((r) => Number(r.open)),
    high: rows.map((r) => Number(r.high)),
    low: rows.map((r) => Number(r.low)),
    close: rows.map((r) => Number(r.close)),
    volume: rows.map((r) => num(r.volume_base)),
    indicators: { available: false, reason: '' },
  };
  data.indicators = await indicatorSeries(s, t, q, rows.map((r) => r.ts));
  return data;
}

async function indicatorSeries(s: Session, t: WarehouseTables, q: { exchange: string; symbol: string; interval: CandleInterval }, times: Date[]): Promise<IndicatorSeries> {
  if (!t.has(DATA_SCHEMA, 'fact_indicators')) {
    return {
      available: false,
      reason: 'the analytics models (fact_indicators) have not been built in this warehouse, and the dashboard computes none itself',
    };
  }
  const cols = t.columnsOf(DATA_SCHEMA, 'fact_indicators');
  const timeColumn = INDICATOR_TIME.find((c) => cols.has(c));
  if (!timeColumn || !cols.has('symbol')) return { available: false, reason: 'fact_indicators has no symbol and time (ts) columns the dashboard understands' };
  const picked = [...cols].flatMap((c) => {
    const p = INDICATOR_PATTERNS.find((x) => x.re.test(c));
    return p ? [{ column: c, group: p.group }] : [];
  });
  if (picked.length === 0) return { available: false, reason: 'fact_indicators has no SMA/EMA/Bollinger/RSI/MACD columns the dashboard understands' };
  const out = { available: true as const, overlay: {} as Record<string, (number | null)[]>, rsi: {} as Record<string, (number | null)[]>, macd: {} as Record<string, (number | null)[]> };
  for (const p of picked) out[p.group][p.column] = times.map(() => null);
  if (times.length === 0) return out;
  const params: unknown[] = [q.symbol, times[0], times[times.length - 1]];
  let where = `symbol = $1 AND ${s.dialect.ident(timeColumn)} >= $2 AND ${s.dialect.ident(timeColumn)} <= $3`;
  if (cols.has('exchange')) where += ` AND exchange = $${params.push(q.exchange)}`;
  if (cols.has('interval')) where += ` AND ${s.dialect.ident('interval')} = $${params.push(q.interval)}`;
  const rows = await s.query<Record<string, unknown>>(
    `SELECT ${s.dialect.ident(timeColumn)} AS t, ${picked.map((p) => s.dialect.ident(p.column)).join(', ')} FROM ${s.dialect.table(DATA_SCHEMA, 'fact_indicators')} WHERE ${where}`,
    params,
  );
  const index = new Map(times.map((d, i) => [d.getTime(), i]));
  for (const r of rows) {
    const i = r.t instanceof Date ? index.get(r.t.getTime()) : undefined;
    if (i === undefined) continue;
    for (const p of picked) out[p.group][p.column][i] = num(r[p.column]);
  }
  return out;
}
