// One ccxt exchange as coinlake drives it: created once per process for (id, URL, key) so every symbol of a run shares
// its throttler (`enableRateLimit`, the exchange's own `rateLimit`), its `urls.api` pointed at an override, keys from
// the catalog connection or the environment, and every HTTP request sent through the job's HttpClient (coinlake's --rate, retries on network
// errors and 5xx, Retry-After on 429/418, redaction), whose exact response bytes each call keeps for the raw lake.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Exchange } from 'ccxt';
import { InternalError, TerminalError } from '../../core/errors.ts';
import type { ConnectionCredentials } from '../../core/source.ts';
import type { HttpClient, HttpResponse } from '../../http/http-client.ts';
import { redactUrl, registerSecret } from '../../http/redact.ts';
import { exchangeOrigin, overrideApiUrls } from './ccxt-url-override.ts';

export type CcxtModule = (typeof import('ccxt'))['default'];

let loading: Promise<CcxtModule> | undefined;

/** ccxt itself, loaded on first use (it takes most of a second, so commands that run no ccxt job never pay it). */
export function loadCcxt(): Promise<CcxtModule> {
  loading ??= import('ccxt').then((m) => m.default);
  return loading;
}

/** One response an exchange call received: where from (secrets redacted) and the bytes exactly as sent. */
export interface CapturedResponse {
  url: string;
  status: number;
  headers: Headers;
  body: Uint8Array;
  gzipped?: Uint8Array;
}

/** What a call's requests go through and what they received (per call, so concurrent symbols never mix bytes). */
interface CallScope {
  http: HttpClient;
  signal: AbortSignal;
  responses: CapturedResponse[];
}

const calls = new AsyncLocalStorage<CallScope>();

/**
 * Statuses handed to ccxt as they are, so it maps the exchange's error body (an unknown symbol, a bad request) to its
 * own error classes; 408, 418, 429 and 5xx are the HttpClient's to wait out and retry.
 */
const PASSED_TO_CCXT = Array.from({ length: 100 }, (_, i) => 400 + i).filter((s) => s !== 408 && s !== 418 && s !== 429);

