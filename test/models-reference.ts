// Shared by the models tests: deterministic candles, and the independent plain-TS references the SQL models are checked
// against (rollups, every indicator), with the tolerance rule the checks use.
import { expect } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import type { IndicatorParams } from '../src/models/model.ts';
import { ohlcv1mTable } from '../src/sources/ohlcv-table.ts';

export const T0 = Date.UTC(2024, 0, 1, 22, 0); // synthetic series start: 2 h before a UTC day boundary
export const MIN = 60_000;

export type Candle = { exchange: string; symbol: string; ts: Date; open: number; high: number; low: number; close: number; volume_base: number; volume_quote: number; trade_count: number | null };

export interface SyntheticOptions {
  symbol?: string;
  /** Multiplies prices by this power of two (exact in binary); default 1. */
  scale?: number;
  seed?: number;
  /** Price step amplitude before scaling; default 4 (steps of ±2). */
  step?: number;
}

/**
 * Deterministic synthetic minute candles number `from` … `from + n − 1` of one series; prices and volumes are multiples
 * of 1/64 (times `scale`) so every sum of a rollup is exact in binary.
 */
export function synthetic(n: number, from = 0, o: SyntheticOptions = {}): Candle[] {
  const out: Candle[] = [];
  let seed = o.seed ?? 7;
  const scale = o.scale ?? 1;
  const step = o.step ?? 4;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  let price = 100;
  for (let i = 0; i < from + n; i++) {
    const open = price;
    const close = Math.max(1, Math.round((open + (rnd() - 0.5) * step) * 64) / 64);
    const high = Math.max(open, close) + Math.round(rnd() * 64) / 64;
    const low = Math.min(open, close) - Math.round(rnd() * 64) / 64;
    const volume_base = Math.round(rnd() * 640) / 64;
    const c = {
      exchange: 'testex', symbol: o.symbol ?? 'AAA-USDT', ts: new Date(T0 + i * MIN),
      open: open * scale, high: high * scale, low: low * scale, close: close * scale,
      volume_base, volume_quote: volume_base * 4, trade_count: i % 7 === 3 ? null : i % 50,
    };
    price = close;
    if (i >= from) out.push(c);
  }
  return out;
}

/** Inserts candles into coinlake.ohlcv_1m with the given lineage (`_loaded_at` now unless given). */
export async function insertCandles(s: Session, rows: Candle[], runId: string, loadedAt = new Date()): Promise<void> {
  await s.ensureTable(ohlcv1mTable);
  const stg = await s.stage(ohlcv1mTable, rows, { runId, processId: 0, loadedAt });
  const cols = ['exchange', 'symbol', 'ts', 'open', 'high', 'low', 'close', 'volume_base', 'volume_quote', 'trade_count', '_run_id', '_loaded_at'].join(', ');
  await s.exec(`INSERT INTO coinlake.ohlcv_1m (${cols}) SELECT ${cols} FROM ${stg}`);
  await s.dropStaging(stg);
}

/** Rollup computed here from minute candles (open of first, close of last). */
export function rollupReference(rows: Candle[], bucketMs: number): Candle[] {
  const out = new Map<string, Candle>();
  for (const c of [...rows].sort((a, b) => a.ts.getTime() - b.ts.getTime())) {
    const ts = new Date(Math.floor(c.ts.getTime() / bucketMs) * bucketMs);
    const key = `${c.exchange}|${c.symbol}|${ts.getTime()}`;
    const b = out.get(key);
    if (!b) out.set(key, { ...c, ts });
    else {
      b.high = Math.max(b.high, c.high);
      b.low = Math.min(b.low, c.low);
      b.close = c.close;
      b.volume_base += c.volume_base;
      b.volume_quote += c.volume_quote;
      // SQL's sum skips NULLs and is NULL only when every value is.
      b.trade_count = b.trade_count === null && c.trade_count === null ? null : (b.trade_count ?? 0) + (c.trade_count ?? 0);
    }
  }
  return [...out.values()];
}

export type Ind = Record<string, number | null>;

