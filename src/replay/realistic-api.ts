// What makes the replay server behave like a real API on the far side of a network (#26): a latency on every answer,
// fixed or drawn from a range, and a rate limit per client — each source address, or each API key — so that workers
// sharing one key share one budget and workers with their own keys or addresses each get theirs. Both are set per run
// of the server (ReplayOptions, or COINLAKE_REPLAY_LATENCY_MS and COINLAKE_REPLAY_CLIENT_LIMIT with --replay).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../core/errors.ts';
import { durationMs } from '../core/duration.ts';
import { RateWindow } from './rate-window.ts';

/** A delay before every answer: fixed milliseconds, or [min, max] drawn uniformly per request. */
export type ReplayLatency = number | [number, number];

/** `limit` requests per `windowMs` for each client; clients are told apart by their source address or their API key. */
export interface ClientLimit {
  limit: number;
  windowMs: number;
  /** 'address': the request's source address. 'key': its API key (Authorization bearer, X-API-Key, apiKey query), else its address. */
  by: 'address' | 'key';
}

/**
 * The delays of a run: a seeded generator (mulberry32), so a run's sequence of delays repeats from one run to the
 * next while each request draws its own.
 */
export function latencySampler(latency: ReplayLatency | undefined, seed = 0x2f6b_1a3d): (() => number) | undefined {
  if (latency === undefined) return undefined;
  const [lo, hi] = typeof latency === 'number' ? [latency, latency] : latency;
  if (!(lo >= 0) || !(hi >= lo)) throw new ConfigError(`replay latency must be a delay of 0 ms or more, or a range min-max with min <= max; got ${JSON.stringify(latency)}`);
  if (hi === 0) return undefined;
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
    return lo + (hi - lo) * unit;
  };
}

/**
 * Who a request comes from, as the server records it: `address:<ip>`, or for a request with an API key `key:<first 12
 * hex digits of its SHA-256>` (the key itself is never kept).
 */
export function clientOf(req: IncomingMessage, url: URL, by: ClientLimit['by']): string {
  const address = `address:${req.socket.remoteAddress ?? 'unknown'}`;
  if (by === 'address') return address;
  const bearer = /^\s*Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
  const header = req.headers['x-api-key'];
  const key = bearer ?? (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apiKey') ?? undefined;
  return key ? `key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}` : address;
}

/** Sliding windows, one per client, created as clients appear. */
export class ClientWindows {
  private readonly windows = new Map<string, RateWindow>();

  constructor(private readonly spec: ClientLimit) {
    if (!(spec.limit > 0) || !Number.isInteger(spec.limit)) throw new ConfigError(`a client limit needs a whole number of requests above 0, got ${spec.limit}`);
    if (!(spec.windowMs > 0)) throw new ConfigError(`a client limit needs a window above 0 ms, got ${spec.windowMs}`);
  }

  /** undefined when `client`'s request at `now` fits its window; else the whole seconds to wait (Retry-After). */
  admit(client: string, now: number): number | undefined {
    let w = this.windows.get(client);
    if (!w) this.windows.set(client, (w = new RateWindow(this.spec.limit, this.spec.windowMs)));
    return w.admit(now);
  }
}

/** COINLAKE_REPLAY_LATENCY_MS: `200` (fixed) or `100-300` (uniform per request). */
export function parseLatency(text: string, name = 'COINLAKE_REPLAY_LATENCY_MS'): ReplayLatency {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$/.exec(text);
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
    throw new ConfigError(`${name}="${text}" is not a latency`, { hint: 'give milliseconds, e.g. 200, or a range min-max, e.g. 100-300' });
  }
  return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
}

/** COINLAKE_REPLAY_CLIENT_LIMIT: `<requests>/<window>[ by address|key]`, e.g. `20/2s by key` (default by address). */
export function parseClientLimit(text: string, name = 'COINLAKE_REPLAY_CLIENT_LIMIT'): ClientLimit {
  const m = /^\s*(\d+)\s*\/\s*(\S+?)\s*(?:by\s+(address|key))?\s*$/i.exec(text);
  const windowMs = m ? durationMs(m[2]) : undefined;
  if (!m || windowMs === undefined || Number(m[1]) === 0) {
    throw new ConfigError(`${name}="${text}" is not a client limit`, { hint: 'give requests per window and how clients are told apart, e.g. 20/2s by key or 600/1m by address' });
  }
  return { limit: Number(m[1]), windowMs, by: (m[3]?.toLowerCase() as ClientLimit['by'] | undefined) ?? 'address' };
}
