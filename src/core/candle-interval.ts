// Candle intervals (Binance's names) and the UTC grid their open times lie on: fixed steps from the
// epoch, weeks from Monday 00:00, months from the 1st. Shared by sources, the replay server and gap reports.
import { ConfigError } from './errors.ts';

/** Interval names as Binance spells them (case-sensitive: `1m` is a minute, `1M` a month). */
export const CANDLE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'] as const;
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** 1970-01-05, the first Monday after the epoch: weekly candles open on Mondays. */
const FIRST_MONDAY = 4 * DAY;

const FIXED_MS: Record<Exclude<CandleInterval, '1M'>, number> = {
  '1s': SECOND,
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': HOUR,
  '2h': 2 * HOUR,
  '4h': 4 * HOUR,
  '6h': 6 * HOUR,
  '8h': 8 * HOUR,
  '12h': 12 * HOUR,
  '1d': DAY,
  '3d': 3 * DAY,
  '1w': WEEK,
};

export function isCandleInterval(value: string): value is CandleInterval {
  return (CANDLE_INTERVALS as readonly string[]).includes(value);
}

/** Checks an interval name; the error lists the valid ones. */
export function parseCandleInterval(value: string): CandleInterval {
  if (!isCandleInterval(value)) throw new ConfigError(`unknown candle interval "${value}"`, { hint: `use one of ${CANDLE_INTERVALS.join(', ')}` });
  return value;
}

/** Nominal length in ms (a month counts 30 days); exact for every interval but `1M`. For sizing, not for the grid. */
export function intervalMs(interval: CandleInterval): number {
  return interval === '1M' ? 30 * DAY : FIXED_MS[interval];
}

function monthIndex(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

function monthStart(index: number): number {
  return Date.UTC(Math.floor(index / 12), index % 12, 1);
}

/** The open time of the candle that contains `ms` (the grid point at or before it). */
export function openTimeAtOrBefore(ms: number, interval: CandleInterval): number {
  if (interval === '1M') return monthStart(monthIndex(ms));
  const step = FIXED_MS[interval];
  const offset = interval === '1w' ? FIRST_MONDAY : 0;
  return Math.floor((ms - offset) / step) * step + offset;
}

/** The first grid point at or after `ms`. */
export function openTimeAtOrAfter(ms: number, interval: CandleInterval): number {
  const before = openTimeAtOrBefore(ms, interval);
  return before === ms ? ms : nextOpenTime(before, interval);
}

/** The open time of the candle after the one opening at `openTime`. */
export function nextOpenTime(openTime: number, interval: CandleInterval): number {
  return interval === '1M' ? monthStart(monthIndex(openTime) + 1) : openTime + FIXED_MS[interval];
}

/** Number of grid points in [startMs, endMs): the candles a complete series holds for that window. */
export function candleCount(startMs: number, endMs: number, interval: CandleInterval): number {
  const first = openTimeAtOrAfter(startMs, interval);
  if (first >= endMs) return 0;
  if (interval === '1M') return monthIndex(openTimeAtOrBefore(endMs - 1, interval)) - monthIndex(first) + 1;
  return Math.floor((endMs - 1 - first) / FIXED_MS[interval]) + 1;
}

/** Table suffix of an interval: `1m` → `1m`, `1M` → `1mo` (table names are case-insensitive). */
export function intervalTableSuffix(interval: CandleInterval): string {
  return interval === '1M' ? '1mo' : interval;
}
