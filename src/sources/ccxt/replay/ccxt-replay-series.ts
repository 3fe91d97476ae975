// The generated market every replayed ccxt exchange serves: candles, trades and tickers as pure functions of
// (exchange, symbol, time), so any window can be generated alone, two processes serve the same bytes, and a test
// computes what must land without asking the server. Each exchange's routes render these values in its own shapes.
//
// Prices are on each market's tick (so every venue's string/number formatting round-trips exactly); a few minutes per
// day have no candle at all (the exchange answers with none: "known missing" for repair), and every exchange has a
// short daily window without trading.
import { unitFraction } from '../../../replay/deterministic-numbers.ts';
import { anchorLevel, assetWalk } from '../../../replay/market-walk.ts';

export const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The exchanges the replay server speaks for ccxt (their ccxt ids; each has routes under `/ccxt/<id>`). */
export const CCXT_REPLAY_EXCHANGES = ['kraken', 'coinbase', 'okx', 'bybit'] as const;
export type CcxtReplayExchange = (typeof CCXT_REPLAY_EXCHANGES)[number];

/** One listed market, in ccxt's unified form. */
export interface ReplayMarket {
  /** ccxt's unified symbol, e.g. `BTC/USD`. */
  symbol: string;
  base: string;
  quote: string;
  /** Price decimals (the tick is 10^-priceDecimals). */
  priceDecimals: number;
  /** Amount decimals. */
  amountDecimals: number;
}

const market = (base: string, quote: string, priceDecimals: number, amountDecimals: number): ReplayMarket =>
  ({ symbol: `${base}/${quote}`, base, quote, priceDecimals, amountDecimals });

/** What each replayed exchange lists (anything else is an unknown symbol there). */
export const REPLAY_MARKETS: Record<CcxtReplayExchange, ReplayMarket[]> = {
  kraken: [market('BTC', 'USD', 1, 8), market('ETH', 'USD', 2, 8), market('SOL', 'USD', 2, 8), market('ETH', 'BTC', 5, 8)],
  coinbase: [market('BTC', 'USD', 2, 8), market('ETH', 'USD', 2, 8), market('SOL', 'USD', 2, 8), market('ETH', 'BTC', 5, 8)],
  okx: [market('BTC', 'USDT', 1, 8), market('ETH', 'USDT', 2, 6), market('SOL', 'USDT', 3, 6), market('ETH', 'BTC', 5, 6)],
  bybit: [market('BTC', 'USDT', 2, 6), market('ETH', 'USDT', 2, 5), market('SOL', 'USDT', 3, 3), market('ETH', 'BTC', 6, 5)],
};

/** The listed market `symbol` of `exchange`, or undefined. */
export function replayMarket(exchange: CcxtReplayExchange, symbol: string): ReplayMarket | undefined {
  return REPLAY_MARKETS[exchange].find((m) => m.symbol === symbol);
}

/** First minute the replayed exchanges have history for (older requests get what exists from here on). */
export const REPLAY_HISTORY_START_MS = Date.UTC(2024, 0, 1);

/**
 * Mid price of `base/quote` at `ms` (on the minute grid): the assets' walks shared with every replayed venue (Binance's
 * klines too), through the recorded snapshot's prices at the end of 2024, times a small basis of the exchange's own.
 */
function mid(exchange: string, m: ReplayMarket, ms: number): number {
  const venue = 1 + 0.001 * (unitFraction(exchange, 'venue') - 0.5);
  return assetWalk(m.base, m.quote, ms) * venue;
}

const onTick = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/**
 * Minutes without a candle: every day 03:00–03:05 UTC (no trading), and about one other minute in a thousand,
 * chosen per (exchange, symbol, minute) — the exchange answers with no candle for either, every time it is asked.
 */
export function isMissingMinute(exchange: string, symbol: string, minuteMs: number): boolean {
  const ofDay = minuteMs % DAY_MS;
  if (ofDay >= 3 * 60 * MINUTE_MS && ofDay < 3 * 60 * MINUTE_MS + 5 * MINUTE_MS) return true;
  return unitFraction(`${exchange}:${symbol}:${minuteMs}`, 'missing') < 0.001;
}

/** One 1-minute candle as numbers on the market's ticks (ccxt's unified order: ts, open, high, low, close, volume). */
export interface ReplayCandle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Base volume. */
  volume: number;
}

/** The candle of `exchange`'s `symbol` opening at minute `minuteMs`, or undefined when the exchange has none. */
export function replayCandle(exchange: CcxtReplayExchange, symbol: string, minuteMs: number): ReplayCandle | undefined {
  const m = replayMarket(exchange, symbol);
  if (!m || minuteMs < REPLAY_HISTORY_START_MS || minuteMs % MINUTE_MS !== 0) return undefined;
  if (isMissingMinute(exchange, symbol, minuteMs)) return undefined;
  const key = `${exchange}:${symbol}:${minuteMs}`;
  const open = onTick(mid(exchange, m, minuteMs), m.priceDecimals);
  const close = onTick(mid(exchange, m, minuteMs + MINUTE_MS), m.priceDecimals);
  const high = onTick(Math.max(open, close) * (1 + 0.0015 * unitFraction(key, 'high')), m.priceDecimals);
  const low = onTick(Math.min(open, close) * (1 - 0.0015 * unitFraction(key, 'low')), m.priceDecimals);
  const volume = onTick(0.01 + 20 * unitFraction(key, 'volume') / Math.sqrt(anchorLevel(m.base, 'USD')) * 10, m.amountDecimals);
  return { ts: minuteMs, open, high, low, close, volume };
}

