// Binance spot market data as the replay server serves it under /binance: GET /api/v3/klines from the
// deterministic series, GET /api/v3/historicalTrades and aggTrades from the series the websocket replay serves, with
// Binance's parameter rules, 400 bodies, and the request-weight limit
// (X-MBX-USED-WEIGHT-1M on every answer; 429 + Retry-After past the limit; 418 for a client that keeps going).
import { isCandleInterval, type CandleInterval } from '../../core/candle-interval.ts';
import { ConfigError } from '../../core/errors.ts';
import { kline, klineOpenTimes, latestKlineOpenTimes } from './binance-replay-klines.ts';
import { jsonResponse, type ReplayResponse } from '../../replay/replay-response.ts';
import { EXCHANGE_INFO_WEIGHT, exchangeInfoResponse, FUTURES_EXCHANGE_INFO_PATHS, futuresExchangeInfoResponse } from './binance-replay-exchange-info.ts';
import { FIRST_REPLAY_AGG_TRADE_ID, FIRST_REPLAY_TRADE_ID, REPLAY_TRADE_SPACING_MS, REPLAY_TRADES_START_MS, replayAggTrade, replayTrade } from './binance-replay-trades.ts';

/** Weight of one klines request (api-reference §4.2: weight 2 at every limit up to 1000). */
export const KLINES_WEIGHT = 2;
export const KLINES_DEFAULT_LIMIT = 500;
export const KLINES_MAX_LIMIT = 1000;
/** Weight of one historicalTrades request (Binance spot since 2023-08-25). */
export const HISTORICAL_TRADES_WEIGHT = 25;
/** Weight of one aggTrades request (Binance spot since 2023-08-25). */
export const AGG_TRADES_WEIGHT = 2;
export const TRADES_DEFAULT_LIMIT = 500;
export const TRADES_MAX_LIMIT = 1000;
/** Binance's REQUEST_WEIGHT limit per minute since 2023-08-25. */
export const BINANCE_WEIGHT_PER_MINUTE = 6000;

export interface BinanceReplaySettings {
  /** Symbols that exist (others: 400 -1121). */
  symbols: ReadonlySet<string>;
  /** First open time served (earlier requests get what exists from here on). */
  historyStartMs: number;
}

/** What the weight window saw, for tests and benchmarks. */
export interface BinanceUsage {
  limit: number;
  windowMs: number;
  /** Largest weight accepted within one window: never above `limit`. */
  maxWindowWeight: number;
  accepted: number;
  /** Requests answered 429. */
  rejected: number;
  /** Requests answered 418 (banned). */
  banned: number;
}

/**
 * Binance's request-weight limit: fixed windows aligned to multiples of `windowMs` since the epoch (a clock minute
 * by default; tests shrink it to scale time). Rejected requests use no weight. A client that collects
 * `banAfterRejections` 429s within one window is banned (418) until the end of the following window.
 */
export class BinanceWeightWindow {
  private window = -1;
  private used = 0;
  private rejectedInWindow = 0;
  private bannedUntil = 0;
  readonly usage: BinanceUsage;

  constructor(
    readonly limit = BINANCE_WEIGHT_PER_MINUTE,
    readonly windowMs = 60_000,
    private readonly banAfterRejections = 5,
  ) {
    if (!(limit > 0) || !(windowMs > 0)) {
      throw new ConfigError(`binance weight limit and window must be positive (got ${limit} per ${windowMs} ms)`, { hint: 'give the replay server a Binance weight limit of at least 1 per a window of at least 1 ms' });
    }
    this.usage = { limit, windowMs, maxWindowWeight: 0, accepted: 0, rejected: 0, banned: 0 };
  }

