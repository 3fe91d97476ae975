// Deterministic price history for any asset: a random walk anchored at the recorded snapshot (price, supply), each
// point a pure function of (id, time, anchor), so a window can be generated on its own without the whole series.
import { decimalString, hashString, unitFraction } from '../../replay/deterministic-numbers.ts';
import { gauss, walkLogReturn } from '../../replay/market-walk.ts';

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

/**
 * What a generated series passes through: the asset as the recorded snapshot has it, at `atMs`. The series is a
 * random walk anchored there, so the history ends at the snapshot's price and supply.
 */
export interface HistoryAnchor {
  priceUsd: number;
  supply: number;
  /** Circulating supply never exceeds it. */
  maxSupply?: number;
  rank: number;
  /** A stablecoin stays within a few tenths of a percent of its snapshot price. */
  stable: boolean;
  atMs: number;
}

/** A number field of a CoinCap record (decimal string), or undefined when absent or not a positive number. */
function positive(value: unknown): number | undefined {
  const n = Number(value);
  return value !== null && value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The anchor of `asset`'s series: its snapshot values at the last hour of the served range (the replay's "now"),
 * so every interval's series up to the range's end finishes at the snapshot.
 */
export function historyAnchor(asset: Record<string, unknown>, range: { endMs: number }): HistoryAnchor {
  const priceUsd = positive(asset.priceUsd) ?? 1;
  return {
    priceUsd,
    supply: positive(asset.supply) ?? 1e6,
    maxSupply: positive(asset.maxSupply),
    rank: positive(asset.rank) ?? 1000,
    stable: Math.abs(priceUsd - 1) < 0.02 && /USD|DAI/i.test(String(asset.symbol ?? '')),
    atMs: Math.ceil(range.endMs / HOUR) * HOUR - HOUR,
  };
}

/** Daily volatility of the log price: 2.5 % for the top asset, 3–4 % for the next nine, 3.5–5.5 % below, 0.1 % for a stablecoin. */
export function dailyVolatility(assetId: string, anchor: HistoryAnchor): number {
  if (anchor.stable) return 0.001;
  if (anchor.rank <= 1) return 0.025;
  if (anchor.rank <= 10) return 0.03 + 0.01 * unitFraction(assetId, 'history-volatility');
  return 0.035 + 0.02 * unitFraction(assetId, 'history-volatility');
}

/**
 * Price in USD of `assetId` at `timeMs`: the snapshot price at the anchor, a random walk of the log price away from
 * it (a stablecoin: small noise around it). Deterministic: the same (id, time, anchor) always gives the same price.
 */
export function historyPrice(assetId: string, timeMs: number, anchor: HistoryAnchor): number {
  if (anchor.stable) return anchor.priceUsd * (1 + 0.001 * Math.max(-3, Math.min(3, gauss(hashString(`history-stable:${assetId}`), Math.floor(timeMs / MINUTE), 0))));
  return anchor.priceUsd * Math.exp(walkLogReturn(hashString(`history-walk:${assetId}`), dailyVolatility(assetId, anchor), anchor.atMs, timeMs));
}

/**
 * Circulating supply of `assetId` at `timeMs`: the snapshot supply at the anchor, growing 0.5–4 % a year (issuance),
 * slower as it nears the max supply (bitcoin: about 0.9 % a year), never above the max supply.
 */
export function historySupply(assetId: string, timeMs: number, anchor: HistoryAnchor): number {
  const headroom = anchor.maxSupply === undefined ? Infinity : Math.max(0, 0.15 * Math.log(anchor.maxSupply / anchor.supply));
  const growth = Math.min(headroom, 0.005 + 0.035 * unitFraction(assetId, 'history-supply-growth'));
  const supply = anchor.supply * Math.exp((growth * (timeMs - anchor.atMs)) / (365 * DAY));
  const capped = anchor.maxSupply === undefined ? supply : Math.min(supply, anchor.maxSupply);
  return capped >= 1000 ? Math.floor(capped) : Number(capped.toFixed(4));
}

export function historyPoint(assetId: string, timeMs: number, anchor: HistoryAnchor): HistoryPoint {
  return {
    priceUsd: decimalString(historyPrice(assetId, timeMs, anchor)),
    time: timeMs,
    circulatingSupply: decimalString(historySupply(assetId, timeMs, anchor)),
    date: new Date(timeMs).toISOString(),
  };
}

/** The points of a window in time order, produced one at a time. */
export function* historyPoints(assetId: string, window: HistoryWindow, anchor: HistoryAnchor): Generator<HistoryPoint> {
  for (let i = 0; i < window.count; i++) yield historyPoint(assetId, window.firstMs + i * window.stepMs, anchor);
}
