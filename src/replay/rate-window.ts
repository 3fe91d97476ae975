// Sliding request limit, by default over 60 seconds as CoinCap enforces per key (200/min without, 500/min with).
import { ConfigError } from '../core/errors.ts';

/** Counts accepted requests over the last `windowMs` (default a minute); rejected ones do not use up the window. */
export class RateWindow {
  private readonly acceptedAt: number[] = [];

  constructor(
    private readonly limitPerMinute: number,
    private readonly windowMs = 60_000,
  ) {
    if (!(limitPerMinute > 0)) throw new ConfigError(`rateLimitPerMinute must be positive, got ${limitPerMinute}`, { hint: 'give the replay server a rate limit of at least 1 request per minute, or none' });
    if (!(windowMs > 0)) throw new ConfigError(`a rate window must be positive, got ${windowMs} ms`);
  }

  /**
   * Records a request at `now` if it fits under the limit and returns undefined;
   * otherwise returns the whole seconds until the oldest counted request leaves the window.
   */
  admit(now: number): number | undefined {
    while (this.acceptedAt.length > 0 && this.acceptedAt[0] <= now - this.windowMs) this.acceptedAt.shift();
    if (this.acceptedAt.length < this.limitPerMinute) {
      this.acceptedAt.push(now);
      return undefined;
    }
    return Math.max(1, Math.ceil((this.acceptedAt[0] + this.windowMs - now) / 1000));
  }
}
