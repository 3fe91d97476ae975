// One Binance REST GET under the weight budget: reserve weight, send, adopt the server's weight count, wait out
// 429/418 (Retry-After, pausing every request sharing the budget) and try again; a 400 body becomes a clear terminal
// error, and the answer is checked against the endpoint's shape.
import { z } from 'zod';
import { TerminalError, TransientError } from '../../core/errors.ts';
import { parseRetryAfter, type HttpClient, type HttpResponse } from '../../http/http-client.ts';
import { redactUrl } from '../../http/redact.ts';
import type { WeightBudget } from './binance-weight-budget.ts';

/** Refusals (429/418) tolerated for one request before it fails. */
const MAX_REFUSALS = 8;

const errorSchema = z.object({ code: z.number(), msg: z.string() });

/** What a request is, for its errors: the endpoint's name, the request in words, and the hint of a 400. */
export interface WeightedRequest<T> {
  /** The body's shape. */
  shape: z.ZodType<T>;
  /** The endpoint, e.g. `klines` (in "unexpected klines response from …"). */
  endpoint: string;
  /** The request, e.g. `klines BTCUSDT 1m` (in "Binance rejected klines BTCUSDT 1m: …"). */
  request: string;
  /** The hint under a 400. */
  hint: string;
  signal?: AbortSignal;
  /** Told of every refusal it waits out. */
  log?: { warn(obj: object, msg: string): void };
}

/**
 * GETs `url` for `weight` of `budget` and returns the response with its body checked against `req.shape`. Other
 * failures are the HTTP client's (retries on 5xx and timeouts).
 */
export async function weightedGet<T>(http: HttpClient, budget: WeightBudget, url: string, weight: number, req: WeightedRequest<T>): Promise<{ response: HttpResponse; data: T }> {
  const safe = redactUrl(url);
  for (let refusals = 0; ; ) {
    const ticket = await budget.acquire(weight, req.signal);
    let response: HttpResponse;
    try {
      response = await http.get(url, { signal: req.signal, okStatuses: [400, 418, 429] });
    } catch (err) {
      budget.settle(ticket);
      throw err;
    }
    budget.settle(ticket, response.headers.get('x-mbx-used-weight-1m'));
    if (response.status === 429 || response.status === 418) {
      const waitMs = parseRetryAfter(response.headers.get('retry-after')) ?? budget.windowMs;
      budget.pause(waitMs);
      req.log?.warn({ url: safe, status: response.status, retryAfterMs: waitMs }, 'Binance refused the request weight; every request waits');
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
      const why = err.success ? `${err.data.msg} (code ${err.data.code})` : text.slice(0, 200);
      throw new TerminalError(`Binance rejected ${req.request}: ${why}`, { url: safe, hint: req.hint });
    }
    const parsed = req.shape.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TerminalError(`unexpected ${req.endpoint} response from ${safe}: at ${issue?.path.join('.') || 'body'}: ${issue?.message}`, { url: safe });
    }
    return { response, data: parsed.data };
  }
}
