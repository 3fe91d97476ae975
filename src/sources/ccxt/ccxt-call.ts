// One ccxt call as a coinlake request: the exchange's refusals (ccxt's RateLimitExceeded / DDoSProtection, and a
// 429/418 still refused after the HttpClient's own retries) waited out — Retry-After when the exchange sent one, else
// a doubling wait — at most MAX_REFUSALS times; every other failure turned into a coinlake error naming the exchange,
// what was asked (symbol included) and the URL.
import type { Exchange } from 'ccxt';
import { CoinlakeError, TerminalError, TransientError, errorMessage } from '../../core/errors.ts';
import { DEFAULT_MAX_RETRY_AFTER_MS, parseRetryAfter, waitOutRetryAfter, type HttpClient } from '../../http/http-client.ts';
import { redactText } from '../../http/redact.ts';
import { captured, loadCcxt, type CapturedResponse, type CcxtModule, type CcxtVenue } from './ccxt-venue.ts';

/** Refusals of one call waited out before it fails (on top of the HttpClient's retries of each request). */
export const MAX_REFUSALS = 6;
/** Longest wait between refusals without a Retry-After. */
const MAX_BACKOFF_MS = 30_000;

/** What a call asks, for its errors: `OHLCV BTC/USD 1m`, and the symbol when it is about one. */
export interface CallInfo {
  venue: CcxtVenue;
  what: string;
  symbol?: string;
}

/** Where a call's requests go and what stops them. */
export interface CallContext {
  http: HttpClient;
  signal: AbortSignal;
}

/** A call's value, the last response it received (the one its value was parsed from) and all of them in order. */
export interface CallResult<T> {
  value: T;
  response?: CapturedResponse;
  responses: CapturedResponse[];
}

function isRefusal(err: unknown, ccxt: CcxtModule): boolean {
  if (err instanceof ccxt.RateLimitExceeded || err instanceof ccxt.DDoSProtection) return true;
  return err instanceof TransientError && (err.status === 429 || err.status === 418);
}

/** The hint under an error about `venue`'s keys. */
function keysHint(id: string): string {
  return `check COINLAKE_CCXT_${id.toUpperCase()}_API_KEY and _SECRET (public market data needs none)`;
}

/**
 * A ccxt (or transport) failure of `info` as a coinlake error naming exchange, request and URL. `status` is the HTTP
 * status of the last response: a 4xx (refusals aside) is terminal whatever class ccxt gives it (ccxt calls a 404
 * ExchangeNotAvailable).
 */
export function coinlakeError(err: unknown, ccxt: CcxtModule, info: CallInfo, url: string, status?: number): Error {
  if (err instanceof CoinlakeError) return err;
  const id = info.venue.id;
  const why = redactText(errorMessage(err));
  if (err instanceof ccxt.BadSymbol) {
    return new TerminalError(`${id} does not list ${info.symbol ?? 'the symbol'} (${info.what} at ${url}): ${why}`, { url, hint: `\`coinlake run ccxt.markets --exchange ${id}\` loads the markets it lists` });
  }
  if (err instanceof ccxt.AuthenticationError) return new TerminalError(`${id} refused the credentials for ${info.what}: HTTP ${status ?? '?'} from ${url}: ${why}`, { url, hint: keysHint(id) });
  if (err instanceof ccxt.NotSupported) return new TerminalError(`${id} does not support ${info.what} in ccxt: ${why}`, { url });
  if (status !== undefined && status >= 400 && status < 500) return new TerminalError(`${id} refused ${info.what}: HTTP ${status} from ${url}: ${why}`, { url });
  if (err instanceof ccxt.OperationFailed) return new TransientError(`${id} failed ${info.what} at ${url}: ${why}`, { url });
  if (err instanceof ccxt.BaseError) return new TerminalError(`${id} rejected ${info.what} at ${url}: ${why}`, { url });
  return new TerminalError(`ccxt failed on ${id} ${info.what} at ${url}: ${why}`, { url, hint: 'the response may not have the shape ccxt expects; the raw lake keeps what was received' });
}

/**
 * Runs `fn` on the venue's exchange with its requests through `ctx.http` (the exchange's throttler first), waiting out
 * refusals; throws the coinlake error of any other failure.
 */
export async function ccxtCall<T>(ctx: CallContext, info: CallInfo, fn: (exchange: Exchange) => Promise<T>): Promise<CallResult<T>> {
  const ccxt = await loadCcxt();
  for (let refusals = 0; ; refusals++) {
    const call = await captured(ctx.http, ctx.signal, () => fn(info.venue.exchange));
    if (call.ok) return { value: call.value, response: call.responses.at(-1), responses: call.responses };
    if (ctx.signal.aborted) throw call.error;
    const last = call.responses.at(-1);
    const url = last?.url ?? info.venue.apiUrl;
    if (!isRefusal(call.error, ccxt)) throw coinlakeError(call.error, ccxt, info, url, last?.status);
    const retryAfter = parseRetryAfter(last?.headers.get('retry-after') ?? null) ?? (call.error instanceof TransientError ? call.error.retryAfterMs : undefined);
    const waitMs = retryAfter ?? Math.min(MAX_BACKOFF_MS, Math.max(1000, Number(info.venue.exchange.rateLimit) || 0) * 2 ** refusals);
    if (refusals >= MAX_REFUSALS) {
      throw new TransientError(`${info.venue.id} kept refusing ${info.what} at ${url} (rate limit) after ${MAX_REFUSALS} waits: ${redactText(errorMessage(call.error))}`, {
        url,
        retryAfterMs: waitMs,
        hint: 'run it again later, or lower the request rate with --rate',
      });
    }
    await waitOutRetryAfter(waitMs, 1, url, DEFAULT_MAX_RETRY_AFTER_MS, ctx.signal);
  }
}
