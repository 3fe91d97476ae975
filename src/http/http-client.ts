// The one HTTP client: a rate limit per connection, retries with backoff and jitter on transient
// failures (timeouts, connection errors, 5xx, 429 honouring Retry-After), per-request timeouts, gzip.
import PQueue from 'p-queue';
import pRetry, { AbortError } from 'p-retry';
import { TerminalError, TransientError, errorMessage } from '../core/errors.ts';
import { BodyCutOffError, BodyTooLargeError, httpGet, httpPost, type TransportResponse } from './http-transport.ts';
import { redactHeaders, redactUrl } from './redact.ts';
import { USER_AGENT } from './user-agent.ts';

/** A response body read in full, with its status and headers. */
export interface HttpResponse {
  /** The URL that answered (after redirects): relative links in the response resolve against it. */
  url: string;
  status: number;
  headers: Headers;
  /** The body, decompressed. */
  body: Uint8Array;
  /** The body exactly as received, when the server sent it gzipped: the raw lake stores it without compressing again. */
  gzipped?: Uint8Array;
}

/** Minimal logger the client reports retries to. */
export interface HttpLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface HttpClientOptions {
  /** Requests per minute for this connection; default 200 (CoinCap without a key). 0 = unlimited. */
  rateLimitPerMinute?: number;
  /** Retries after the first attempt; default 5. */
  retries?: number;
  /** Backoff base in ms; default 500 (doubling, with jitter, capped at maxBackoffMs). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request timeout in ms; default 30 s. */
  timeoutMs?: number;
  /** Longest Retry-After the client will wait, in ms; default 120 s. */
  maxRetryAfterMs?: number;
  /**
   * Largest response body read (after decompression), in bytes; default 256 MiB. A larger body fails the request
   * with a TerminalError naming the URL as soon as it passes the limit, instead of exhausting memory.
   */
  maxBodyBytes?: number;
  /** Headers sent with every request (e.g. Authorization); they are redacted in logs. */
  headers?: Record<string, string>;
  logger?: HttpLogger;
  /**
   * A budget every attempt takes one request from before it is sent, instead of rateLimitPerMinute: one shared with
   * other processes that use the same key (distributed/shared-budget.ts).
   */
  budget?: RequestBudget;
}

/** Requests allowed over time, taken one per attempt (see HttpClientOptions.budget). */
export interface RequestBudget {
  /** Resolves once one request may be sent; rejects when `signal` aborts or the budget gives up. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Extra statuses that count as success (default only 2xx). */
  okStatuses?: number[];
}

/** Parses a Retry-After header (seconds or HTTP date) into ms. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Rate-limited, retrying HTTP client for one connection. Use one per connection, share it across streams. */
export class HttpClient {
  readonly queue: PQueue;
  private readonly opts: Required<Omit<HttpClientOptions, 'logger' | 'headers' | 'budget'>> & Pick<HttpClientOptions, 'logger' | 'headers' | 'budget'>;
  /** Requests sent (attempts, including retries). */
  attempts = 0;

  constructor(opts: HttpClientOptions = {}) {
    this.opts = {
      rateLimitPerMinute: opts.rateLimitPerMinute ?? 200,
      retries: opts.retries ?? 5,
      minBackoffMs: opts.minBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      headers: opts.headers,
      logger: opts.logger,
      budget: opts.budget,
    };
    // A budget shared with other processes is the limit itself: a local pace on top would only slow a lone worker.
    this.queue = opts.budget ? new PQueue() : rateQueue(this.opts.rateLimitPerMinute);
  }

