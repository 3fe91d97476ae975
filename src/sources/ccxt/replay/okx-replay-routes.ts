// OKX's public REST API v5 as the replay server serves it under /ccxt/okx: public/time, public/instruments,
// market/tickers and ticker, market/candles and history-candles (1m), market/trades and history-trades, in OKX's
// envelope {"code": "0", "msg": "", "data": [...]} from the generated market in ccxt-replay-series.ts, with OKX's
// paging (after/before, newest first), error codes and HTTP statuses, and its public request limit.
import { jsonResponse, type ReplayResponse } from '../../../replay/replay-response.ts';
import type { ReplayRequest } from '../../../replay/replay-mount.ts';
import type { CcxtReplayExchangeRoutes } from './ccxt-replay-exchange.ts';
import { MINUTE_MS, REPLAY_HISTORY_START_MS, replayCandle, replayTradesOfMinute, type ReplayCandle, type ReplayTrade } from './ccxt-replay-series.ts';
import { findOkxInstrument, OKX_INSTRUMENTS, okxInstrument, okxPrice, okxQuote, okxSize, okxTicker, type OkxInstrument } from './okx-replay-markets.ts';

/** Most candles one candles or history-candles answer holds (history-candles' maximum was 100 until 2025). */
export const OKX_CANDLES_MAX = 300;
export const OKX_CANDLES_DEFAULT = 100;
/** market/candles reaches back this many entries; older ones only through history-candles. */
export const OKX_RECENT_CANDLES = 1440;
export const OKX_TRADES_MAX = 500;
export const OKX_HISTORY_TRADES_MAX = 100;
export const OKX_TRADES_DEFAULT = 100;

const ok = (data: unknown[]): ReplayResponse => jsonResponse(200, { code: '0', msg: '', data });
const okxError = (status: number, code: string, msg: string): ReplayResponse => jsonResponse(status, { code, msg, data: [] });
/** 50014 (HTTP 400): a required parameter is missing. */
const missing = (name: string) => okxError(400, '50014', `Parameter ${name} can not be empty.`);
/** 51000 (HTTP 400): a parameter has a value OKX does not accept. */
const badParameter = (name: string) => okxError(400, '51000', `Parameter ${name} error`);
/** 51001 (HTTP 200, as OKX sends it): no such instrument. */
const unknownInstrument = () => okxError(200, '51001', 'Instrument ID does not exist');

/** The instrument a required `instId` names, or OKX's error. */
function instrumentOf(query: URLSearchParams): OkxInstrument | ReplayResponse {
  const instId = query.get('instId');
  if (instId === null || instId === '') return missing('instId');
  return findOkxInstrument(instId) ?? unknownInstrument();
}

/** An optional non-negative integer parameter: undefined when absent, 'bad' when malformed. */
function integerParam(query: URLSearchParams, name: string): number | undefined | 'bad' {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  return /^\d{1,16}$/.test(raw) ? Number(raw) : 'bad';
}

/** `limit` within [1, max] (above max: max, as OKX serves it), its default when absent, or 'bad'. */
function limitParam(query: URLSearchParams, fallback: number, max: number): number | 'bad' {
  const limit = integerParam(query, 'limit');
  if (limit === 'bad' || limit === 0) return 'bad';
  return Math.min(limit ?? fallback, max);
}

/** The candles with `lower` < ts < `upper` and ts ≥ `floor`, newest first, at most `limit`. */
function newestCandles(symbol: string, lower: number, upper: number, floor: number, limit: number): ReplayCandle[] {
  const out: ReplayCandle[] = [];
  for (let t = Math.ceil(upper / MINUTE_MS) * MINUTE_MS - MINUTE_MS; t > lower && t >= floor && out.length < limit; t -= MINUTE_MS) {
    const c = replayCandle('okx', symbol, t);
    if (c) out.push(c);
  }
  return out;
}

