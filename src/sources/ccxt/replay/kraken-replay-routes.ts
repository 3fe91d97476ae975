// Kraken's public REST API as the replay server serves it under /ccxt/kraken: /0/public/Time, Assets, AssetPairs,
// Ticker, OHLC (1-minute) and Trades, in Kraken's shapes ({"error": [...], "result": {...}}) from the generated market
// in ccxt-replay-series.ts, with Kraken's parameter rules and error strings (HTTP 200 with the error in the body, as
// Kraken sends them) and its public request limit.
import { jsonResponse, type ReplayResponse } from '../../../replay/replay-response.ts';
import type { ReplayRequest } from '../../../replay/replay-mount.ts';
import type { CcxtReplayExchangeRoutes } from './ccxt-replay-exchange.ts';
import { MINUTE_MS, REPLAY_HISTORY_START_MS, replayCandles, replayTrades, replayTradesOfMinute, type ReplayTrade } from './ccxt-replay-series.ts';
import { findKrakenPair, KRAKEN_PAIRS, krakenAssetPairs, krakenAssets, krakenPrice, krakenTicker, krakenVolume, type KrakenPair } from './kraken-replay-markets.ts';

/** Most OHLC entries Kraken returns in one answer. */
export const KRAKEN_OHLC_MAX = 720;
/** Trades per answer: Kraken's default and maximum `count`. */
export const KRAKEN_TRADES_MAX = 1000;

const ok = (result: unknown): ReplayResponse => jsonResponse(200, { error: [], result });
/** Kraken reports errors in the body with HTTP 200 (other statuses mean the request never reached the API). */
const krakenError = (message: string, status = 200): ReplayResponse => jsonResponse(status, { error: [message] });
const invalidArguments = () => krakenError('EGeneral:Invalid arguments');
const unknownPair = () => krakenError('EQuery:Unknown asset pair');

/** The pairs a comma-separated `pair` parameter names (all when absent); undefined when one is unknown. */
function namedPairs(raw: string | null): KrakenPair[] | undefined {
  if (raw === null || raw === '') return KRAKEN_PAIRS;
  const pairs = raw.split(',').map((name) => findKrakenPair(name.trim()));
  return pairs.every((p) => p !== undefined) ? pairs : undefined;
}

/** One pair named by a required `pair` parameter, or the error Kraken answers. */
function onePair(raw: string | null): KrakenPair | ReplayResponse {
  if (raw === null || raw === '') return invalidArguments();
  return findKrakenPair(raw) ?? unknownPair();
}

const SECONDS = /^\d{1,11}(\.\d{1,9})?$/;

/**
 * GET /0/public/OHLC?pair&interval&since: [time s, open, high, low, close, vwap, volume, count] for the 1-minute
 * candles opening after `since` (exclusive, seconds), ascending, at most 720, and `last` (the newest committed entry's
 * time: the `since` of the next poll). Minutes without a candle in the series are absent, as in Kraken's OHLC.
 *
 * Deviation: Kraken only ever returns the most recent 720 entries (older ones "cannot be retrieved, regardless of
 * since") and always appends the current, unfinished interval; the replay serves up to 720 from `since` on, ending at
 * the current minute, so history can be backfilled by paging `since` — what the ccxt source does against it. Only
 * interval 1 is served (the generated market is 1-minute); vwap is the typical price (high + low + close) / 3 on the
 * pair's tick and count is the number of replayed trades in the minute.
 */
function ohlc(query: URLSearchParams, now: number): ReplayResponse {
  const pair = onePair(query.get('pair'));
  if ('status' in pair) return pair;
  const interval = query.get('interval') ?? '1';
  if (interval !== '1') return invalidArguments();
  const sinceRaw = query.get('since');
  if (sinceRaw !== null && sinceRaw !== '' && !SECONDS.test(sinceRaw)) return invalidArguments();
  const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const sinceMs = sinceRaw ? Math.floor(Number(sinceRaw) * 1000) : undefined;
  const from = sinceMs === undefined ? current - (KRAKEN_OHLC_MAX - 1) * MINUTE_MS : sinceMs + 1;
  const candles = replayCandles('kraken', pair.market.symbol, from, current + MINUTE_MS, KRAKEN_OHLC_MAX);
  const { symbol, priceDecimals } = pair.market;
  const rows = candles.map((c) => [
    c.ts / 1000,
    krakenPrice(pair, c.open),
    krakenPrice(pair, c.high),
    krakenPrice(pair, c.low),
    krakenPrice(pair, c.close),
    krakenPrice(pair, Math.round(((c.high + c.low + c.close) / 3) * 10 ** priceDecimals) / 10 ** priceDecimals),
    krakenVolume(pair, c.volume),
    replayTradesOfMinute('kraken', symbol, c.ts).length,
  ]);
  const committed = candles.filter((c) => c.ts < current).at(-1);
  const last = committed ? committed.ts / 1000 : Math.floor((sinceMs ?? current - MINUTE_MS) / 1000);
  return ok({ [pair.id]: rows, last });
}