  /** Counts `weight` at `now`: the weight used in the window so far, or the refusal with its Retry-After seconds. */
  admit(weight: number, now: number): { used: number } | { status: 429 | 418; retryAfterSeconds: number; used: number; bannedUntil?: number } {
    const window = Math.floor(now / this.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.used = 0;
      this.rejectedInWindow = 0;
    }
    const windowEnd = (window + 1) * this.windowMs;
    if (now < this.bannedUntil) {
      this.usage.banned++;
      return { status: 418, retryAfterSeconds: Math.max(1, Math.ceil((this.bannedUntil - now) / 1000)), used: this.used, bannedUntil: this.bannedUntil };
    }
    if (this.used + weight > this.limit) {
      this.usage.rejected++;
      if (++this.rejectedInWindow >= this.banAfterRejections) this.bannedUntil = windowEnd + this.windowMs;
      return { status: 429, retryAfterSeconds: Math.max(1, Math.ceil((windowEnd - now) / 1000)), used: this.used };
    }
    this.used += weight;
    this.usage.accepted++;
    this.usage.maxWindowWeight = Math.max(this.usage.maxWindowWeight, this.used);
    return { used: this.used };
  }
}

function binanceError(status: number, code: number, msg: string, headers?: Record<string, string>): ReplayResponse {
  return { ...jsonResponse(status, { code, msg }), headers };
}

const mandatory = (name: string) => binanceError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

function parseLong(raw: string | null): number | undefined | 'bad' {
  if (raw === null || raw === '') return undefined;
  return /^\d{1,16}$/.test(raw) ? Number(raw) : 'bad';
}

/** Times are ms; a 16-digit value is µs, which Binance also accepts. */
function toMs(n: number): number {
  return n >= 1e14 ? Math.floor(n / 1000) : n;
}

/**
 * GET /api/v3/klines. startTime is rounded up to the interval's grid, endTime is inclusive on the open time, the
 * order is ascending; without startTime the most recent `limit` candles up to endTime (default now) are served.
 * A limit above 1000 is served as 1000 (what spot clients report seeing).
 */
export function klinesResponse(query: URLSearchParams, settings: BinanceReplaySettings, now: number): ReplayResponse {
  const symbol = query.get('symbol');
  if (!symbol) return mandatory('symbol');
  const interval = query.get('interval');
  if (!interval) return mandatory('interval');
  if (!settings.symbols.has(symbol)) return binanceError(400, -1121, 'Invalid symbol.');
  if (!isCandleInterval(interval)) return binanceError(400, -1120, 'Invalid interval.');
  const start = parseLong(query.get('startTime'));
  const end = parseLong(query.get('endTime'));
  const limitRaw = parseLong(query.get('limit'));
  if (start === 'bad') return mandatory('startTime');
  if (end === 'bad') return mandatory('endTime');
  if (limitRaw === 'bad' || limitRaw === 0) return binanceError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
  const limit = Math.min(limitRaw ?? KLINES_DEFAULT_LIMIT, KLINES_MAX_LIMIT);
  const iv: CandleInterval = interval;
  // Only closed or open candles exist: nothing opens after now.
  const endMs = Math.min(end === undefined ? now : toMs(end), now);
  const startMs = Math.max(start === undefined ? settings.historyStartMs : toMs(start), settings.historyStartMs);
  if (start !== undefined && end !== undefined && toMs(start) > toMs(end)) return binanceError(400, -1023, 'Start time is greater than end time.');
  const times = start === undefined ? latestKlineOpenTimes(iv, startMs, endMs, limit) : klineOpenTimes(iv, startMs, endMs, limit);
  return jsonResponse(200, times.map((t) => kline(symbol, iv, t)));
}

/**
 * GET /api/v3/historicalTrades: the trades of the replay series (the websocket replay's `<symbol>@trade`, trade i with
 * id 1,000,000 + i every 100 ms from 2024-06-10) that happened by `now`, ascending from `fromId`, at most `limit`
 * (default 500, max 1000); without fromId the most recent ones. Binance's shape:
 * `[{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}]`.
 */
export function historicalTradesResponse(query: URLSearchParams, settings: BinanceReplaySettings, now: number): ReplayResponse {
  return tradesResponse(query, settings, now, FIRST_REPLAY_TRADE_ID, replayTrade);
}

