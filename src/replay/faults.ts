// Faults a test injects into the replay server to exercise a client's error handling:
// a FIFO queue, each entry matched by path prefix and consumed a set number of times.

export type FaultKind = 'status429' | 'status500' | 'status503' | 'slow' | 'reset' | 'truncate' | 'html' | 'invalidJson';

export interface Fault {
  kind: FaultKind;
  /** Path prefix the fault applies to, e.g. '/v2/assets'. Default: every path. */
  path?: string;
  /** How many matching requests it affects. Default 1; `Infinity` keeps it until clearFaults(). */
  times?: number;
  /** Retry-After seconds sent with `status429`. Default 1. */
  retryAfterSeconds?: number;
  /** Delay before a `slow` response. Default 1000 ms. */
  delayMs?: number;
}

/** Holds injected faults and hands out the one that applies to each request. */
export class FaultQueue {
  private readonly entries: { fault: Fault; remaining: number }[] = [];

  add(fault: Fault): void {
    const remaining = fault.times ?? 1;
    if (!(remaining > 0)) throw new Error(`fault times must be positive, got ${String(fault.times)}`);
    this.entries.push({ fault: { ...fault }, remaining });
  }

  clear(): void {
    this.entries.length = 0;
  }

  /** The oldest fault whose prefix matches `path`, consuming one of its uses; undefined when none. */
  take(path: string): Fault | undefined {
    const index = this.entries.findIndex((entry) => path.startsWith(entry.fault.path ?? ''));
    if (index < 0) return undefined;
    const entry = this.entries[index];
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.entries.splice(index, 1);
    return entry.fault;
  }
}