  /** GET a URL and read the whole body; retries transient failures, throws TerminalError on 4xx. */
  async get(url: string, req: RequestOptions = {}): Promise<HttpResponse> {
    const safeUrl = redactUrl(url);
    checkUrl(url, safeUrl);
    return pRetry(
      async () => {
        try {
          return await this.queue.add(() => this.attempt(url, safeUrl, req));
        } catch (err) {
          if (err instanceof TerminalError) throw new AbortError(err);
          if (req.signal?.aborted) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
      {
        retries: this.opts.retries,
        minTimeout: this.opts.minBackoffMs,
        maxTimeout: this.opts.maxBackoffMs,
        factor: 2,
        randomize: true,
        signal: req.signal,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const wait = error instanceof TransientError ? error.retryAfterMs : undefined;
          this.opts.logger?.warn(
            { url: safeUrl, attempt: attemptNumber, retriesLeft, retryAfterMs: wait, error: error.message },
            'request failed, retrying',
          );
          await waitOutRetryAfter(wait, retriesLeft, safeUrl, this.opts.maxRetryAfterMs, req.signal);
        },
      },
    );
  }

  /**
   * One POST of `body`, with this connection's headers, timeout, body limit and error mapping (TransientError for what
   * may pass, TerminalError for the rest) but neither queue nor retry: for clients with their own (JSON-RPC).
   * `safeUrl` names the URL in errors and logs (default: the URL with its secrets masked).
   */
  async postOnce(url: string, body: string, req: RequestOptions & { safeUrl?: string } = {}): Promise<HttpResponse> {
    const safeUrl = req.safeUrl ?? redactUrl(url);
    checkUrl(url, safeUrl);
    return this.attempt(url, safeUrl, req, body);
  }

  /** GET and parse JSON; a body that is not JSON is a TransientError naming the URL (servers send HTML error pages). */
  async getJson<T = unknown>(url: string, req: RequestOptions = {}): Promise<{ response: HttpResponse; json: T }> {
    const safeUrl = redactUrl(url);
    return pRetry(
      async () => {
        let response: HttpResponse;
        try {
          response = await this.get(url, req);
        } catch (err) {
          // get() has already retried what can be retried.
          throw new AbortError(err instanceof Error ? err : new Error(String(err)));
        }
        try {
          return { response, json: JSON.parse(Buffer.from(response.body).toString('utf8')) as T };
        } catch (err) {
          const ct = response.headers.get('content-type') ?? 'unknown';
          throw new TransientError(`invalid JSON from ${safeUrl} (content-type ${ct}, ${response.body.length} bytes): ${errorMessage(err)}`, { url: safeUrl });
        }
      },
      {
        retries: Math.min(2, this.opts.retries),
        minTimeout: this.opts.minBackoffMs,
        maxTimeout: this.opts.maxBackoffMs,
        randomize: true,
        signal: req.signal,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (error instanceof TransientError) this.opts.logger?.warn({ url: safeUrl, attempt: attemptNumber, retriesLeft, error: error.message }, 'response is not JSON, retrying');
        },
      },
    );
  }