/**
 * GET /api/v3/aggTrades by `fromId` (or the most recent): the aggregate trades of the websocket replay's
 * `<symbol>@aggTrade` (aggregate i with id 500,000 + i every 100 ms from 2024-06-10), Binance's shape
 * `[{"a", "p", "q", "f", "l", "T", "m", "M"}]`; limit default 500, max 1000. (startTime/endTime are not served.)
 */
export function aggTradesResponse(query: URLSearchParams, settings: BinanceReplaySettings, now: number): ReplayResponse {
  return tradesResponse(query, settings, now, FIRST_REPLAY_AGG_TRADE_ID, replayAggTrade);
}

function tradesResponse(query: URLSearchParams, settings: BinanceReplaySettings, now: number, firstId: number, trade: (i: number) => object): ReplayResponse {
  const symbol = query.get('symbol');
  if (!symbol) return mandatory('symbol');
  if (!settings.symbols.has(symbol)) return binanceError(400, -1121, 'Invalid symbol.');
  const fromId = parseLong(query.get('fromId'));
  const limitRaw = parseLong(query.get('limit'));
  if (fromId === 'bad') return mandatory('fromId');
  if (limitRaw === 'bad' || limitRaw === 0) return binanceError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
  const limit = Math.min(limitRaw ?? TRADES_DEFAULT_LIMIT, TRADES_MAX_LIMIT);
  // Trades 0…last have happened by now.
  const last = Math.floor((now - REPLAY_TRADES_START_MS) / REPLAY_TRADE_SPACING_MS);
  const first = fromId === undefined ? last - limit + 1 : Math.max(0, fromId - firstId);
  const out = [];
  for (let i = Math.max(0, first); i <= last && out.length < limit; i++) out.push(trade(i));
  return jsonResponse(200, out);
}

/** Routes a path below /binance (e.g. `/api/v3/klines`), counting its weight first. */
export function routeBinance(path: string, query: URLSearchParams, settings: BinanceReplaySettings, weight: BinanceWeightWindow, now: number): ReplayResponse {
  const cost = path === '/api/v3/klines' ? KLINES_WEIGHT : path === '/api/v3/historicalTrades' ? HISTORICAL_TRADES_WEIGHT : path === '/api/v3/aggTrades' ? AGG_TRADES_WEIGHT : path === '/api/v3/exchangeInfo' ? EXCHANGE_INFO_WEIGHT : 1;
  const admitted = weight.admit(cost, now);
  const usedHeaders = { 'x-mbx-used-weight': String(admitted.used), 'x-mbx-used-weight-1m': String(admitted.used) };
  if ('status' in admitted) {
    const headers = { ...usedHeaders, 'retry-after': String(admitted.retryAfterSeconds) };
    return admitted.status === 418
      ? binanceError(418, -1003, `Way too much request weight used; IP banned until ${admitted.bannedUntil}. Please use WebSocket Streams for live updates to avoid bans.`, headers)
      : binanceError(429, -1003, `Too much request weight used; current limit is ${weight.limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`, headers);
  }
  let response: ReplayResponse;
  if (path === '/api/v3/klines') response = klinesResponse(query, settings, now);
  else if (path === '/api/v3/historicalTrades') response = historicalTradesResponse(query, settings, now);
  else if (path === '/api/v3/aggTrades') response = aggTradesResponse(query, settings, now);
  else if (path === '/api/v3/exchangeInfo') response = exchangeInfoResponse(query, settings.symbols, weight.limit, now);
  else if (FUTURES_EXCHANGE_INFO_PATHS.has(path)) response = futuresExchangeInfoResponse(now);
  else if (path === '/api/v3/ping') response = jsonResponse(200, {});
  else if (path === '/api/v3/time') response = jsonResponse(200, { serverTime: now });
  else response = binanceError(404, -1000, `Unknown path ${path}.`);
  return { ...response, headers: { ...response.headers, ...usedHeaders } };
}