/**
 * GET /api/v5/market/candles and history-candles?instId&bar&after&before&limit: rows
 * [ts, o, h, l, c, vol (base), volCcy (quote), volCcyQuote (quote), confirm] newest first, `after` and `before`
 * exclusive bounds on ts (records older than after, newer than before; with neither or only before, the newest), at
 * most `limit` (default 100, max 300). market/candles reaches only the latest 1440 minutes; history-candles the whole
 * series. confirm is "0" for the current minute, "1" before it. Quote volumes are volume × close. Only bar=1m is
 * served (the generated market is 1-minute; OKX has 1m to 3M): other bars answer 51000.
 */
function candles(query: URLSearchParams, now: number, history: boolean): ReplayResponse {
  const inst = instrumentOf(query);
  if ('status' in inst) return inst;
  if ((query.get('bar') ?? '1m') !== '1m') return badParameter('bar');
  const after = integerParam(query, 'after');
  const before = integerParam(query, 'before');
  if (after === 'bad') return badParameter('after');
  if (before === 'bad') return badParameter('before');
  const limit = limitParam(query, OKX_CANDLES_DEFAULT, OKX_CANDLES_MAX);
  if (limit === 'bad') return badParameter('limit');
  const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const floor = history ? REPLAY_HISTORY_START_MS : current - (OKX_RECENT_CANDLES - 1) * MINUTE_MS;
  const list = newestCandles(inst.market.symbol, before ?? -Infinity, Math.min(after ?? Infinity, current + MINUTE_MS), floor, limit);
  return ok(list.map((c) => {
    const quote = okxQuote(inst, c.volume * c.close);
    return [String(c.ts), okxPrice(inst, c.open), okxPrice(inst, c.high), okxPrice(inst, c.low), okxPrice(inst, c.close), okxSize(inst, c.volume), quote, quote, c.ts < current ? '1' : '0'];
  }));
}

const minuteOfId = (id: number) => REPLAY_HISTORY_START_MS + Math.floor(id / 8) * MINUTE_MS;

/** Trades that happened by `now` with `accept(trade)`, from minute `fromMinute` back to `toMinute`, newest first, at most `limit`. */
function newestTrades(symbol: string, now: number, fromMinute: number, toMinute: number, limit: number, accept: (t: ReplayTrade) => boolean): ReplayTrade[] {
  const out: ReplayTrade[] = [];
  for (let m = Math.min(fromMinute, Math.floor(now / MINUTE_MS) * MINUTE_MS); m >= Math.max(toMinute, REPLAY_HISTORY_START_MS) && out.length < limit; m -= MINUTE_MS) {
    const ofMinute = replayTradesOfMinute('okx', symbol, m);
    for (let i = ofMinute.length - 1; i >= 0 && out.length < limit; i--) {
      if (ofMinute[i].timestamp <= now && accept(ofMinute[i])) out.push(ofMinute[i]);
    }
  }
  return out;
}

const tradeRow = (inst: OkxInstrument, t: ReplayTrade) => ({ instId: inst.instId, side: t.side, sz: okxSize(inst, t.amount), px: okxPrice(inst, t.price), source: '0', tradeId: String(t.id), ts: String(t.timestamp) });

/** GET /api/v5/market/trades?instId&limit: the most recent trades, newest first (default 100, max 500). */
function recentTrades(query: URLSearchParams, now: number): ReplayResponse {
  const inst = instrumentOf(query);
  if ('status' in inst) return inst;
  const limit = limitParam(query, OKX_TRADES_DEFAULT, OKX_TRADES_MAX);
  if (limit === 'bad') return badParameter('limit');
  return ok(newestTrades(inst.market.symbol, now, Infinity, -Infinity, limit, () => true).map((t) => tradeRow(inst, t)));
}

/**
 * GET /api/v5/market/history-trades?instId&type&after&before&limit: trades newest first, at most `limit` (default and
 * max 100). type 1 (default) pages by tradeId, type 2 by ts: `after` returns older records, `before` newer ones
 * (exclusive); with only `before` the newest above it.
 */
