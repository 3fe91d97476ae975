// Deterministic price history for any asset id: each point is a pure function of (id, time),
// so a window can be generated on its own without materialising the whole series.
import { decimalString, unitFraction } from '../../replay/deterministic-numbers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** CoinCap's history intervals and their step in ms; all divide a UTC day, so the grid is epoch-aligned. */
export const historyIntervals = {
  m1: MINUTE,
  m5: 5 * MINUTE,
  m15: 15 * MINUTE,
  m30: 30 * MINUTE,
  h1: HOUR,
  h2: 2 * HOUR,
  h6: 6 * HOUR,
  h12: 12 * HOUR,
  d1: DAY,
} as const;

export type HistoryInterval = keyof typeof historyIntervals;

export function isHistoryInterval(value: string): value is HistoryInterval {
  return Object.hasOwn(historyIntervals, value);
}

export interface HistoryPoint {
  priceUsd: string;
  time: number;
  circulatingSupply: string;
  date: string;
}

/** A run of `count` grid points `stepMs` apart starting at `firstMs`. */
export interface HistoryWindow {
  stepMs: number;
  firstMs: number;
  /** Number of points; 0 when the window is empty. */
  count: number;
}

/**
 * The grid points of `interval` that lie inside both the served range [rangeStart, rangeEnd)
 * and the requested window [start, end). Arithmetic only, so huge ranges cost nothing.
 */
export function historyWindow(
  interval: HistoryInterval,
  range: { startMs: number; endMs: number },
  request?: { startMs: number; endMs: number },
): HistoryWindow {
  const stepMs = historyIntervals[interval];
  const from = Math.max(range.startMs, request?.startMs ?? -Infinity);
  const to = Math.min(range.endMs, request?.endMs ?? Infinity);
  const firstMs = Math.ceil(from / stepMs) * stepMs;
  const count = to > firstMs ? Math.ceil((to - firstMs) / stepMs) : 0;
  return { stepMs, firstMs, count };
}

/** Price in USD of `assetId` at `timeMs`: a per-id base level times slow and fast sine waves. */
export function historyPrice(assetId: string, timeMs: number): number {
  const base = 10 ** (unitFraction(assetId, 'history-exp') * 5 - 1);
  const phase = unitFraction(assetId, 'history-phase') * 2 * Math.PI;
  const t = timeMs / DAY;
  const factor =
    1 +
    0.3 * Math.sin((2 * Math.PI * t) / 365 + phase) +
    0.08 * Math.sin((2 * Math.PI * t) / 29 + 2 * phase) +
    0.02 * Math.sin(2 * Math.PI * t * 3 + phase);
  return base * factor;
}

/** Circulating supply of `assetId` at `timeMs`: a per-id amount growing about 2% a year. */
export function historySupply(assetId: string, timeMs: number): number {
  const base = 1e6 + unitFraction(assetId, 'history-supply') * 1e9;
  return Math.floor(base * (1 + (0.02 * timeMs) / (365 * DAY)));
}

export function historyPoint(assetId: string, timeMs: number): HistoryPoint {
  return {
    priceUsd: decimalString(historyPrice(assetId, timeMs)),
    time: timeMs,
    circulatingSupply: decimalString(historySupply(assetId, timeMs)),
    date: new Date(timeMs).toISOString(),
  };
}

/** The points of a window in time order, produced one at a time. */
export function* historyPoints(assetId: string, window: HistoryWindow): Generator<HistoryPoint> {
  for (let i = 0; i < window.count; i++) yield historyPoint(assetId, window.firstMs + i * window.stepMs);
}
