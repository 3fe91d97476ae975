// Deterministic Binance klines for the replay server: every candle is a pure function of
// (symbol, interval, openTime), so any window can be generated alone and two processes serve the same bytes.
// A few short "maintenance" windows have no candles, so gap reports have something to find.
import {
  nextOpenTime,
  openTimeAtOrAfter,
  openTimeAtOrBefore,
  type CandleInterval,
} from '../../core/candle-interval.ts';
import { unitFraction } from '../../replay/deterministic-numbers.ts';
import { anchorLevel, assetWalk } from '../../replay/market-walk.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Symbols the replay server knows by default (others answer 400 "Invalid symbol."). */
export const REPLAY_BINANCE_SYMBOLS = [
  'BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT', 'LTCUSDT',
  'DOTUSDT', 'TRXUSDT', 'LINKUSDT', 'AVAXUSDT', 'ETHBTC', 'BNBBTC',
] as const;

/** A replayed symbol's base and quote assets (BTCUSDT → BTC, USDT; ETHBTC → ETH, BTC). */
function assetsOf(symbol: string): [string, string] {
  const quote = ['USDT', 'USDC', 'BTC', 'ETH', 'BNB'].find((q) => symbol.endsWith(q) && symbol.length > q.length) ?? 'USDT';
  return [symbol.slice(0, symbol.length - quote.length), quote];
}

/** A kline as Binance sends it: 12 fields, prices and volumes as strings with 8 decimals. */
export type Kline = [number, string, string, string, string, string, number, string, number, string, string, string];

/**
 * Maintenance windows: on every UTC day whose index since the epoch is 7 mod 10, 02:00–02:30 has no trading.
 * A candle is missing when it lies entirely inside such a window (so 1m and 30m candles go missing, 1h ones do not).
 */
export function inMaintenance(openTime: number, closeTimeExclusive: number): boolean {
  const day = Math.floor(openTime / DAY);
  if (day % 10 !== 7) return false;
  const start = day * DAY + 2 * 60 * MINUTE;
  return openTime >= start && closeTimeExclusive <= start + 30 * MINUTE;
}

/** True when the replay series has a candle opening at `openTime` (a grid point of `interval`). */
export function klineExists(interval: CandleInterval, openTime: number): boolean {
  return !inMaintenance(openTime, nextOpenTime(openTime, interval));
}

/**
 * Mid price of `symbol` at `timeMs` (on the minute grid): its base asset's walk over its quote's, shared with the other
 * replayed venues and passing through the recorded snapshot's prices at the end of 2024 (src/replay/market-walk.ts).
 */
export function klinePrice(symbol: string, timeMs: number): number {
  const [base, quote] = assetsOf(symbol);
  return assetWalk(base, quote, timeMs);
}

/** Rounds to a tick that keeps about 7 significant digits, as exchange tick sizes do. */
function toTick(value: number, reference: number): number {
  const decimals = Math.min(8, Math.max(2, 6 - Math.floor(Math.log10(reference))));
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

const fixed8 = (v: number) => v.toFixed(8);

/** The kline of `symbol` opening at `openTime`: open is the price at the open, close the price at the next open. */
export function kline(symbol: string, interval: CandleInterval, openTime: number): Kline {
  const next = nextOpenTime(openTime, interval);
  const ref = anchorLevel(...assetsOf(symbol));
  const open = toTick(klinePrice(symbol, openTime), ref);
  const close = toTick(klinePrice(symbol, next), ref);
  const key = `${symbol}:${interval}:${openTime}`;
  const high = toTick(Math.max(open, close) * (1 + 0.002 * unitFraction(key, 'high')), ref);
  const low = toTick(Math.min(open, close) * (1 - 0.002 * unitFraction(key, 'low')), ref);
  const minutes = (next - openTime) / MINUTE;
  const volume = Math.round((1 + 99 * unitFraction(key, 'volume')) * Math.sqrt(minutes) * 1e5) / 1e5;
  const quote = Math.round(volume * ((open + close) / 2) * 1e8) / 1e8;
  const trades = 1 + Math.floor(unitFraction(key, 'trades') * 3000 * Math.sqrt(minutes));
  const takerShare = 0.3 + 0.4 * unitFraction(key, 'taker');
  const takerBase = Math.round(volume * takerShare * 1e5) / 1e5;
  const takerQuote = Math.round(quote * takerShare * 1e8) / 1e8;
  return [openTime, fixed8(open), fixed8(high), fixed8(low), fixed8(close), fixed8(volume), next - 1, fixed8(quote), trades, fixed8(takerBase), fixed8(takerQuote), '0'];
}

/**
 * Open times of the existing candles with startMs ≤ openTime ≤ endMs (both inclusive, as Binance's startTime/endTime),
 * ascending, at most `limit`.
 */
export function klineOpenTimes(interval: CandleInterval, startMs: number, endMs: number, limit = Infinity): number[] {
  const out: number[] = [];
  for (let t = openTimeAtOrAfter(startMs, interval); t <= endMs && out.length < limit; t = nextOpenTime(t, interval)) {
    if (klineExists(interval, t)) out.push(t);
  }
  return out;
}

/** The most recent `limit` candle open times at or before endMs and at or after startMs, ascending. */
export function latestKlineOpenTimes(interval: CandleInterval, startMs: number, endMs: number, limit: number): number[] {
  const out: number[] = [];
  for (let t = openTimeAtOrBefore(endMs, interval); t >= startMs && out.length < limit; t = previousOpenTime(t, interval)) {
    if (klineExists(interval, t)) out.push(t);
  }
  return out.reverse();
}

function previousOpenTime(openTime: number, interval: CandleInterval): number {
  return openTimeAtOrBefore(openTime - 1, interval);
}
