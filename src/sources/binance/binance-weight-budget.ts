// Binance's request-weight budget on the client side: one per connection (base URL), shared by every symbol
// and request in flight. Before a request it reserves the weight in the current clock window and, when the
// window is spent, waits for the next one; after a response it adopts the server's X-MBX-USED-WEIGHT-1M count;
// after a 429/418 every request waits out the Retry-After.
import { sleep } from '../../http/http-client.ts';
import { ConfigError } from '../../core/errors.ts';

export interface WeightBudgetOptions {
  /** Weight allowed per window. Default 6000 (Binance REQUEST_WEIGHT per minute). */
  limit?: number;
  /** Window length in ms; windows are aligned to the epoch like the server's clock minutes. Default 60 000. */
  windowMs?: number;
  /** Extra wait after a window boundary, for clock skew with the server. Default min(500 ms, windowMs / 100). */
  marginMs?: number;
}

/** A reserved slot: which window it was reserved in and how much weight. */
export interface WeightTicket {
  window: number;
  weight: number;
}

/** What the budget did, for logs and benchmarks. */
export interface WeightBudgetStats {
  requests: number;
  /** Times a request waited for the next window. */
  windowWaits: number;
  /** Times the server refused (429/418) and everyone paused. */
  refusals: number;
  waitedMs: number;
}

export class WeightBudget {
  readonly limit: number;
  readonly windowMs: number;
  private readonly marginMs: number;
  private window = -1;
  /** Weight counted in the current window: ours, or the server's report when that is higher. */
  private used = 0;
  /** Weight of requests sent and not answered yet (they may be counted in the next window). */
  private inFlight = 0;
  private pausedUntil = 0;
  readonly stats: WeightBudgetStats = { requests: 0, windowWaits: 0, refusals: 0, waitedMs: 0 };

  constructor(opts: WeightBudgetOptions = {}) {
    this.limit = opts.limit ?? 6000;
    this.windowMs = opts.windowMs ?? 60_000;
    this.marginMs = opts.marginMs ?? Math.min(500, Math.floor(this.windowMs / 100));
    if (!(this.limit > 0) || !(this.windowMs > 0)) {
      throw new ConfigError(`weight budget needs a positive limit and window (got ${this.limit} per ${this.windowMs} ms)`, {
        hint: 'give Binance a weight limit of at least 1 per a window of at least 1 ms (defaults: 6000 per 60000 ms)',
      });
    }
  }

  private roll(now: number): void {
    const w = Math.floor(now / this.windowMs);
    if (w !== this.window) {
      this.window = w;
      // Requests still in flight may land in the new window; count them there too.
      this.used = this.inFlight;
    }
  }

  /** Waits until `weight` fits in the current window (or a pause ends), then reserves it. */
  async acquire(weight: number, signal?: AbortSignal): Promise<WeightTicket> {
    if (weight > this.limit) {
      throw new ConfigError(`a request of weight ${weight} can never fit a limit of ${this.limit}`, { hint: `raise the weight limit to at least ${weight}, or ask for fewer rows per request` });
    }
    for (;;) {
      const now = Date.now();
      this.roll(now);
      let waitUntil = 0;
      if (now < this.pausedUntil) {
        waitUntil = this.pausedUntil;
      } else if (this.used + weight > this.limit) {
        waitUntil = (this.window + 1) * this.windowMs + this.marginMs;
        this.stats.windowWaits++;
      }
      if (waitUntil === 0) {
        this.used += weight;
        this.inFlight += weight;
        this.stats.requests++;
        return { window: this.window, weight };
      }
      const ms = Math.max(1, waitUntil - now);
      this.stats.waitedMs += ms;
      await sleep(ms, signal);
    }
  }

  /**
   * Settles a reservation once its answer arrived. `usedHeader` is X-MBX-USED-WEIGHT-1M; it is adopted only when the
   * request was sent in the window that is current now (an answer straddling a boundary may count either window).
   */
  settle(ticket: WeightTicket, usedHeader?: string | null): void {
    // Roll first, with this request still in flight: answered after the window changed, it may have been counted in
    // the new window, so the new window starts with its weight (settling first would drop it, and the requests
    // reserved next could exceed the server's count by it).
    this.roll(Date.now());
    this.inFlight = Math.max(0, this.inFlight - ticket.weight);
    const reported = usedHeader ? Number(usedHeader) : NaN;
    if (Number.isFinite(reported) && ticket.window === this.window) this.used = Math.max(this.used, reported);
  }

  /**
   * The server refused (429/418): nobody sends before `retryAfterMs` has passed. The refusal's own weight header
   * (settle) says how much of the window is spent; Retry-After says when sending may resume.
   */
  pause(retryAfterMs: number): void {
    this.stats.refusals++;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + Math.max(retryAfterMs, 0));
  }
}

const budgets = new Map<string, WeightBudget>();

/**
 * The budget of a connection, created on first use: every job, symbol and request to the same Binance host in
 * this process shares it (Binance counts weight per IP).
 */
export function weightBudgetFor(baseUrl: string, opts: WeightBudgetOptions = {}): WeightBudget {
  let origin: string;
  try {
    origin = new URL(baseUrl).origin;
  } catch {
    origin = baseUrl;
  }
  const key = `${origin}|${opts.limit ?? 6000}|${opts.windowMs ?? 60_000}`;
  let budget = budgets.get(key);
  if (!budget) {
    budget = new WeightBudget(opts);
    budgets.set(key, budget);
  }
  return budget;
}