function historyTrades(query: URLSearchParams, now: number): ReplayResponse {
  const inst = instrumentOf(query);
  if ('status' in inst) return inst;
  const type = query.get('type') ?? '1';
  if (type !== '1' && type !== '2') return badParameter('type');
  const after = integerParam(query, 'after');
  const before = integerParam(query, 'before');
  if (after === 'bad') return badParameter('after');
  if (before === 'bad') return badParameter('before');
  const limit = limitParam(query, OKX_TRADES_DEFAULT, OKX_HISTORY_TRADES_MAX);
  if (limit === 'bad') return badParameter('limit');
  const byId = type === '1';
  const key = (t: ReplayTrade) => (byId ? t.id : t.timestamp);
  const minuteOf = (v: number) => (byId ? minuteOfId(v) : Math.floor(v / MINUTE_MS) * MINUTE_MS);
  const list = newestTrades(inst.market.symbol, now, after === undefined ? Infinity : minuteOf(after), before === undefined ? -Infinity : minuteOf(before), limit,
    (t) => (after === undefined || key(t) < after) && (before === undefined || key(t) > before));
  return ok(list.map((t) => tradeRow(inst, t)));
}

/** GET /api/v5/public/instruments?instType&instId: the SPOT instruments; the replay lists no derivatives. */
function instruments(query: URLSearchParams): ReplayResponse {
  const instType = query.get('instType');
  if (instType === null || instType === '') return missing('instType');
  if (!['SPOT', 'MARGIN', 'SWAP', 'FUTURES', 'OPTION'].includes(instType)) return badParameter('instType');
  if (instType === 'OPTION' && !query.get('uly') && !query.get('instFamily')) return missing('uly');
  const instId = query.get('instId');
  const listed = instType === 'SPOT' ? OKX_INSTRUMENTS : [];
  if (instId) {
    const one = listed.find((i) => i.instId === instId);
    return one ? ok([okxInstrument(one)]) : unknownInstrument();
  }
  return ok(listed.map(okxInstrument));
}

/** GET /api/v5/market/tickers?instType: every SPOT ticker (none for other types). */
function tickers(query: URLSearchParams, now: number): ReplayResponse {
  const instType = query.get('instType');
  if (instType === null || instType === '') return missing('instType');
  if (!['SPOT', 'SWAP', 'FUTURES', 'OPTION'].includes(instType)) return badParameter('instType');
  return ok(instType === 'SPOT' ? OKX_INSTRUMENTS.map((i) => okxTicker(i, now)) : []);
}

/** Answers one request below /ccxt/okx. */
export function answerOkx(r: ReplayRequest, now: number): ReplayResponse {
  switch (r.path) {
    case '/api/v5/public/time':
      return ok([{ ts: String(now) }]);
    case '/api/v5/public/instruments':
      return instruments(r.query);
    case '/api/v5/market/tickers':
      return tickers(r.query, now);
    case '/api/v5/market/ticker': {
      const inst = instrumentOf(r.query);
      return 'status' in inst ? inst : ok([okxTicker(inst, now)]);
    }
    case '/api/v5/market/candles':
      return candles(r.query, now, false);
    case '/api/v5/market/history-candles':
      return candles(r.query, now, true);
    case '/api/v5/market/trades':
      return recentTrades(r.query, now);
    case '/api/v5/market/history-trades':
      return historyTrades(r.query, now);
    default:
      return okxError(404, '404', 'Not Found');
  }
}

/**
 * OKX on the replay server. OKX limits each public endpoint per IP: 20 requests per 2 s for instruments, tickers,
 * history-candles and history-trades (the endpoints markets, tickers and backfills use), 40 for candles, 100 for
 * trades, 10 for time. The replay keeps one window per exchange, so it applies 20 per 2 s to all of them (stricter
 * than OKX for candles and trades). ccxt's okx (rateLimit 110 ms × cost 1 for those four; history-trades cost 2)
 * stays within it. Beyond it OKX's 429 {"msg": "Too Many Requests", "code": "50011"} (ccxt: RateLimitExceeded).
 */
export const okxReplayRoutes: CcxtReplayExchangeRoutes = {
  id: 'okx',
  rateLimit: { requests: 20, windowMs: 2_000 },
  rateLimited: () => jsonResponse(429, { msg: 'Too Many Requests', code: '50011' }),
  answer: answerOkx,
};
