// One GET /api/v3/klines request under the weight budget: reserve weight, send, adopt the server's weight
// count, wait out 429/418 (Retry-After) and try again; Binance's 400 bodies become clear terminal errors.
import { z } from 'zod';
import { TerminalError, TransientError } from '../../core/errors.ts';
import type { CandleInterval } from '../../core/candle-interval.ts';
import { parseRetryAfter, type HttpClient, type HttpResponse } from '../../http/http-client.ts';
import { redactUrl } from '../../http/redact.ts';
import type { WeightBudget } from './binance-weight-budget.ts';

/** Weight of a klines request (any limit up to 1000). */
export const KLINES_WEIGHT = 2;
/** Largest page Binance serves. */
export const KLINES_MAX_LIMIT = 1000;
/** Refusals (429/418) tolerated for one request before the run fails. */
const MAX_REFUSALS = 8;

/** A kline row: `[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBase, takerQuote, ignore]`. */
const klineSchema = z.tuple([z.number(), z.string(), z.string(), z.string(), z.string(), z.string(), z.number(), z.string(), z.number()]).rest(z.unknown());
const klinesSchema = z.array(klineSchema);
export type KlineRow = z.infer<typeof klineSchema>;

const errorSchema = z.object({ code: z.number(), msg: z.string() });

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
  const safe = redactUrl(url);
  for (let refusals = 0; ; ) {
    const ticket = await budget.acquire(KLINES_WEIGHT, opts.signal);
    let response: HttpResponse;
    try {
      response = await http.get(url, { signal: opts.signal, okStatuses: [400, 418, 429] });
    } catch (err) {
      budget.settle(ticket);
      throw err;
    }
    budget.settle(ticket, response.headers.get('x-mbx-used-weight-1m'));
    if (response.status === 429 || response.status === 418) {
      const waitMs = parseRetryAfter(response.headers.get('retry-after')) ?? budget.windowMs;
      budget.pause(waitMs);
      opts.log?.warn({ url: safe, status: response.status, retryAfterMs: waitMs }, 'Binance refused the request weight; every request waits');
      if (++refusals > MAX_REFUSALS) {
        throw new TransientError(`Binance kept refusing ${safe} (HTTP ${response.status}) after ${MAX_REFUSALS} waits`, { url: safe, status: response.status, retryAfterMs: waitMs });
      }
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
      throw new TerminalError(`Binance rejected klines ${req.symbol} ${req.interval}: ${what}`, {
        url: safe,
        hint: 'check the symbol (e.g. BTCUSDT) and the interval (1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M)',
      });
    }
    const parsed = klinesSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TerminalError(`unexpected klines response from ${safe}: at ${issue?.path.join('.') || 'body'}: ${issue?.message}`, { url: safe });
    }
    return { response, url: safe, klines: parsed.data };
  }
}
