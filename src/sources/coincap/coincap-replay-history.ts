// Deterministic price history for any asset: a random walk anchored at the recorded snapshot (price, supply), each
// point a pure function of (id, time, anchor), so a window can be generated on its own without the whole series.
import { decimalString, hashString, unitFraction } from '../../replay/deterministic-numbers.ts';

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

/** 32-bit integer mixer (lowbias32): spreads a key's bits so neighbouring keys give unrelated values. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A standard normal value, a pure function of (seed, a, b) (Box–Muller on two hashed uniforms). */
function gauss(seed: number, a: number, b: number): number {
  const k = mix(seed ^ mix((a | 0) ^ Math.imul(b | 0, 0x9e3779b1)));
  const u = (mix(k ^ 0x68e31da4) + 0.5) / 0x1_0000_0000;
  const v = mix(k ^ 0x1b56c4e9) / 0x1_0000_0000;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Daily volatility of the log price: 2.5 % for the top asset, 3–4 % for the next nine, 3.5–5.5 % below, 0.1 % for a stablecoin. */
export function dailyVolatility(assetId: string, anchor: HistoryAnchor): number {
  if (anchor.stable) return 0.001;
  if (anchor.rank <= 1) return 0.025;
  if (anchor.rank <= 10) return 0.03 + 0.01 * unitFraction(assetId, 'history-volatility');
  return 0.035 + 0.02 * unitFraction(assetId, 'history-volatility');
}

/** One asset's walk: its seed and volatility, day levels outward from the anchor's day, and a few bridged days. */
interface Walk {
  seed: number;
  sigma: number;
  anchorDay: number;
  /** Log level at day anchorDay + i (after) and anchorDay - i (before); index 0 is the anchor's day (0). */
  after: number[];
  before: number[];
  /** Per day: the log level at each hour (25 values, the day's start to the next day's start). */
  hours: Map<number, Float64Array>;
  /** Per hour (ms): the log level at each minute (61 values). */
  minutes: Map<number, Float64Array>;
  /** Log level at the anchor time, subtracted so the anchor is exactly the snapshot. */
  offset: number;
}

const walks = new Map<string, Walk>();
/** Bridged days and hours kept per walk: a window is generated in time order, so a few suffice. */
const BRIDGES_KEPT = 64;

function walkOf(assetId: string, anchor: HistoryAnchor): Walk {
  const sigma = dailyVolatility(assetId, anchor);
  const key = `${assetId}|${sigma}|${anchor.atMs}`;
  let w = walks.get(key);
  if (!w) {
    if (walks.size > 4096) walks.clear();
    w = { seed: hashString(`history-walk:${assetId}`), sigma, anchorDay: Math.floor(anchor.atMs / DAY), after: [0], before: [0], hours: new Map(), minutes: new Map(), offset: 0 };
    walks.set(key, w);
    w.offset = walkLevel(w, anchor.atMs);
  }
  return w;
}

/** Log level at the start of day `day`: a Gaussian step per day, extended outward from the anchor's day as needed. */
function dayLevel(w: Walk, day: number): number {
  const i = day - w.anchorDay;
  if (i >= 0) {
    while (w.after.length <= i) w.after.push(w.after[w.after.length - 1] + w.sigma * gauss(w.seed, w.anchorDay + w.after.length, -1));
    return w.after[i];
  }
  while (w.before.length <= -i) w.before.push(w.before[w.before.length - 1] - w.sigma * gauss(w.seed, w.anchorDay - w.before.length + 1, -1));
  return w.before[-i];
}

/** A Brownian bridge of `steps` Gaussian steps of size `sd` from `from` to `to`, keyed by (a, b). */
function bridge(seed: number, a: number, b: number, steps: number, sd: number, from: number, to: number): Float64Array {
  const path = new Float64Array(steps + 1);
  for (let i = 1; i <= steps; i++) path[i] = path[i - 1] + sd * gauss(seed, a, b + i);
  const end = path[steps];
  for (let i = 0; i <= steps; i++) path[i] = from + path[i] - (i / steps) * (end - (to - from));
  return path;
}

function kept<T>(cache: Map<number, T>, key: number, make: () => T): T {
  let v = cache.get(key);
  if (v === undefined) {
    if (cache.size >= BRIDGES_KEPT) cache.delete(cache.keys().next().value!);
    v = make();
    cache.set(key, v);
  }
  return v;
}

/** Log level of the walk at `timeMs` (on the minute grid): day levels, bridged by hour, then by minute. */
function walkLevel(w: Walk, timeMs: number): number {
  const day = Math.floor(timeMs / DAY);
  const hourMs = Math.floor(timeMs / HOUR) * HOUR;
  const hour = (hourMs - day * DAY) / HOUR;
  const minute = Math.floor((timeMs - hourMs) / MINUTE);
  if (hour === 0 && minute === 0) return dayLevel(w, day);
  const hours = kept(w.hours, day, () => bridge(w.seed, day, 1_000, 24, w.sigma / Math.sqrt(24), dayLevel(w, day), dayLevel(w, day + 1)));
  if (minute === 0) return hours[hour];
  const minutes = kept(w.minutes, hourMs, () => bridge(w.seed, day, 2_000 + hour * 100, 60, w.sigma / Math.sqrt(24 * 60), hours[hour], hours[hour + 1]));
  return minutes[minute];
}

/**
 * Price in USD of `assetId` at `timeMs`: the snapshot price at the anchor, a random walk of the log price away from
 * it (a stablecoin: small noise around it). Deterministic: the same (id, time, anchor) always gives the same price.
 */
export function historyPrice(assetId: string, timeMs: number, anchor: HistoryAnchor): number {
  if (anchor.stable) return anchor.priceUsd * (1 + 0.001 * Math.max(-3, Math.min(3, gauss(hashString(`history-stable:${assetId}`), Math.floor(timeMs / MINUTE), 0))));
  const w = walkOf(assetId, anchor);
  return anchor.priceUsd * Math.exp(walkLevel(w, timeMs) - w.offset);
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
