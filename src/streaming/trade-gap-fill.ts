// Gap-fill for Binance trade feeds: trades a websocket missed (a reconnect, a restart of the producer) come from
// Binance REST `GET /api/v3/historicalTrades?symbol=&fromId=&limit=1000`, paged by trade id until the first trade the
// new connection sent, as records with the same message ids as the websocket's, so a trade both sources sent is
// stored once. Responses: `[{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}]`, ascending ids.
import { z } from 'zod';
import { TerminalError, TransientError } from '../core/errors.ts';
import { HttpClient, parseRetryAfter } from '../http/http-client.ts';
import { redactUrl } from '../http/redact.ts';
import { weightBudgetFor, type WeightBudget } from '../sources/binance/binance-weight-budget.ts';
import { binanceTradeMsgId, binanceTradeRecord } from './binance-feeds.ts';
import type { FeedRecord } from './feed.ts';
import type { GapFiller } from './ws-producer.ts';

/** Weight of one historicalTrades request (Binance spot, since 2023-08-25). */
export const HISTORICAL_TRADES_WEIGHT = 25;
/** Largest page Binance serves. */
export const HISTORICAL_TRADES_MAX_LIMIT = 1000;
/** Refusals (429/418) tolerated for one request before the fill fails. */
const MAX_REFUSALS = 8;

const tradeSchema = z.object({ id: z.number(), price: z.string(), qty: z.string(), time: z.number(), isBuyerMaker: z.boolean() });
const tradesSchema = z.array(tradeSchema);
const errorSchema = z.object({ code: z.number(), msg: z.string() });

/** `${base}/api/v3/historicalTrades?symbol=…&fromId=…&limit=…`. */
export function historicalTradesUrl(baseUrl: string, symbol: string, fromId: number, limit = HISTORICAL_TRADES_MAX_LIMIT): string {
  const u = new URL(`${baseUrl.replace(/\/+$/, '')}/api/v3/historicalTrades`);
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
  const budget = weightBudgetFor(restBaseUrl, {});
  return async (series, from, to) => {
    const symbol = series.replace('-', '');
    const out: FeedRecord[] = [];
    for (let next = from; next <= to; ) {
      const url = historicalTradesUrl(restBaseUrl, symbol, next, Math.min(HISTORICAL_TRADES_MAX_LIMIT, to - next + 1));
      const page = await fetchTrades(http, budget, url, symbol);
      const receivedAt = Date.now();
      for (const t of page) {
        if (t.id < next || t.id > to) continue;
        out.push({ msgId: binanceTradeMsgId(symbol, t.id), record: binanceTradeRecord(symbol, { id: t.id, price: t.price, qty: t.qty, time: t.time, buyerIsMaker: t.isBuyerMaker }, receivedAt) });
      }
      const lastId = page.length ? page[page.length - 1].id : undefined;
      // No trade at or after `next` (or none new): nothing more to read.
      if (lastId === undefined || lastId < next) break;
      next = lastId + 1;
    }
    return out;
  };
}

async function fetchTrades(http: HttpClient, budget: WeightBudget, url: string, symbol: string): Promise<z.infer<typeof tradesSchema>> {
  const safe = redactUrl(url);
  for (let refusals = 0; ; ) {
    const ticket = await budget.acquire(HISTORICAL_TRADES_WEIGHT);
    let response;
    try {
      response = await http.get(url, { okStatuses: [400, 418, 429] });
    } catch (err) {
      budget.settle(ticket);
      throw err;
    }
    budget.settle(ticket, response.headers.get('x-mbx-used-weight-1m'));
    if (response.status === 429 || response.status === 418) {
      const waitMs = parseRetryAfter(response.headers.get('retry-after')) ?? budget.windowMs;
      budget.pause(waitMs);
      if (++refusals > MAX_REFUSALS) throw new TransientError(`Binance kept refusing ${safe} (HTTP ${response.status}) after ${MAX_REFUSALS} waits`, { url: safe, status: response.status });
      continue;
    }
    const text = Buffer.from(response.body).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TransientError(`invalid JSON from ${safe} (${response.body.length} bytes)`, { url: safe });
    }
    if (response.status === 400) {
      const err = errorSchema.safeParse(json);
      const what = err.success ? `${err.data.msg} (code ${err.data.code})` : text.slice(0, 200);
      throw new TerminalError(`Binance rejected historicalTrades ${symbol}: ${what}`, { url: safe, hint: 'check the symbol (e.g. BTCUSDT)' });
    }
    const parsed = tradesSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TerminalError(`unexpected historicalTrades response from ${safe}: at ${issue?.path.join('.') || 'body'}: ${issue?.message}`, { url: safe });
    }
    return parsed.data;
  }
}
