// A JSON-RPC 2.0 client over HTTP POST for EVM nodes: single calls and batches, the connection's rate limit (the
// job's HttpClient queue), retries with backoff on transient failures, and the exact response bytes for the raw lake.
// Each POST goes through the job's HttpClient (postOnce): the connection's headers, timeout and body limit, keep-alive
// connections, gzip, and the same errors as its GETs (a body cut off or over the limit, a timeout, HTTP statuses).
import pRetry, { AbortError } from 'p-retry';
import { TerminalError, TransientError } from '../../core/errors.ts';
import { DEFAULT_MAX_RETRY_AFTER_MS, waitOutRetryAfter, type HttpClient } from '../../http/http-client.ts';
import { redactText } from '../../http/redact.ts';

/** One call of a request. */
export interface RpcCall {
  method: string;
  params: unknown[];
}

/** An error object a node answered with (`{"code": -32005, "message": …}`). */
export class JsonRpcError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
    this.name = 'JsonRpcError';
  }
}

/** The answer to one call: its result or its error. */
export type RpcOutcome = { ok: true; result: unknown } | { ok: false; error: JsonRpcError };

/** Answers of a request and the response body exactly as received. */
export interface RpcExchange<T> {
  value: T;
  body: Uint8Array;
}

/** A URL with the API key providers put in the path (`/v3/<key>`, `/v2/<key>`) and secret query parameters masked. */
export function redactRpcUrl(url: string): string {
  try {
    const u = new URL(url);
    u.pathname = u.pathname.split('/').map((seg) => (/^[A-Za-z0-9_-]{20,}$/.test(seg) ? '***' : seg)).join('/');
    for (const k of [...u.searchParams.keys()]) if (/key|token|secret/i.test(k)) u.searchParams.set(k, '***');
    if (u.password) u.password = '***';
    return redactText(u.toString().replace(/%2A%2A%2A/g, '***'));
  } catch {
    return redactText(url);
  }
}

export interface JsonRpcClientOptions {
  /** Retries of a transient failure (network, timeout, HTTP 429/5xx, rate-limit errors). Default 4. */
  retries?: number;
  minBackoffMs?: number;
  signal?: AbortSignal;
}

const RATE_LIMITED = /rate limit|too many requests|request rate|capacity|throughput/i;

/** JSON-RPC over one node URL. Requests go through `http.queue`, so they share the job's rate limit. */
export class JsonRpcClient {
  readonly origin: string;
  private nextId = 1;
  /** HTTP requests sent (attempts, including retries). */
  requests = 0;

  constructor(readonly url: string, private readonly http: HttpClient, private readonly opts: JsonRpcClientOptions = {}) {
    this.origin = redactRpcUrl(url);
  }

  /** One call; a node error is thrown as JsonRpcError (rate-limit errors are retried first). */
  async call<T = unknown>(method: string, params: unknown[]): Promise<RpcExchange<T>> {
    const id = this.nextId++;
    const { json, body } = await this.post({ jsonrpc: '2.0', id, method, params });
    const outcome = toOutcome(json, this.origin, method);
    if (!outcome.ok) throw outcome.error;
    return { value: outcome.result as T, body };
  }

  /** Several calls in one HTTP request (a JSON-RPC batch); answers come back in call order. */
  async batch(calls: RpcCall[]): Promise<RpcExchange<RpcOutcome[]>> {
    if (calls.length === 0) return { value: [], body: new TextEncoder().encode('[]') };
    const first = this.nextId;
    this.nextId += calls.length;
    const { json, body } = await this.post(calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params })));
    if (!Array.isArray(json)) {
      const single = json as { error?: { message?: string } };
      throw new TerminalError(`${this.origin} answered a JSON-RPC batch with ${single?.error?.message ? `the error "${single.error.message}"` : 'a single object'}`, {
        url: this.origin,
        hint: 'this node does not accept batches; set the job parameter batch_size: 1',
      });
    }
    const byId = new Map<unknown, unknown>(json.map((r) => [(r as { id?: unknown })?.id, r]));
    return { value: calls.map((c, i) => toOutcome(byId.get(first + i), this.origin, c.method)), body };
  }

  private async post(payload: unknown): Promise<{ json: unknown; body: Uint8Array }> {
    const text = JSON.stringify(payload);
    return pRetry(
      async () => {
        try {
          return await this.http.queue.add(() => this.attempt(text));
        } catch (err) {
          if (err instanceof TerminalError || this.opts.signal?.aborted) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
      {
        retries: this.opts.retries ?? 4,
        minTimeout: this.opts.minBackoffMs ?? 250,
        maxTimeout: 5_000,
        factor: 2,
        randomize: true,
        signal: this.opts.signal,
        // A 429's Retry-After is waited out before the backoff, as the HTTP client does for GETs.
        onFailedAttempt: async ({ error, retriesLeft }) => {
          const wait = error instanceof TransientError ? error.retryAfterMs : undefined;
          await waitOutRetryAfter(wait, retriesLeft, this.origin, DEFAULT_MAX_RETRY_AFTER_MS, this.opts.signal);
        },
      },
    );
  }

  private async attempt(text: string): Promise<{ json: unknown; body: Uint8Array }> {
    this.requests++;
    // Statuses: 429 and 5xx are TransientErrors, other 4xx TerminalErrors, each naming the node by its masked URL.
    const res = await this.http.postOnce(this.url, text, { safeUrl: this.origin, headers: { 'content-type': 'application/json' }, signal: this.opts.signal });
    const body = res.body;
    const snippet = () => Buffer.from(body.subarray(0, 200)).toString('utf8').replace(/\s+/g, ' ').trim();
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new TerminalError(`${this.origin} did not answer JSON-RPC (content-type ${res.headers.get('content-type') ?? 'unknown'}): ${snippet()}`, {
        url: this.origin,
        hint: 'the connection URL must be a JSON-RPC endpoint of an EVM node',
      });
    }
    const single = json as { error?: { code?: number; message?: string } };
    if (!Array.isArray(json) && single?.error && RATE_LIMITED.test(String(single.error.message))) {
      throw new TransientError(`${this.origin} is rate limiting: ${single.error.message}`, { url: this.origin });
    }
    return { json, body };
  }
}

function toOutcome(response: unknown, origin: string, method: string): RpcOutcome {
  const r = response as { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } } | undefined;
  if (r && typeof r === 'object' && r.error && typeof r.error === 'object') {
    return { ok: false, error: new JsonRpcError(Number(r.error.code ?? 0), String(r.error.message ?? 'error'), r.error.data) };
  }
  if (!r || typeof r !== 'object' || !('result' in r)) {
    throw new TerminalError(`${origin} answered ${method} without a JSON-RPC result or error`, { url: origin });
  }
  return { ok: true, result: r.result };
}
