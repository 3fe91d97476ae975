// Deterministic Binance trades for the replay servers: trade i of the series is a pure function of i, the same for
// every symbol, so the websocket replay (`<symbol>@trade`, one trade per tick) and the REST replay
// (`/api/v3/historicalTrades` by id) serve the same trades and a REST gap-fill equals what the websocket sent.

/** Id of trade 0; trade i has id FIRST_REPLAY_TRADE_ID + i. */
export const FIRST_REPLAY_TRADE_ID = 1_000_000;
/** Trade i happens at startMs + i × this. */
export const REPLAY_TRADE_SPACING_MS = 100;
/** Time of trade 0 (the websocket replay's default start). */
export const REPLAY_TRADES_START_MS = Date.parse('2024-06-10T00:00:00Z');

/** A trade in Binance's REST shape (`historicalTrades`: `quoteQty`, `isBestMatch` as well). */
export interface ReplayTrade {
  id: number;
  price: string;
  qty: string;
  quoteQty: string;
  time: number;
  isBuyerMaker: boolean;
  isBestMatch: boolean;
}

/** Trade i of the series starting at startMs. */
export function replayTrade(i: number, startMs = REPLAY_TRADES_START_MS): ReplayTrade {
  const price = 100 * (1 + 0.001 * Math.sin(i * 0.7 + 2));
  const qty = 0.5 + (i % 5);
  return { id: FIRST_REPLAY_TRADE_ID + i, price: price.toFixed(8), qty: qty.toFixed(8), quoteQty: (Number(price.toFixed(8)) * qty).toFixed(8), time: startMs + i * REPLAY_TRADE_SPACING_MS, isBuyerMaker: i % 2 === 1, isBestMatch: true };
}

/** First aggregate trade id; aggregate i has id FIRST_REPLAY_AGG_TRADE_ID + i. */
export const FIRST_REPLAY_AGG_TRADE_ID = 500_000;

/** An aggregate trade in Binance's REST shape (`aggTrades`); the websocket's aggTrade event carries the same fields. */
export interface ReplayAggTrade {
  a: number;
  p: string;
  q: string;
  /** First and last trade id it aggregates. */
  f: number;
  l: number;
  T: number;
  m: boolean;
  M: boolean;
}

/** Aggregate trade i of the series starting at startMs: it covers trades 3i…3i+2 (ids from 1,000,000), one every 100 ms. */
export function replayAggTrade(i: number, startMs = REPLAY_TRADES_START_MS): ReplayAggTrade {
  return { a: FIRST_REPLAY_AGG_TRADE_ID + i, p: (100 * (1 + 0.001 * Math.sin(i * 0.7 + 3))).toFixed(8), q: (1.5 + (i % 5)).toFixed(8), f: FIRST_REPLAY_TRADE_ID + 3 * i, l: FIRST_REPLAY_TRADE_ID + 2 + 3 * i, T: startMs + i * REPLAY_TRADE_SPACING_MS, m: i % 2 === 1, M: true };
}