/** The candles that exist with `fromMs` ≤ ts < `toMs`, ascending, at most `limit`. */
export function replayCandles(exchange: CcxtReplayExchange, symbol: string, fromMs: number, toMs: number, limit = Infinity): ReplayCandle[] {
  const out: ReplayCandle[] = [];
  let t = Math.max(Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS, REPLAY_HISTORY_START_MS);
  for (; t < toMs && out.length < limit; t += MINUTE_MS) {
    const c = replayCandle(exchange, symbol, t);
    if (c) out.push(c);
  }
  return out;
}

/** One public trade in ccxt's unified terms. */
export interface ReplayTrade {
  /** Increasing per (exchange, symbol): minute index since the history start × 8 + position in the minute. */
  id: number;
  timestamp: number;
  side: 'buy' | 'sell';
  price: number;
  amount: number;
}

/** The trades of one minute (0–3 of them; none in a minute without a candle), ascending by id. */
export function replayTradesOfMinute(exchange: CcxtReplayExchange, symbol: string, minuteMs: number): ReplayTrade[] {
  const m = replayMarket(exchange, symbol);
  const candle = replayCandle(exchange, symbol, minuteMs);
  if (!m || !candle) return [];
  const key = `${exchange}:${symbol}:${minuteMs}`;
  const count = Math.floor(unitFraction(key, 'trades') * 4);
  const out: ReplayTrade[] = [];
  for (let i = 0; i < count; i++) {
    const k = `${key}:${i}`;
    out.push({
      id: ((minuteMs - REPLAY_HISTORY_START_MS) / MINUTE_MS) * 8 + i,
      timestamp: minuteMs + Math.floor(((i + unitFraction(k, 'at')) / count) * MINUTE_MS),
      side: unitFraction(k, 'side') < 0.5 ? 'buy' : 'sell',
      price: onTick(candle.low + (candle.high - candle.low) * unitFraction(k, 'price'), m.priceDecimals),
      amount: onTick(Math.max(10 ** -m.amountDecimals, candle.volume * unitFraction(k, 'amount') / 2), m.amountDecimals),
    });
  }
  return out;
}

/** Trades with `fromMs` ≤ timestamp < `toMs`, ascending, at most `limit`. */
export function replayTrades(exchange: CcxtReplayExchange, symbol: string, fromMs: number, toMs: number, limit = Infinity): ReplayTrade[] {
  const out: ReplayTrade[] = [];
  for (let t = Math.max(Math.floor(fromMs / MINUTE_MS) * MINUTE_MS, REPLAY_HISTORY_START_MS); t < toMs && out.length < limit; t += MINUTE_MS) {
    for (const trade of replayTradesOfMinute(exchange, symbol, t)) {
      if (trade.timestamp >= fromMs && trade.timestamp < toMs && out.length < limit) out.push(trade);
    }
  }
  return out;
}

/** A 24-hour ticker at `nowMs` from the last 1440 minutes' candles (computed on the minute grid). */
export interface ReplayTicker {
  symbol: string;
  timestamp: number;
  last: number;
  open: number;
  high: number;
  low: number;
  bid: number;
  ask: number;
  baseVolume: number;
}

/** The ticker of `symbol` at `nowMs`: last = the close of the last closed minute, bid/ask one tick around it. */
export function replayTicker(exchange: CcxtReplayExchange, symbol: string, nowMs: number): ReplayTicker | undefined {
  const m = replayMarket(exchange, symbol);
  if (!m) return undefined;
  const lastMinute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  // Hourly samples over the day keep a ticker cheap to compute (25 candles, not 1440).
  const samples: ReplayCandle[] = [];
  for (let t = lastMinute - 24 * 60 * MINUTE_MS; t <= lastMinute; t += 60 * MINUTE_MS) {
    const c = replayCandle(exchange, symbol, t) ?? replayCandle(exchange, symbol, t - MINUTE_MS * 10);
    if (c) samples.push(c);
  }
  const tick = 10 ** -m.priceDecimals;
  const last = samples.at(-1)?.close ?? onTick(mid(exchange, m, lastMinute), m.priceDecimals);
  return {
    symbol,
    timestamp: lastMinute + MINUTE_MS,
    last,
    open: samples[0]?.open ?? last,
    high: Math.max(...samples.map((c) => c.high), last),
    low: Math.min(...samples.map((c) => c.low), last),
    bid: onTick(last - tick, m.priceDecimals),
    ask: onTick(last + tick, m.priceDecimals),
    baseVolume: onTick(samples.reduce((s, c) => s + c.volume, 0) * 60, m.amountDecimals),
  };
}
