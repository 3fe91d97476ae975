// Coinbase as ccxt's `coinbase` (the Advanced Trade API) reaches it, under /ccxt/coinbase: the public
// /api/v3/brokerage/market endpoints (products, candles, the ticker's trades) and the v2 endpoints loadMarkets reads
// (coinbase-replay-v2.ts), from the generated series, with Advanced Trade's limits (350 candles a request, 100
// trades), its error bodies (`{"error":"NOT_FOUND",…}`, 400 INVALID_ARGUMENT) and 10 public requests per second
// per IP (beyond it 429 `rate_limit_exceeded`).
import type { ReplayRequest } from '../../../replay/replay-mount.ts';
import { jsonResponse, type ReplayResponse } from '../../../replay/replay-response.ts';
import type { CcxtReplayExchangeRoutes } from './ccxt-replay-exchange.ts';
import { decimalText } from './ccxt-replay-decimal.ts';
import { newestCandles, newestTrades } from './ccxt-replay-newest.ts';
import { MINUTE_MS, REPLAY_MARKETS, replayTicker, type ReplayMarket } from './ccxt-replay-series.ts';
import { coinbaseMarket, coinbaseProduct, productId } from './coinbase-replay-products.ts';
import { coinbaseV2Answer, coinbaseV2Error } from './coinbase-replay-v2.ts';

/** Most candles one candles request may span (Advanced Trade rejects a wider start–end with 400). */
export const COINBASE_MAX_CANDLES = 350;
/** Most trades the ticker endpoint returns (a larger limit up to 1000 is served as 100). */
export const COINBASE_MAX_TRADES = 100;
/** Largest limit the ticker endpoint accepts at all (beyond it Advanced Trade answers 500 INTERNAL). */
export const COINBASE_TRADES_LIMIT_CEILING = 1000;
/** Advanced Trade's public limit: 10 requests per second per IP. */
export const COINBASE_RATE_LIMIT = { requests: 10, windowMs: 1000 };

const MARKET = '/api/v3/brokerage/market';
/** Seconds per bucket of the granularities Advanced Trade knows; the replay serves ONE_MINUTE. */
const GRANULARITIES: Record<string, number> = {
  ONE_MINUTE: 60, FIVE_MINUTE: 300, FIFTEEN_MINUTE: 900, THIRTY_MINUTE: 1800, ONE_HOUR: 3600, TWO_HOUR: 7200, FOUR_HOUR: 14_400, SIX_HOUR: 21_600, ONE_DAY: 86_400,
};

/** An Advanced Trade error body: `{"error": CODE, "error_details": …, "message": …}`. */
export function coinbaseError(status: number, code: string, message: string): ReplayResponse {
  return jsonResponse(status, { error: code, error_details: message, message });
}

const invalid = (message: string) => coinbaseError(400, 'INVALID_ARGUMENT', message);
const unknownProduct = (id: string) => coinbaseError(404, 'NOT_FOUND', `Product ${id} not supported`);

/** A UNIX-seconds query parameter: undefined when absent, 'bad' when not an integer. */
function seconds(query: URLSearchParams, name: string): number | undefined | 'bad' {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  return /^\d{1,12}$/.test(raw) ? Number(raw) : 'bad';
}

/** ISO time with microseconds, as Advanced Trade writes trade times (`2024-01-01T00:00:12.345000Z`). */
const isoMicros = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * GET …/market/products: every SPOT product (`product_type=FUTURE` lists none: the replay has no futures),
 * filtered by repeated `product_ids`, paged by `limit`/`offset`.
 */
function productsResponse(query: URLSearchParams, nowMs: number): ReplayResponse {
  const type = query.get('product_type');
  if (type !== null && type !== 'SPOT' && type !== 'FUTURE' && type !== 'UNKNOWN_PRODUCT_TYPE') return invalid(`invalid product_type: ${type}`);
  const ids = query.getAll('product_ids');
  let markets: ReplayMarket[] = type === 'FUTURE' ? [] : REPLAY_MARKETS.coinbase;
  if (ids.length > 0) markets = markets.filter((m) => ids.includes(productId(m)));
  const limit = seconds(query, 'limit');
  const offset = seconds(query, 'offset');
  if (limit === 'bad' || offset === 'bad') return invalid('limit and offset must be non-negative integers');
  const page = markets.slice(offset ?? 0, limit ? (offset ?? 0) + limit : undefined);
  return jsonResponse(200, { products: page.map((m) => coinbaseProduct(m, nowMs)), num_products: page.length });
}

/**
 * GET …/market/products/{id}/candles?start&end&granularity[&limit]: the candles with start ≤ ts < end (UNIX
 * seconds) that have opened by now, newest first, at most `limit` (default and max 350). A start–end span of more
 * than 350 buckets is refused with 400, as Advanced Trade does. Candle values are decimal strings.
 */