/** The indicators of one series, in plain sequential loops: the reference the SQL model is checked against. */
export function indicatorsReference(c: { ts: Date; high: number; low: number; close: number; volume_base: number }[], p: IndicatorParams): Ind[] {
  const out: Ind[] = [];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sampleSd = (xs: number[]) => {
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  };
  const rsiOf = (g: number, l: number) => (l === 0 ? (g === 0 ? null : 100) : 100 - 100 / (1 + g / l));
  const alpha = (span: number) => 2 / (span + 1);
  let ema = 0, fast = 0, slow = 0, signal = 0, wg = 0, wl = 0;
  let vwapDay = -1, pv = 0, vol = 0;
  const gains: number[] = [], losses: number[] = [], rets: number[] = [];
  for (let i = 0; i < c.length; i++) {
    const x = c[i].close;
    if (i === 0) {
      ema = fast = slow = x;
      signal = 0;
    } else {
      ema = alpha(p.window) * x + (1 - alpha(p.window)) * ema;
      fast = alpha(p.macdFast) * x + (1 - alpha(p.macdFast)) * fast;
      slow = alpha(p.macdSlow) * x + (1 - alpha(p.macdSlow)) * slow;
      signal = alpha(p.macdSignal) * (fast - slow) + (1 - alpha(p.macdSignal)) * signal;
      const d = x - c[i - 1].close;
      gains.push(Math.max(d, 0));
      losses.push(Math.max(-d, 0));
      rets.push(Math.log(x / c[i - 1].close));
    }
    const win = c.slice(Math.max(0, i - p.window + 1), i + 1).map((r) => r.close);
    const sma = win.length === p.window ? mean(win) : null;
    const sd = win.length === p.window ? sampleSd(win) : null;
    let rsiSimple: number | null = null, rsiWilder: number | null = null;
    let avgGain: number | null = null, avgLoss: number | null = null;
    if (gains.length >= p.rsi) {
      const g = mean(gains.slice(-p.rsi)), l = mean(losses.slice(-p.rsi));
      rsiSimple = rsiOf(g, l);
      if (gains.length === p.rsi) [wg, wl] = [g, l];
      else [wg, wl] = [(wg * (p.rsi - 1) + gains.at(-1)!) / p.rsi, (wl * (p.rsi - 1) + losses.at(-1)!) / p.rsi];
      rsiWilder = rsiOf(wg, wl);
      [avgGain, avgLoss] = [wg, wl];
    }
    const day = Math.floor(c[i].ts.getTime() / 86_400_000);
    if (day !== vwapDay) [vwapDay, pv, vol] = [day, 0, 0];
    pv += ((c[i].high + c[i].low + x) / 3) * c[i].volume_base;
    vol += c[i].volume_base;
    out.push({
      close: x, sma, ema,
      bb_upper: sma === null ? null : sma + p.bollingerK * sd!,
      bb_lower: sma === null ? null : sma - p.bollingerK * sd!,
      rsi_simple: rsiSimple, rsi_wilder: rsiWilder,
      macd: fast - slow, macd_signal: signal, macd_hist: fast - slow - signal,
      log_return: i === 0 ? null : rets.at(-1)!,
      volatility: rets.length >= p.volatility ? sampleSd(rets.slice(-p.volatility)) : null,
      vwap: vol === 0 ? null : pv / vol,
      seq: i, ema_fast: fast, ema_slow: slow, wilder_avg_gain: avgGain, wilder_avg_loss: avgLoss,
    });
  }
  return out;
}

export const IND_COLUMNS = ['close', 'sma', 'ema', 'bb_upper', 'bb_lower', 'rsi_simple', 'rsi_wilder', 'macd', 'macd_signal', 'macd_hist', 'log_return', 'volatility', 'vwap'];
/** The columns that seed incremental runs. */
export const STATE_COLUMNS = ['seq', 'ema_fast', 'ema_slow', 'wilder_avg_gain', 'wilder_avg_loss'];

/**
 * Below which magnitude a column's error is measured absolutely, per row. Most columns: never (pure relative error).
 * Differences of price-level quantities (MACD and its signal and histogram, the Bollinger bands) carry the rounding of
 * the price level, in any evaluation order, the sequential reference's included: below 1/1000 of the close, their
 * error is held to tol × close/1000 instead. RSI lives on 0…100: below 0.001 points, absolute.
 */
function floorOf(col: string, row: Ind): number {
  if (['macd', 'macd_signal', 'macd_hist', 'bb_upper', 'bb_lower'].includes(col)) return Math.abs(row.close ?? 0) * 1e-3;
  if (col === 'rsi_simple' || col === 'rsi_wilder') return 1e-3;
  return 0;
}

/** Relative difference within tol (see floorOf for near-zero values), NULL only against NULL; `want` carries `close`. */
export function expectClose(got: Ind[], want: Ind[], cols: string[], label: string, tol = 1e-9): void {
  expect(got.length, label).toBe(want.length);
  const bad: string[] = [];
  got.forEach((g, i) => {
    for (const k of cols) {
      const a = want[i][k], b = g[k];
      const ok = a === null || b === null ? a === b : Math.abs(a - b) <= tol * Math.max(Math.abs(a), floorOf(k, want[i]));
      if (!ok) bad.push(`${label} row ${i} ${k}: want ${a}, got ${b}`);
    }
  });
  expect(bad.slice(0, 10)).toEqual([]);
}

export const indicatorRows = (s: Session, where: string, cols = IND_COLUMNS) =>
  s.query<Ind & { ts: Date }>(`SELECT ts, ${cols.join(', ')} FROM coinlake.fact_indicators WHERE ${where} ORDER BY ts`);

export const candleRows = (s: Session, table: string, where = 'TRUE') =>
  s.query<Candle>(`SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count FROM coinlake.${table} WHERE ${where} ORDER BY exchange, symbol, ts`);
