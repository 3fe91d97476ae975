// A deterministic random walk of a log price, for the replay server's generated markets: day levels stepped outward
// from an anchor day, bridged by hour, then by minute (Brownian bridges), so any minute is a pure function of
// (seed, volatility, anchor time, time) and a window can be generated on its own without the whole series. CoinCap's
// asset history, Binance's klines and the ccxt exchanges' candles all walk this way; the venues share one walk per
// asset (`assetWalk`), so their prices move together as real markets' do.
import { hashString, unitFraction } from './deterministic-numbers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

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
export function gauss(seed: number, a: number, b: number): number {
  const k = mix(seed ^ mix((a | 0) ^ Math.imul(b | 0, 0x9e3779b1)));
  const u = (mix(k ^ 0x68e31da4) + 0.5) / 0x1_0000_0000;
  const v = mix(k ^ 0x1b56c4e9) / 0x1_0000_0000;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** One walk: its seed and daily volatility, day levels outward from the anchor's day, and a few bridged days. */
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
  /** Log level at the anchor time, subtracted so the walk is 0 there. */
  offset: number;
}

const walks = new Map<string, Walk>();
/** Bridged days and hours kept per walk: a window is generated in time order, so a few suffice. */
const BRIDGES_KEPT = 64;

function walkOf(seed: number, sigma: number, atMs: number): Walk {
  const key = `${seed}|${sigma}|${atMs}`;
  let w = walks.get(key);
  if (!w) {
    if (walks.size > 4096) walks.clear();
    w = { seed, sigma, anchorDay: Math.floor(atMs / DAY), after: [0], before: [0], hours: new Map(), minutes: new Map(), offset: 0 };
    walks.set(key, w);
    w.offset = walkLevel(w, atMs);
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
 * The walk's log return from the anchor time `atMs` to `timeMs` (on the minute grid): 0 at the anchor, a Gaussian
 * step of `dailyVolatility` per day away from it, bridged by hour and minute. `seed` names the walk.
 */
export function walkLogReturn(seed: number, dailyVolatility: number, atMs: number, timeMs: number): number {
  const w = walkOf(seed, dailyVolatility, atMs);
  return walkLevel(w, timeMs) - w.offset;
}

/** Where the replayed venues' markets pass through: an asset's USD price at the anchor time, and its daily volatility. */
export interface AssetLevel {
  priceUsd: number;
  dailyVolatility: number;
}

/**
 * The anchor of the venues' generated markets: the recorded CoinCap snapshot's USD prices (test/fixtures/coincap-v2/
 * assets.json), reached at the last hour of 2024, the replay's "now"; volatility as CoinCap's generated history gives
 * those ranks (2.5 % a day for bitcoin, 3–4 % for the next ones, 4.5 % below).
 */
export const REPLAY_MARKET_ANCHOR_MS = Date.UTC(2024, 11, 31, 23);
export const REPLAY_ASSET_LEVELS: Record<string, AssetLevel> = {
  BTC: { priceUsd: 96_415.27, dailyVolatility: 0.025 },
  ETH: { priceUsd: 3_583.63, dailyVolatility: 0.032 },
  SOL: { priceUsd: 240.54, dailyVolatility: 0.038 },
  BNB: { priceUsd: 637.89, dailyVolatility: 0.031 },
  XRP: { priceUsd: 1.4866, dailyVolatility: 0.039 },
  ADA: { priceUsd: 1.0283, dailyVolatility: 0.037 },
  DOGE: { priceUsd: 0.40208, dailyVolatility: 0.04 },
  LTC: { priceUsd: 96.97, dailyVolatility: 0.045 },
  DOT: { priceUsd: 8.37, dailyVolatility: 0.045 },
  TRX: { priceUsd: 0.20115, dailyVolatility: 0.035 },
  LINK: { priceUsd: 18.19, dailyVolatility: 0.045 },
  AVAX: { priceUsd: 43.23, dailyVolatility: 0.045 },
};

/** An asset none of the levels name: a level from 0.1 to 1,000 USD and 4.5 % a day, both from its name. */
function levelOf(asset: string): AssetLevel {
  return REPLAY_ASSET_LEVELS[asset] ?? { priceUsd: 10 ** (unitFraction(asset, 'market-level') * 4 - 1), dailyVolatility: 0.045 };
}

/** Quote assets priced at 1 USD. */
const USD_LIKE = new Set(['USD', 'USDT', 'USDC']);

/** USD price of `asset` (a ticker: BTC, ETH, …; USD, USDT and USDC are 1) at `timeMs` on the minute grid: one walk per asset, shared by every venue. */
export function assetWalkUsd(asset: string, timeMs: number): number {
  if (USD_LIKE.has(asset)) return 1;
  const level = levelOf(asset);
  return level.priceUsd * Math.exp(walkLogReturn(hashString(`market-walk:${asset}`), level.dailyVolatility, REPLAY_MARKET_ANCHOR_MS, timeMs));
}

/** The anchor price of `base` in `quote`: what a venue's tick sizes are chosen for. */
export function anchorLevel(base: string, quote: string): number {
  const usd = (a: string) => (USD_LIKE.has(a) ? 1 : levelOf(a).priceUsd);
  return usd(base) / usd(quote);
}

/** Price of `base` in `quote` at `timeMs`, from the two assets' walks. */
export function assetWalk(base: string, quote: string, timeMs: number): number {
  return assetWalkUsd(base, timeMs) / assetWalkUsd(quote, timeMs);
}
