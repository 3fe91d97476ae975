// One API budget shared by every process that uses the same key (#26 item 2): workers on many machines that call an
// API with one key must together stay under the limit the API counts for that key. The budget is a log of the times
// of the last `limit` requests granted, in one NATS JetStream KV entry, updated by compare-and-swap: a process takes a
// request only when fewer than `limit` were granted in the last window (plus a margin for the time between the grant
// and the request's arrival), and waits for the oldest to leave the window otherwise. Processes with their own keys (or
// source addresses) open budgets of their own names and add theirs.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { ConfigError, TransientError } from '../core/errors.ts';
import type { RequestBudget } from '../http/http-client.ts';

/** The window of a connection's shared budget: a minute, as rate_limit_per_minute says, unless COINLAKE_RATE_WINDOW_MS shortens it. */
export function sharedBudgetWindowMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.COINLAKE_RATE_WINDOW_MS;
  if (text === undefined || text === '') return 60_000;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) throw new ConfigError(`COINLAKE_RATE_WINDOW_MS must be a whole number of milliseconds above 0, got "${text}"`);
  return ms;
}

/** The KV bucket every shared budget lives in (one entry per budget). */
export const BUDGET_BUCKET = 'coinlake_budgets';

export interface SharedBudgetOptions {
  /** Requests per window, all processes together. */
  limit: number;
  windowMs: number;
  /**
   * Added to the window: the time a granted request may take to reach the API, so that the API, counting arrivals,
   * never sees more than `limit` in its window. Default 50 ms.
   */
  marginMs?: number;
  /** Longest wait for one request before it fails; default 5 minutes. */
  maxWaitMs?: number;
}

/** The name of the budget of a job's endpoint and credentials (hashed into its KV key, see budgetEntryKey). */
export function budgetName(job: { source: { name: string }; baseUrl: string; headers?: Record<string, string> }): string {
  return `${job.source.name}|${job.baseUrl}|${JSON.stringify(job.headers ?? {})}`;
}

/** The KV key of a budget named `name` (a connection and its key): a hash, so no key text reaches the server. */
export function budgetEntryKey(name: string): string {
  return `b_${createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
}

/** Whether a KV write failed because another process wrote the entry first (compare-and-swap lost). */
function lostRace(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** A request budget shared through NATS KV; see the file comment. */
export class SharedBudget implements RequestBudget {
  /** Requests granted by this process (for tests and progress). */
  granted = 0;
  /** Compare-and-swap attempts lost to another process (each was retried). */
  conflicts = 0;
  private readonly key: string;
  private readonly spanMs: number;
  private readonly maxWaitMs: number;

  private constructor(
    private readonly kv: KV,
    name: string,
    private readonly opts: SharedBudgetOptions,
  ) {
    this.key = budgetEntryKey(name);
    this.spanMs = opts.windowMs + (opts.marginMs ?? 50);
    this.maxWaitMs = opts.maxWaitMs ?? 300_000;
  }

  /** Opens (creating when missing) the budget `name` on `nc`'s JetStream. */
  static async open(nc: NatsConnection, name: string, opts: SharedBudgetOptions): Promise<SharedBudget> {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new ConfigError(`a shared budget needs a whole number of requests above 0, got ${opts.limit}`);
    if (!(opts.windowMs > 0)) throw new ConfigError(`a shared budget needs a window above 0 ms, got ${opts.windowMs}`);
    const kv = await new Kvm(nc).create(BUDGET_BUCKET, { history: 1 });
    return new SharedBudget(kv, name, opts);
  }

  /** Waits until the budget has room for one request and takes it. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const entry = await this.kv.get(this.key);
      const now = Date.now();
      const times = entry && entry.length > 0 ? (entry.json<number[]>() ?? []).filter((t) => t > now - this.spanMs) : [];
      if (times.length < this.opts.limit) {
        times.push(now);
        try {
          if (entry) await this.kv.update(this.key, JSON.stringify(times), entry.revision);
          else await this.kv.create(this.key, JSON.stringify(times));
          this.granted++;
          return;
        } catch (err) {
          if (!lostRace(err)) throw err;
          // Another process took a request meanwhile (the entry moved past the revision read): read again.
          this.conflicts++;
          await sleep(Math.random() * 2);
          continue;
        }
      }
      const wait = Math.max(1, Math.min(...times) + this.spanMs - now);
      if (now - started + wait > this.maxWaitMs) {
        throw new TransientError(`the shared request budget (${this.opts.limit} per ${this.opts.windowMs} ms) had no room for ${Math.round((now - started) / 1000)} s`);
      }
      await sleep(wait, undefined, { signal });
    }
  }
}
