// The scheduling loop of `coinlake schedule`: each entry runs on its cron (croner computes the times, in the
// entry's time zone). A downtime that skipped several fire times is caught up by ONE run, never one run per missed
// time; a fire time that comes while the entry's run is still going is folded into one follow-up run, so two runs of
// the same entry never overlap. With a `lease` (job-lease.ts) that holds across processes: a run starts only once its
// lease for the fire time is taken, otherwise it is skipped and said so. stop() lets the running runs finish.
import { Cron } from 'croner';
import { ConfigError, errorMessage } from '../core/errors.ts';

/** One job on a cron schedule. */
export interface ScheduleEntry {
  /** Unique name, e.g. `COINCAP_ASSET/EXTERNAL_COINCAP_ASSETS`. */
  key: string;
  /** 5 fields (minute precision) or 6 (with seconds). */
  cron: string;
  /** IANA zone the cron is read in; default UTC. */
  timezone?: string;
}

/** Why a run started. */
export type RunReason = 'schedule' | 'catch-up' | 'follow-up';

/** Time as the scheduler sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  /** Resolves at `at` (epoch ms) or when `signal` aborts, whichever is first. */
  sleepUntil(at: number, signal: AbortSignal): Promise<void>;
}

const systemClock: Clock = {
  now: () => Date.now(),
  sleepUntil: (at, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      // setTimeout caps at ~24.8 days; a longer wait is re-armed by the loop.
      const t = setTimeout(done, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface SchedulerOptions {
  entries: ScheduleEntry[];
  /** Runs one entry to its end (commit or rollback); a rejection is reported through onEvent, not thrown. */
  run: (entry: ScheduleEntry, reason: RunReason) => Promise<void>;
  /** When the entry last started a run that ended (any outcome); undefined when it never ran. */
  lastRunAt: (entry: ScheduleEntry) => Promise<Date | undefined>;
  clock?: Clock;
  onEvent?: (e: SchedulerEvent) => void;
  /**
   * Optional: takes the entry's lease for the run of fire time `fireAt` (held until released), or says why not — the
   * run is then skipped. Without it, no-overlap holds inside this scheduler only.
   */
  lease?: (entry: ScheduleEntry, fireAt: Date) => Promise<{ release(): Promise<void> } | { refused: string }>;
}

export type SchedulerEvent =
  | { kind: 'next'; key: string; at: Date }
  | { kind: 'start'; key: string; reason: RunReason; at: Date }
  | { kind: 'end'; key: string; ok: boolean; error?: string; at: Date }
  | { kind: 'skipped'; key: string; at: Date; because: string }
  | { kind: 'warning'; key: string; at: Date; message: string };

/** A cron that parses, or a ConfigError naming the entry. */
export function parseCron(entry: ScheduleEntry): Cron {
  try {
    return new Cron(entry.cron, { timezone: entry.timezone ?? 'Etc/UTC', paused: true, mode: '5-or-6-parts' });
  } catch (err) {
    throw new ConfigError(`${entry.key}: schedule "${entry.cron}" is not a cron expression (${errorMessage(err)}); expected 5 or 6 fields, e.g. "0 * * * *"`);
  }
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly crons = new Map<string, Cron>();
  private readonly stopping = new AbortController();
  private readonly running = new Map<string, Promise<void>>();
  /** Entries whose fire time came while their run went on: the newest such fire time, for the follow-up run. */
  private readonly pending = new Map<string, number>();
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    const keys = new Set<string>();
    for (const e of opts.entries) {
      if (keys.has(e.key)) throw new ConfigError(`${e.key}: scheduled twice`);
      keys.add(e.key);
      this.crons.set(e.key, parseCron(e));
    }
  }

  /** Catches up what was missed, then follows every entry's cron until stop(). */
  start(): void {
    this.loops = this.opts.entries.map((e) => this.follow(e));
  }

  /** Keys whose run is going now. */
  get active(): string[] {
    return [...this.running.keys()];
  }

  /** No new runs; waits for the running ones to end. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    await Promise.all(this.running.values());
  }

  private next(entry: ScheduleEntry, after: number): number | undefined {
    return this.crons.get(entry.key)!.nextRun(new Date(after))?.getTime();
  }

  private async follow(entry: ScheduleEntry): Promise<void> {
    const signal = this.stopping.signal;
    // Catch-up: a fire time between the last run and now means the daemon was down then: one run covers the gap.
    const last = await this.opts.lastRunAt(entry);
    if (last !== undefined) {
      const due = this.next(entry, last.getTime());
      if (due !== undefined && due <= this.clock.now() && !signal.aborted) this.trigger(entry, 'catch-up', due);
    }
    let from = this.clock.now();
    while (!signal.aborted) {
      const at = this.next(entry, from);
      if (at === undefined) return;
      this.opts.onEvent?.({ kind: 'next', key: entry.key, at: new Date(at) });
      await this.clock.sleepUntil(at, signal);
      if (signal.aborted) return;
      if (this.clock.now() < at) continue; // woken early (a capped timer): sleep again
      this.trigger(entry, 'schedule', at);
      from = Math.max(at, this.clock.now());
    }
  }

  /** Starts a run unless one is going; then one follow-up run is queued instead (however many times it fires). */
  private trigger(entry: ScheduleEntry, reason: RunReason, fireAt: number): void {
    if (this.running.has(entry.key)) {
      if (!this.pending.has(entry.key)) this.opts.onEvent?.({ kind: 'skipped', key: entry.key, at: new Date(this.clock.now()), because: 'its previous run is still going; one follow-up run is queued' });
      this.pending.set(entry.key, fireAt);
      return;
    }
    const done = (async () => {
      let why: RunReason = reason;
      let fire = fireAt;
      for (;;) {
        await this.runOnce(entry, why, fire);
        const next = this.pending.get(entry.key);
        this.pending.delete(entry.key);
        if (next === undefined || this.stopping.signal.aborted) break;
        why = 'follow-up';
        fire = next;
      }
    })().finally(() => this.running.delete(entry.key));
    this.running.set(entry.key, done);
  }

  /** One run of the entry for fire time `fireAt`, under its lease when there is one. Never throws. */
  private async runOnce(entry: ScheduleEntry, why: RunReason, fireAt: number): Promise<void> {
    let lease: { release(): Promise<void> } | undefined;
    if (this.opts.lease) {
      try {
        const answer = await this.opts.lease(entry, new Date(fireAt));
        if ('refused' in answer) {
          this.opts.onEvent?.({ kind: 'skipped', key: entry.key, at: new Date(this.clock.now()), because: answer.refused });
          return;
        }
        lease = answer;
      } catch (err) {
        this.opts.onEvent?.({ kind: 'skipped', key: entry.key, at: new Date(this.clock.now()), because: `its lease could not be taken: ${errorMessage(err)}` });
        return;
      }
    }
    this.opts.onEvent?.({ kind: 'start', key: entry.key, reason: why, at: new Date(this.clock.now()) });
    try {
      await this.opts.run(entry, why);
      this.opts.onEvent?.({ kind: 'end', key: entry.key, ok: true, at: new Date(this.clock.now()) });
    } catch (err) {
      this.opts.onEvent?.({ kind: 'end', key: entry.key, ok: false, error: errorMessage(err), at: new Date(this.clock.now()) });
    } finally {
      await lease?.release().catch((err) => this.opts.onEvent?.({ kind: 'warning', key: entry.key, message: `its lease could not be let go (it expires by itself): ${errorMessage(err)}`, at: new Date(this.clock.now()) }));
    }
  }
}