/** Kraken prints trade prices with at least 5 decimals ("30243.40000"), whatever the pair's tick. */
const tradePrice = (pair: KrakenPair, price: number) => price.toFixed(Math.max(5, pair.market.priceDecimals));

/** The `count` most recent trades at `now` (ascending). */
function latestTrades(symbol: string, now: number, count: number): ReplayTrade[] {
  const newestFirst: ReplayTrade[] = [];
  for (let t = Math.floor(now / MINUTE_MS) * MINUTE_MS; t >= REPLAY_HISTORY_START_MS && newestFirst.length < count; t -= MINUTE_MS) {
    const ofMinute = replayTradesOfMinute('kraken', symbol, t).filter((trade) => trade.timestamp <= now);
    for (let i = ofMinute.length - 1; i >= 0 && newestFirst.length < count; i--) newestFirst.push(ofMinute[i]);
  }
  return newestFirst.reverse();
}

/**
 * GET /0/public/Trades?pair&since&count: [price, volume, time s, "b"/"s", order type, misc, trade_id] ascending, at
 * most `count` (default and maximum 1000), and `last`, the newest returned trade's time in nanoseconds (the cursor to
 * pass as the next `since`). `since` is seconds (inclusive) or Kraken's nanosecond cursor (exclusive); without it the
 * most recent trades. Trades never lie in the future of the server's clock. The generated market has no order types:
 * every trade is marked "l" (limit).
 */
function trades(query: URLSearchParams, now: number): ReplayResponse {
  const pair = onePair(query.get('pair'));
  if ('status' in pair) return pair;
  const countRaw = query.get('count');
  if (countRaw !== null && countRaw !== '' && !/^\d{1,4}$/.test(countRaw)) return invalidArguments();
  const count = countRaw ? Number(countRaw) : KRAKEN_TRADES_MAX;
  if (count < 1 || count > KRAKEN_TRADES_MAX) return invalidArguments();
  const sinceRaw = query.get('since');
  let fromMs: number | undefined;
  if (sinceRaw !== null && sinceRaw !== '') {
    if (/^\d{16,19}$/.test(sinceRaw)) fromMs = Number(sinceRaw.slice(0, -6)) + 1;
    else if (SECONDS.test(sinceRaw)) fromMs = Math.round(Number(sinceRaw) * 1000);
    else return invalidArguments();
  }
  const list = fromMs === undefined ? latestTrades(pair.market.symbol, now, count) : replayTrades('kraken', pair.market.symbol, fromMs, now + 1, count);
  const rows = list.map((t) => [tradePrice(pair, t.price), krakenVolume(pair, t.amount), t.timestamp / 1000, t.side === 'buy' ? 'b' : 's', 'l', '', t.id]);
  const newest = list.at(-1);
  const last = newest ? `${newest.timestamp}000000` : fromMs === undefined ? `${now}000000` : sinceRaw;
  return ok({ [pair.id]: rows, last });
}

function assets(query: URLSearchParams): ReplayResponse {
  const all = krakenAssets();
  const raw = query.get('asset');
  if (raw === null || raw === '') return ok(all);
  const result: Record<string, object> = {};
  for (const name of raw.split(',')) {
    const upper = name.trim().toUpperCase();
    const id = Object.keys(all).find((key) => key === upper || (all[key] as { altname: string }).altname === upper);
    if (!id) return krakenError('EQuery:Unknown asset');
    result[id] = all[id];
  }
  return ok(result);
}

function ticker(query: URLSearchParams, now: number): ReplayResponse {
  const pairs = namedPairs(query.get('pair'));
  if (!pairs) return unknownPair();
  return ok(Object.fromEntries(pairs.map((p) => [p.id, krakenTicker(p, now)])));
}

/** Answers one request below /ccxt/kraken. */
export function answerKraken(r: ReplayRequest, now: number): ReplayResponse {
  switch (r.path) {
    case '/0/public/Time':
      return ok({ unixtime: Math.floor(now / 1000), rfc1123: new Date(now).toUTCString() });
    case '/0/public/Assets':
      return assets(r.query);
    case '/0/public/AssetPairs': {
      const pairs = namedPairs(r.query.get('pair'));
      return pairs ? ok(krakenAssetPairs(pairs)) : unknownPair();
    }
    case '/0/public/Ticker':
      return ticker(r.query, now);
    case '/0/public/OHLC':
      return ohlc(r.query, now);
    case '/0/public/Trades':
      return trades(r.query, now);
    default:
      return krakenError('EGeneral:Unknown method', 404);
  }
}

/**
 * Kraken on the replay server. Its public endpoints are limited per IP: Kraken documents that calling them at one
 * request per second or less stays within the limit (ccxt's kraken spaces requests by rateLimit 1000 ms × cost 1,
 * and 1.2 for OHLC and Trades); the replay allows 15 requests in any 15 s. Beyond it Kraken's
 * `EGeneral:Too many requests` (ccxt: DDoSProtection) with HTTP 429.
 */
export const krakenReplayRoutes: CcxtReplayExchangeRoutes = {
  id: 'kraken',
  rateLimit: { requests: 15, windowMs: 15_000 },
  rateLimited: () => krakenError('EGeneral:Too many requests', 429),
  answer: answerKraken,
};
