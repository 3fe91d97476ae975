// One GET /api/v3/klines request under the weight budget (binance-weighted-get.ts: 429/418 waited out, 400 bodies as
// clear terminal errors).
import { z } from 'zod';
import type { CandleInterval } from '../../core/candle-interval.ts';
import type { HttpClient, HttpResponse } from '../../http/http-client.ts';
import { redactUrl } from '../../http/redact.ts';
import type { WeightBudget } from './binance-weight-budget.ts';
import { weightedGet } from './binance-weighted-get.ts';

/** Weight of a klines request (any limit up to 1000). */
export const KLINES_WEIGHT = 2;
/** Largest page Binance serves. */
export const KLINES_MAX_LIMIT = 1000;
/** A kline row: `[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBase, takerQuote, ignore]`. */
const klineSchema = z.tuple([z.number(), z.string(), z.string(), z.string(), z.string(), z.string(), z.number(), z.string(), z.number()]).rest(z.unknown());
const klinesSchema = z.array(klineSchema);
export type KlineRow = z.infer<typeof klineSchema>;

export interface KlinesRequest {
  symbol: string;
  interval: CandleInterval;
  /** Inclusive, ms. */
  startTime: number;
  /** Inclusive on the open time, ms. */
  endTime: number;
  limit?: number;
}

export interface KlinesPage {
  response: HttpResponse;
  url: string;
  klines: KlineRow[];
}

/** Logger the request reports waits to (the run logger). */
export interface KlinesLogger {
  warn(obj: object, msg: string): void;
}

/** `${base}/api/v3/klines?symbol=…&interval=…&startTime=…&endTime=…&limit=…`. */
function klinesUrl(baseUrl: string, req: KlinesRequest): string {
  const u = new URL(`${baseUrl.replace(/\/+$/, '')}/api/v3/klines`);
  u.searchParams.set('symbol', req.symbol);
  u.searchParams.set('interval', req.interval);
  u.searchParams.set('startTime', String(req.startTime));
  u.searchParams.set('endTime', String(req.endTime));
  u.searchParams.set('limit', String(Math.min(req.limit ?? KLINES_MAX_LIMIT, KLINES_MAX_LIMIT)));
  return u.toString();
}

/**
 * Fetches one page of klines within the budget. 429 and 418 pause the whole budget for Retry-After (every symbol
 * sharing it waits) and the request is sent again; other failures are the HTTP client's (retries on 5xx/timeouts).
 */
export async function fetchKlines(
  http: HttpClient,
  baseUrl: string,
  budget: WeightBudget,
  req: KlinesRequest,
  opts: { signal?: AbortSignal; log?: KlinesLogger } = {},
): Promise<KlinesPage> {
  const url = klinesUrl(baseUrl, req);
  const { response, data } = await weightedGet(http, budget, url, KLINES_WEIGHT, {
    shape: klinesSchema,
    endpoint: 'klines',
    request: `klines ${req.symbol} ${req.interval}`,
    hint: 'check the symbol (e.g. BTCUSDT) and the interval (1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M)',
    signal: opts.signal,
    log: opts.log,
  });
  return { response, url: redactUrl(url), klines: data };
}