function candlesResponse(m: ReplayMarket, query: URLSearchParams, nowMs: number): ReplayResponse {
  const granularity = query.get('granularity') ?? '';
  const bucket = GRANULARITIES[granularity];
  if (bucket === undefined) return invalid(`granularity '${granularity}' is not valid`);
  if (bucket !== 60) return invalid(`granularity ${granularity} is not served by the replay server (ONE_MINUTE only)`);
  const start = seconds(query, 'start');
  const end = seconds(query, 'end');
  if (start === undefined || end === undefined || start === 'bad' || end === 'bad') return invalid('start and end argument is invalid - start and end are required UNIX timestamps');
  if (end < start) return invalid('start and end argument is invalid - end must be after start');
  if (Math.ceil((end - start) / bucket) > COINBASE_MAX_CANDLES) {
    return invalid(`start and end argument is invalid - number of candles requested should be less than ${COINBASE_MAX_CANDLES}`);
  }
  const limitRaw = seconds(query, 'limit');
  if (limitRaw === 'bad' || (limitRaw !== undefined && (limitRaw < 1 || limitRaw > COINBASE_MAX_CANDLES))) return invalid(`limit must be between 1 and ${COINBASE_MAX_CANDLES}`);
  const toMs = Math.min(end * 1000, Math.floor(nowMs / MINUTE_MS) * MINUTE_MS + 1);
  const candles = newestCandles('coinbase', m.symbol, start * 1000, toMs, limitRaw ?? COINBASE_MAX_CANDLES);
  const d = m.priceDecimals;
  return jsonResponse(200, {
    candles: candles.map((c) => ({
      start: String(c.ts / 1000), low: decimalText(c.low, d), high: decimalText(c.high, d), open: decimalText(c.open, d), close: decimalText(c.close, d),
      volume: decimalText(c.volume, m.amountDecimals),
    })),
  });
}

/**
 * GET …/market/products/{id}/ticker?limit[&start&end]: the newest trades (at most 100; a limit of 101–1000 is
 * served as 100, above 1000 is a 500) that happened by now, within start ≤ time ≤ end when given (UNIX seconds),
 * newest first, with the best bid and ask. There is no cursor: older trades are reached by moving `end` back.
 */
function tradesResponse(m: ReplayMarket, query: URLSearchParams, nowMs: number): ReplayResponse {
  const limitRaw = seconds(query, 'limit');
  if (limitRaw === 'bad') return invalid('limit must be a positive integer');
  if (limitRaw !== undefined && limitRaw > COINBASE_TRADES_LIMIT_CEILING) return coinbaseError(500, 'INTERNAL', 'internal error');
  const limit = Math.min(limitRaw || COINBASE_MAX_TRADES, COINBASE_MAX_TRADES);
  const start = seconds(query, 'start');
  const end = seconds(query, 'end');
  if (start === 'bad' || end === 'bad') return invalid('start and end must be UNIX timestamps');
  const toMs = Math.min(end === undefined ? nowMs : end * 1000 + 1000, nowMs);
  const trades = newestTrades('coinbase', m.symbol, (start ?? 0) * 1000, toMs, limit);
  const ticker = replayTicker('coinbase', m.symbol, nowMs);
  const d = m.priceDecimals;
  return jsonResponse(200, {
    trades: trades.map((t) => ({
      trade_id: String(t.id), product_id: productId(m), price: decimalText(t.price, d), size: decimalText(t.amount, m.amountDecimals),
      time: isoMicros(t.timestamp), side: t.side === 'buy' ? 'BUY' : 'SELL', bid: '', ask: '',
    })),
    best_bid: ticker ? decimalText(ticker.bid, d) : '',
    best_ask: ticker ? decimalText(ticker.ask, d) : '',
  });
}

/** A path segment decoded (`BTC%2DUSD` → `BTC-USD`); a malformed escape stays as it came. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Answers one request below /ccxt/coinbase. */
function answer(r: ReplayRequest, nowMs: number): ReplayResponse {
  const { path, query } = r;
  if (path.startsWith('/v2/')) return coinbaseV2Answer(path, query, nowMs) ?? coinbaseV2Error(404, 'not_found', 'Not found');
  if (path === '/api/v3/brokerage/time') {
    return jsonResponse(200, { iso: new Date(nowMs).toISOString(), epochSeconds: String(Math.floor(nowMs / 1000)), epochMillis: String(nowMs) });
  }
  if (path === `${MARKET}/products`) return productsResponse(query, nowMs);
  const match = /^\/api\/v3\/brokerage\/market\/products\/([^/]+)(\/candles|\/ticker)?$/.exec(path);
  if (!match) return coinbaseV2Error(404, 'not_found', 'Not found');
  const id = decodedSegment(match[1]);
  const m = coinbaseMarket(id);
  if (!m) return unknownProduct(id);
  if (match[2] === '/candles') return candlesResponse(m, query, nowMs);
  if (match[2] === '/ticker') return tradesResponse(m, query, nowMs);
  return jsonResponse(200, coinbaseProduct(m, nowMs));
}

/** Coinbase's routes for the ccxt replay mount. */
export const coinbaseReplayRoutes: CcxtReplayExchangeRoutes = {
  id: 'coinbase',
  rateLimit: COINBASE_RATE_LIMIT,
  rateLimited: () => coinbaseV2Error(429, 'rate_limit_exceeded', 'Too many requests'),
  answer,
};
