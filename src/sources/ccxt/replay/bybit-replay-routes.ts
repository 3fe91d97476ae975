// Bybit v5 as ccxt's `bybit` reaches it, under /ccxt/bybit: GET /v5/market/instruments-info, kline, recent-trade,
// tickers and time, from the generated series, for the spot category (linear, inverse and option list nothing: the
// replay has no derivatives). Bybit's limits (1000 candles a request, 60 recent spot trades), its errors (HTTP 200
// with retCode 10001, `Not supported symbols` for an unknown symbol) and its IP limit of 600 requests in any 5 s
// (beyond it HTTP 403 `access too frequent`, which ccxt maps to RateLimitExceeded).
import type { ReplayRequest } from '../../../replay/replay-mount.ts';
import type { ReplayResponse } from '../../../replay/replay-response.ts';
import type { CcxtReplayExchangeRoutes } from './ccxt-replay-exchange.ts';
import { decimalText } from './ccxt-replay-decimal.ts';
import { newestCandles, newestTrades } from './ccxt-replay-newest.ts';
import { REPLAY_MARKETS, replayCandles, type ReplayMarket } from './ccxt-replay-series.ts';
import { bybitError, bybitMarket, bybitOk, bybitSpotInstrument, bybitSpotTicker, bybitSymbol } from './bybit-replay-market.ts';

export const BYBIT_KLINE_DEFAULT_LIMIT = 200;
export const BYBIT_KLINE_MAX_LIMIT = 1000;
/** Recent spot trades: limit 1–60, default 60 (the other categories: 1–1000, default 500). */
export const BYBIT_SPOT_TRADES_MAX_LIMIT = 60;
/** Bybit's HTTP IP limit: 600 requests in any 5-second window. */
export const BYBIT_RATE_LIMIT = { requests: 600, windowMs: 5000 };

const CATEGORIES = new Set(['spot', 'linear', 'inverse', 'option']);
const INTERVALS = new Set(['1', '3', '5', '15', '30', '60', '120', '240', '360', '720', 'D', 'W', 'M']);
const PRIVATE_PREFIXES = ['/v5/account/', '/v5/asset/', '/v5/order/', '/v5/position/', '/v5/user/', '/v5/execution/'];

const paramsError = (field: string, nowMs: number) => bybitError(10001, `params error: ${field} invalid`, nowMs);
const notSupported = (nowMs: number) => bybitError(10001, 'Not supported symbols', nowMs);

/** An integer query parameter in [min, max]: undefined when absent, 'bad' otherwise. */
function integer(query: URLSearchParams, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined | 'bad' {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,16}$/.test(raw)) return 'bad';
  const n = Number(raw);
  return n < min || n > max ? 'bad' : n;
}

/** The category asked for, or the error Bybit gives; kline's default is linear. */
function category(query: URLSearchParams, fallback?: string): string | undefined {
  const c = query.get('category') ?? fallback;
  return c !== undefined && CATEGORIES.has(c) ? c : undefined;
}

/** The spot market the `symbol` parameter names when the category is spot; undefined otherwise. */
function spotSymbol(query: URLSearchParams, cat: string): ReplayMarket | undefined {
  const symbol = query.get('symbol');
  return cat === 'spot' && symbol ? bybitMarket(symbol) : undefined;
}

/**
 * GET /v5/market/instruments-info?category[&symbol]: the spot instruments in one page (spot does not page); the
 * other categories page by `cursor` with `nextPageCursor` and list nothing here.
 */
function instrumentsResponse(query: URLSearchParams, nowMs: number): ReplayResponse {
  const cat = category(query);
  if (!cat) return paramsError('category', nowMs);
  if (integer(query, 'limit', 1, 1000) === 'bad') return paramsError('limit', nowMs);
  if (cat !== 'spot') return bybitOk({ category: cat, list: [], nextPageCursor: '' }, nowMs);
  const symbol = query.get('symbol');
  const markets = symbol ? REPLAY_MARKETS.bybit.filter((m) => bybitSymbol(m) === symbol) : REPLAY_MARKETS.bybit;
  return bybitOk({ category: cat, list: markets.map(bybitSpotInstrument) }, nowMs);
}

/**
 * GET /v5/market/kline?category&symbol&interval[&start&end&limit]: 1-minute candles (the interval the replay
 * serves) that opened by now, newest first, as string rows `[start, open, high, low, close, volume, turnover]`.
 * With `start`, the first `limit` candles from start (≤ end); without, the newest `limit` up to end (default now).
 * limit 1–1000, default 200. Category defaults to linear, where no replayed symbol is listed.
 */