  /** One request: a GET, or a POST of `payload`. */
  private async attempt(url: string, safeUrl: string, req: RequestOptions, payload?: string): Promise<HttpResponse> {
    await this.opts.budget?.acquire(req.signal);
    this.attempts++;
    // Node sets headers case-insensitively in order: a connection's own User-Agent replaces coinlake's.
    const headers = { 'user-agent': USER_AGENT, 'accept-encoding': 'gzip, deflate', accept: 'application/json', ...this.opts.headers, ...req.headers };
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    this.opts.logger?.debug({ url: safeUrl, headers: redactHeaders(headers) }, payload === undefined ? 'GET' : 'POST');
    let res: TransportResponse;
    try {
      res = payload === undefined ? await httpGet(url, headers, signal, this.opts.maxBodyBytes) : await httpPost(url, headers, payload, signal, this.opts.maxBodyBytes);
    } catch (err) {
      if (req.signal?.aborted) throw err;
      if (err instanceof BodyTooLargeError) {
        throw new TerminalError(`the response body from ${safeUrl} is larger than ${mib(err.limit)} (maxBodyBytes); reading stopped there`, {
          url: safeUrl,
          hint: 'ask for smaller pages (a lower limit or a shorter window), or raise the http maxBodyBytes of this job',
        });
      }
      if (err instanceof BodyCutOffError) {
        if (timeout.aborted) throw new TransientError(`reading the body of ${safeUrl} timed out after ${this.opts.timeoutMs} ms`, { url: safeUrl });
        throw new TransientError(`the response body from ${safeUrl} was cut off (${err.message})`, { url: safeUrl }, { cause: err });
      }
      if (timeout.aborted) throw new TransientError(`request to ${safeUrl} timed out after ${this.opts.timeoutMs} ms`, { url: safeUrl });
      throw new TransientError(`request to ${safeUrl} failed: ${causeText(err)}`, { url: safeUrl }, { cause: err });
    }
    const body = res.body;
    const ok = (res.status >= 200 && res.status < 300) || req.okStatuses?.includes(res.status);
    if (ok) return { url: res.url, status: res.status, headers: res.headers, body, gzipped: res.gzipped };
    const snippet = Buffer.from(body.subarray(0, 200)).toString('utf8').replace(/\s+/g, ' ').trim();
    if (res.status === 429 || res.status === 418 || res.status >= 500 || res.status === 408) {
      throw new TransientError(`HTTP ${res.status} from ${safeUrl}: ${snippet}`, {
        url: safeUrl,
        status: res.status,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      });
    }
    const hint = res.status === 401 || res.status === 403 ? 'check the API key of this connection' : undefined;
    throw new TerminalError(`HTTP ${res.status} from ${safeUrl}: ${snippet}`, { url: safeUrl, hint });
  }
}

/**
 * A queue that starts at most `rpm` requests per minute (0 = unlimited): `cap` requests per window of cap·60/rpm s,
 * windows of about 5 s, which keep bursts small while letting short jobs start at once. 60/min is 5 per 5 s, 20/min
 * one per 3 s, 6/min one per 10 s.
 */
function rateQueue(rpm: number): PQueue {
  if (!(rpm > 0)) return new PQueue();
  const cap = Math.max(1, Math.floor(rpm / 12));
  return new PQueue({ intervalCap: cap, interval: Math.round((cap * 60_000) / rpm) });
}

/** An unparsable URL or one not http(s) will not get better by retrying: a TerminalError naming it, before any attempt. */
function checkUrl(url: string, safeUrl: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch (err) {
    throw new TerminalError(`invalid URL "${safeUrl}": ${errorMessage(err)}`, { url: safeUrl, hint: 'check the connection URL and the job\'s path' });
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new TerminalError(`unsupported protocol ${protocol} in ${safeUrl} (only http and https)`, { url: safeUrl });
}

/** Default of HttpClientOptions.maxBodyBytes. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024;

/** `8 MiB`, `1.5 MiB`; under 1 MiB in bytes (`4096 bytes`). */
const mib = (bytes: number) => (bytes < 1024 * 1024 ? `${bytes} bytes` : `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`);

function causeText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const code = (err as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  const message = errorMessage(err);
  return [message, cause?.message, code && !message.includes(code) ? code : undefined].filter(Boolean).join(': ');
}

/** Default of HttpClientOptions.maxRetryAfterMs. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;

/**
 * A failed attempt's Retry-After (`wait`), waited out before the backoff when a retry is left; one longer than `maxMs`
 * is a TerminalError naming `safeUrl`. For the retry loops of the HTTP client and of clients on it (JSON-RPC).
 */
export async function waitOutRetryAfter(wait: number | undefined, retriesLeft: number, safeUrl: string, maxMs: number, signal?: AbortSignal): Promise<void> {
  if (!wait || retriesLeft <= 0) return;
  if (wait > maxMs) throw new TerminalError(`${safeUrl} asked to retry after ${Math.round(wait / 1000)} s, more than the ${Math.round(maxMs / 1000)} s allowed`, { url: safeUrl });
  await sleep(wait, signal);
}

/** Sleeps ms, ending early (rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
