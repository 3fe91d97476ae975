// Gap-fill for Binance trade feeds: trades a websocket missed (a reconnect, a restart of the producer) come from
// Binance REST `GET /api/v3/historicalTrades?symbol=&fromId=&limit=1000` (binance.trades; rows
// `{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}`) or `GET /api/v3/aggTrades?…` (binance.aggtrades;
// rows `{"a", "p", "q", "f", "l", "T", "m", "M"}`), ascending ids, paged by id until the first one the new connection
// sent, as records with the same message ids as the websocket's, so a trade both sources sent is stored once.
import { z } from 'zod';
import { HttpClient } from '../../http/http-client.ts';
import { weightBudgetFor, type WeightBudget } from './binance-weight-budget.ts';
import { weightedGet } from './binance-weighted-get.ts';
import { aggTradeRecords, binanceTradeMsgId, binanceTradeRecord } from './binance-feeds.ts';
import type { FeedRecord } from '../../streaming/feed.ts';
import type { GapFiller } from '../../streaming/ws-producer.ts';

/** Weight of one historicalTrades request (Binance spot, since 2023-08-25). */
export const HISTORICAL_TRADES_WEIGHT = 25;
/** Weight of one aggTrades request. */
export const AGG_TRADES_WEIGHT = 2;
/** Largest page Binance serves. */
export const HISTORICAL_TRADES_MAX_LIMIT = 1000;

const tradeSchema = z.object({ id: z.number(), price: z.string(), qty: z.string(), time: z.number(), isBuyerMaker: z.boolean() });
const aggTradeSchema = z.object({ a: z.number(), p: z.string(), q: z.string(), f: z.number(), l: z.number(), T: z.number(), m: z.boolean() }).passthrough();

/** One REST endpoint of trades by id: its path and weight, its row shape, a row's id and its records. */
interface TradeEndpoint<T> {
  path: string;
  weight: number;
  rows: z.ZodType<T[]>;
  id(row: T): number;
  records(symbol: string, row: T, receivedAt: number): FeedRecord[];
}

const historicalTrades: TradeEndpoint<z.infer<typeof tradeSchema>> = {
  path: '/api/v3/historicalTrades',
  weight: HISTORICAL_TRADES_WEIGHT,
  rows: z.array(tradeSchema),
  id: (t) => t.id,
  records: (symbol, t, receivedAt) => [{ msgId: binanceTradeMsgId(symbol, t.id), record: binanceTradeRecord(symbol, { id: t.id, price: t.price, qty: t.qty, time: t.time, buyerIsMaker: t.isBuyerMaker }, receivedAt) }],
};

const aggTrades: TradeEndpoint<z.infer<typeof aggTradeSchema>> = {
  path: '/api/v3/aggTrades',
  weight: AGG_TRADES_WEIGHT,
  rows: z.array(aggTradeSchema),
  id: (t) => t.a,
  records: (symbol, t, receivedAt) => aggTradeRecords({ ...t, e: 'aggTrade', s: symbol }, receivedAt),
};

/** `${base}${path}?symbol=…&fromId=…&limit=…` (path `/api/v3/historicalTrades` or `/api/v3/aggTrades`). */
export function tradesByIdUrl(baseUrl: string, path: string, symbol: string, fromId: number, limit = HISTORICAL_TRADES_MAX_LIMIT): string {
  const u = new URL(`${baseUrl.replace(/\/+$/, '')}${path}`);
  u.searchParams.set('symbol', symbol);
  u.searchParams.set('fromId', String(fromId));
  u.searchParams.set('limit', String(limit));
  return u.toString();
}

/**
 * A GapFiller of trade ids [from, to] reading `${restBaseUrl}/api/v3/historicalTrades` (series are canonical pairs,
 * `BTC-USDT`) within the connection's weight budget; 429/418 wait out Retry-After, a 400 is a terminal error.
 */
export function tradeGapFiller(restBaseUrl: string, http = new HttpClient({ rateLimitPerMinute: 0 })): GapFiller {
  return tradesByIdFiller(historicalTrades, restBaseUrl, http);
}

/** The same for aggregate trade ids, from `${restBaseUrl}/api/v3/aggTrades`. */
export function aggTradeGapFiller(restBaseUrl: string, http = new HttpClient({ rateLimitPerMinute: 0 })): GapFiller {
  return tradesByIdFiller(aggTrades, restBaseUrl, http);
}

function tradesByIdFiller<T>(endpoint: TradeEndpoint<T>, restBaseUrl: string, http: HttpClient): GapFiller {
  const budget = weightBudgetFor(restBaseUrl, {});
  return async function* (series, from, to) {
    const symbol = series.replace('-', '');
    for (let next = from; next <= to; ) {
      const out: FeedRecord[] = [];
      const url = tradesByIdUrl(restBaseUrl, endpoint.path, symbol, next, Math.min(HISTORICAL_TRADES_MAX_LIMIT, to - next + 1));
      const page = await fetchTrades(http, budget, url, symbol, endpoint);
      const receivedAt = Date.now();
      for (const t of page) {
        const id = endpoint.id(t);
        if (id < next || id > to) continue;
        out.push(...endpoint.records(symbol, t, receivedAt));
      }
      yield out;
      const lastId = page.length ? endpoint.id(page[page.length - 1]) : undefined;
      // No trade at or after `next` (or none new): nothing more to read.
      if (lastId === undefined || lastId < next) break;
      next = lastId + 1;
    }
  };
}

async function fetchTrades<T>(http: HttpClient, budget: WeightBudget, url: string, symbol: string, endpoint: TradeEndpoint<T>): Promise<T[]> {
  const what = endpoint.path.slice('/api/v3/'.length);
  const { data } = await weightedGet(http, budget, url, endpoint.weight, { shape: endpoint.rows, endpoint: what, request: `${what} ${symbol}`, hint: 'check the symbol (e.g. BTCUSDT)' });
  return data;
}