/** ccxt's fetch, replaced: the request goes through the calling job's HttpClient and its response is kept. */
async function fetchThroughCoinlake(url: string, init: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Response> {
  const scope = calls.getStore();
  if (!scope) throw new InternalError(`a ccxt request to ${redactUrl(url)} was sent outside a coinlake call`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(init.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v);
  const method = (init.method ?? 'GET').toUpperCase();
  let res: HttpResponse;
  if (method === 'GET') res = await scope.http.get(url, { headers, signal: scope.signal, okStatuses: PASSED_TO_CCXT });
  else if (method === 'POST') res = await scope.http.postOnce(url, init.body ?? '', { headers, signal: scope.signal, okStatuses: PASSED_TO_CCXT });
  else throw new TerminalError(`ccxt asked for ${method} ${redactUrl(url)}; coinlake sends GET and POST only`, { url: redactUrl(url) });
  scope.responses.push({ url: redactUrl(url), status: res.status, headers: res.headers, body: res.body, gzipped: res.gzipped });
  const empty = res.status === 204 || res.status === 304 || res.body.length === 0;
  // The body is decompressed already: the headers must not say otherwise.
  const out = new Headers(res.headers);
  out.delete('content-encoding');
  out.delete('content-length');
  return new Response(empty ? null : (res.body as unknown as BodyInit), { status: res.status, headers: out });
}

/** An opened exchange: its ccxt instance and where its API is (for messages). */
export interface CcxtVenue {
  id: string;
  exchange: Exchange;
  /** The override origin, or the exchange's own API URL. */
  apiUrl: string;
  /** The first URL its markets were loaded from, once they were. */
  marketsUrl?: string;
}

const venues = new Map<string, Promise<CcxtVenue>>();

/** ccxt's keys of an exchange. */
export interface VenueKeys {
  apiKey?: string;
  secret?: string;
  password?: string;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The exchange's API keys (registered for redaction): the catalog connection's credentials when the job has them —
 * its secret a JSON object `{"apiKey", "secret", "password"}`, or the exchange secret with the API key as user_name —
 * else COINLAKE_CCXT_<EXCHANGE>_API_KEY, _SECRET and _PASSWORD.
 */
export function venueCredentials(id: string, env: NodeJS.ProcessEnv = process.env, credentials?: ConnectionCredentials): VenueKeys {
  const prefix = `COINLAKE_CCXT_${id.toUpperCase()}_`;
  let out: VenueKeys = { apiKey: text(env[`${prefix}API_KEY`]), secret: text(env[`${prefix}SECRET`]), password: text(env[`${prefix}PASSWORD`]) };
  if (credentials) {
    const secret = credentials.secret.trim();
    if (secret.startsWith('{')) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(secret) as Record<string, unknown>;
      } catch {
        throw new TerminalError(`the connection secret of ccxt exchange ${id} starts like JSON but does not parse`, { hint: 'store {"apiKey": "…", "secret": "…"} (and "password" where the exchange has one), or the secret alone with the API key as the connection\'s user_name' });
      }
      out = { apiKey: text(parsed.apiKey), secret: text(parsed.secret), password: text(parsed.password) };
    } else {
      out = { apiKey: text(credentials.user), secret: text(secret) };
    }
  }
  registerSecret(out.apiKey);
  registerSecret(out.secret);
  registerSecret(out.password);
  return out;
}

/** The first http(s) URL in `urls.api`, for messages. */
function firstApiUrl(api: unknown): string | undefined {
  if (typeof api === 'string') return /^https?:/i.test(api) ? api : undefined;
  if (api && typeof api === 'object') for (const v of Object.values(api)) {
    const found = firstApiUrl(v);
    if (found) return found;
  }
  return undefined;
}

async function createVenue(id: string, origin: string | undefined, keys: VenueKeys): Promise<CcxtVenue> {
  const ccxt = await loadCcxt();
  const Ctor = (ccxt as unknown as Record<string, unknown>)[id];
  if (!ccxt.exchanges.includes(id) || typeof Ctor !== 'function') {
    const near = ccxt.exchanges.filter((x) => x.startsWith(id.slice(0, 3))).slice(0, 8);
    throw new TerminalError(`ccxt has no exchange "${id}"`, { hint: near.length ? `did you mean ${near.join(', ')}?` : `ccxt ${ccxt.version} knows ${ccxt.exchanges.length} exchanges, e.g. kraken, coinbase, okx, bybit` });
  }
  const exchange = new (Ctor as new (config: object) => Exchange)({
    enableRateLimit: true,
    // coinlake's HttpClient times requests out (and retries them); ccxt's own timer must not cut that short.
    timeout: 10 * 60_000,
    // coinlake's User-Agent instead of ccxt's browser one.
    userAgent: '',
    ...keys,
  });
  exchange.fetchImplementation = fetchThroughCoinlake;
  // No burst credit: ccxt's bucket lets a request through a token early after an idle spell, which can put one request
  // more than the exchange's rate into a window; without it requests are never closer than cost × rateLimit.
  exchange.tokenBucket = { ...exchange.tokenBucket, capacity: 0 };
  exchange.initThrottler();
  if (origin) exchange.urls = { ...exchange.urls, api: overrideApiUrls(exchange.urls.api, origin) };
  return { id, exchange, apiUrl: redactUrl(origin ?? firstApiUrl(exchange.urls.api) ?? id) };
}

/**
 * The exchange `id` with its API at the job's override (exchangeOrigin) and its keys (venueCredentials), shared by
 * every job of the process that opens the same exchange at the same place with the same keys.
 */
export function openVenue(id: string, jobBaseUrl: string, credentials?: ConnectionCredentials, env: NodeJS.ProcessEnv = process.env): Promise<CcxtVenue> {
  const origin = exchangeOrigin(id, jobBaseUrl, env);
  const keys = venueCredentials(id, env, credentials);
  const key = [id, origin ?? '', keys.apiKey ?? ''].join('|');
  let venue = venues.get(key);
  if (!venue) {
    venue = createVenue(id, origin, keys);
    venues.set(key, venue);
    venue.catch(() => venues.delete(key));
  }
  return venue;
}

/** How one ccxt call ended, with the responses it received, in order. */
export type CapturedCall<T> = { ok: true; value: T; responses: CapturedResponse[] } | { ok: false; error: unknown; responses: CapturedResponse[] };

/** Runs one ccxt call with its requests through `http` (aborted by `signal`); never throws: the outcome says how it ended. */
export async function captured<T>(http: HttpClient, signal: AbortSignal, fn: () => Promise<T>): Promise<CapturedCall<T>> {
  const scope: CallScope = { http, signal, responses: [] };
  try {
    return { ok: true, value: await calls.run(scope, fn), responses: scope.responses };
  } catch (error) {
    return { ok: false, error, responses: scope.responses };
  }
}