function klineResponse(query: URLSearchParams, nowMs: number): ReplayResponse {
  const cat = category(query, 'linear');
  if (!cat || cat === 'option') return paramsError('category', nowMs);
  if (!query.get('symbol')) return paramsError('symbol', nowMs);
  const m = spotSymbol(query, cat);
  if (!m) return notSupported(nowMs);
  const interval = query.get('interval') ?? '';
  if (!INTERVALS.has(interval)) return paramsError('interval', nowMs);
  if (interval !== '1') return bybitError(10001, `params error: interval ${interval} is not served by the replay server (1 only)`, nowMs);
  const start = integer(query, 'start');
  const end = integer(query, 'end');
  const limit = integer(query, 'limit', 1, BYBIT_KLINE_MAX_LIMIT);
  if (start === 'bad') return paramsError('start', nowMs);
  if (end === 'bad') return paramsError('end', nowMs);
  if (limit === 'bad') return paramsError('limit', nowMs);
  if (start !== undefined && end !== undefined && start > end) return paramsError('start', nowMs);
  const toMs = Math.min(end ?? nowMs, nowMs) + 1;
  const n = limit ?? BYBIT_KLINE_DEFAULT_LIMIT;
  const candles = start === undefined ? newestCandles('bybit', m.symbol, 0, toMs, n) : replayCandles('bybit', m.symbol, start, toMs, n).reverse();
  const d = m.priceDecimals;
  const list = candles.map((c) => [
    String(c.ts), decimalText(c.open, d), decimalText(c.high, d), decimalText(c.low, d), decimalText(c.close, d),
    decimalText(c.volume, m.amountDecimals), (c.volume * (c.open + c.high + c.low + c.close) / 4).toFixed(8),
  ]);
  return bybitOk({ symbol: bybitSymbol(m), category: cat, list }, nowMs);
}

/**
 * GET /v5/market/recent-trade?category&symbol[&limit]: the newest spot trades that happened by now, newest first
 * (limit 1–60, default 60). There is no start, end or cursor: older trades are not reachable here.
 */
function recentTradeResponse(query: URLSearchParams, nowMs: number): ReplayResponse {
  const cat = category(query);
  if (!cat) return paramsError('category', nowMs);
  if (!query.get('symbol') && cat !== 'option') return paramsError('symbol', nowMs);
  const m = spotSymbol(query, cat);
  if (!m) return notSupported(nowMs);
  const limit = integer(query, 'limit', 1, BYBIT_SPOT_TRADES_MAX_LIMIT);
  if (limit === 'bad') return paramsError('limit', nowMs);
  const trades = newestTrades('bybit', m.symbol, 0, nowMs + 1, limit ?? BYBIT_SPOT_TRADES_MAX_LIMIT);
  const list = trades.map((t) => ({
    execId: String(t.id), symbol: bybitSymbol(m), price: decimalText(t.price, m.priceDecimals), size: decimalText(t.amount, m.amountDecimals),
    side: t.side === 'buy' ? 'Buy' : 'Sell', time: String(t.timestamp), isBlockTrade: false, isRPITrade: false,
  }));
  return bybitOk({ category: cat, list }, nowMs);
}

/** GET /v5/market/tickers?category[&symbol]: every spot ticker, or the one named; nothing in the other categories. */
function tickersResponse(query: URLSearchParams, nowMs: number): ReplayResponse {
  const cat = category(query);
  if (!cat) return paramsError('category', nowMs);
  if (cat !== 'spot') return bybitOk({ category: cat, list: [] }, nowMs);
  let markets = REPLAY_MARKETS.bybit;
  if (query.get('symbol')) {
    const m = spotSymbol(query, cat);
    if (!m) return notSupported(nowMs);
    markets = [m];
  }
  return bybitOk({ category: cat, list: markets.map((m) => bybitSpotTicker(m, nowMs)) }, nowMs);
}

/** Answers one request below /ccxt/bybit. */
function answer(r: ReplayRequest, nowMs: number): ReplayResponse {
  const { path, query } = r;
  switch (path) {
    case '/v5/market/time':
      return bybitOk({ timeSecond: String(Math.floor(nowMs / 1000)), timeNano: `${nowMs}000000` }, nowMs);
    case '/v5/market/instruments-info':
      return instrumentsResponse(query, nowMs);
    case '/v5/market/kline':
      return klineResponse(query, nowMs);
    case '/v5/market/recent-trade':
      return recentTradeResponse(query, nowMs);
    case '/v5/market/tickers':
      return tickersResponse(query, nowMs);
  }
  // The replay server checks no API keys: every private endpoint answers as to a request without a valid key.
  if (PRIVATE_PREFIXES.some((p) => path.startsWith(p))) return bybitError(10003, 'API key is invalid.', nowMs, 401);
  return bybitError(10017, 'request path not found or request method is invalid', nowMs, 404);
}

/** Bybit's routes for the ccxt replay mount. */
export const bybitReplayRoutes: CcxtReplayExchangeRoutes = {
  id: 'bybit',
  rateLimit: BYBIT_RATE_LIMIT,
  rateLimited: () => ({ status: 403, contentType: 'text/plain', body: Buffer.from('access too frequent') }),
  answer,
};

