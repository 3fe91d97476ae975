import { describe, expect, it } from 'vitest';
import { Scheduler, type Clock, type RunReason, type ScheduleEntry, type SchedulerEvent, type SchedulerOptions } from './scheduler.ts';

/** A clock that moves only when the test says so. */
class FakeClock implements Clock {
  private waiters: { at: number; resolve: () => void }[] = [];
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || at <= this.t) return resolve();
      const w = { at, resolve };
      this.waiters.push(w);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  /** Moves to `to`, waking every sleeper due by then, one fire time at a time. */
  async advanceTo(to: number): Promise<void> {
    for (;;) {
      await settle();
      const due = this.waiters.filter((w) => w.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      this.waiters = this.waiters.filter((w) => w !== due);
      due.resolve();
    }
    this.t = to;
    await settle();
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const T = (iso: string) => Date.parse(iso);

function harness(opts: { now: string; entries: ScheduleEntry[]; lastRun?: Record<string, string>; lease?: SchedulerOptions['lease'] }) {
  const clock = new FakeClock(T(opts.now));
  const runs: { key: string; reason: RunReason; at: string }[] = [];
  const gates: (() => void)[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  let hold = false;
  const events: SchedulerEvent[] = [];
  const scheduler = new Scheduler({
    entries: opts.entries,
    clock,
    lease: opts.lease,
    onEvent: (e) => events.push(e),
    lastRunAt: async (e) => (opts.lastRun?.[e.key] ? new Date(opts.lastRun[e.key]) : undefined),
    run: async (e, reason) => {
      runs.push({ key: e.key, reason, at: new Date(clock.now()).toISOString() });
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (hold) await new Promise<void>((r) => gates.push(r));
      concurrent--;
    },
  });
  return {
    clock,
    runs,
    events,
    scheduler,
    get maxConcurrent() {
      return maxConcurrent;
    },
    hold(on: boolean) {
      hold = on;
    },
    release() {
      gates.splice(0).forEach((g) => g());
    },
  };
}

describe('Scheduler (fake clock)', () => {
  it('a downtime over five fire times is caught up by ONE run, then the cron goes on', async () => {
    const h = harness({ now: '2026-03-02T15:30:00Z', entries: [{ key: 'A', cron: '0 * * * *' }], lastRun: { A: '2026-03-02T10:00:00Z' } });
    h.scheduler.start();
    await h.clock.advanceTo(T('2026-03-02T15:30:00Z'));
    expect(h.runs).toEqual([{ key: 'A', reason: 'catch-up', at: '2026-03-02T15:30:00.000Z' }]);
    await h.clock.advanceTo(T('2026-03-02T17:10:00Z'));
    expect(h.runs.map((r) => `${r.reason}@${r.at}`)).toEqual([
      'catch-up@2026-03-02T15:30:00.000Z',
      'schedule@2026-03-02T16:00:00.000Z',
      'schedule@2026-03-02T17:00:00.000Z',
    ]);
    await h.scheduler.stop();
  });

  it('no catch-up when nothing was missed, and none for an entry that never ran', async () => {
    const h = harness({
      now: '2026-03-02T15:30:00Z',
      entries: [
        { key: 'A', cron: '0 * * * *' },
        { key: 'B', cron: '*/20 * * * *' },
      ],
      lastRun: { A: '2026-03-02T15:00:00Z' },
    });
    h.scheduler.start();
    await h.clock.advanceTo(T('2026-03-02T16:00:30Z'));
    expect(h.runs.map((r) => `${r.key} ${r.reason}@${r.at}`)).toEqual([
      'B schedule@2026-03-02T15:40:00.000Z',
      'A schedule@2026-03-02T16:00:00.000Z',
      'B schedule@2026-03-02T16:00:00.000Z',
    ]);
    await h.scheduler.stop();
  });

  it('never two runs of one entry at once: fire times during a long run fold into one follow-up', async () => {
    const h = harness({ now: '2026-03-02T09:59:00Z', entries: [{ key: 'A', cron: '0 * * * *' }] });
    h.hold(true);
    h.scheduler.start();
    await h.clock.advanceTo(T('2026-03-02T12:30:00Z')); // fires at 10:00 (runs, held), 11:00 and 12:00 (folded)
    expect(h.runs.map((r) => `${r.reason}@${r.at}`)).toEqual(['schedule@2026-03-02T10:00:00.000Z']);
    expect(h.scheduler.active).toEqual(['A']);
    h.hold(false);
    h.release();
    await h.clock.advanceTo(T('2026-03-02T12:31:00Z'));
    expect(h.runs.map((r) => `${r.reason}@${r.at}`)).toEqual(['schedule@2026-03-02T10:00:00.000Z', 'follow-up@2026-03-02T12:30:00.000Z']);
    expect(h.maxConcurrent).toBe(1);
    expect(h.scheduler.active).toEqual([]);
    await h.scheduler.stop();
  });

  it('reads the cron in the entry time zone (09:00 Berlin = 08:00Z in winter, 07:00Z in summer)', async () => {
    const winter = harness({ now: '2026-01-15T00:00:00Z', entries: [{ key: 'A', cron: '0 9 * * *', timezone: 'Europe/Berlin' }] });
    winter.scheduler.start();
    await winter.clock.advanceTo(T('2026-01-15T12:00:00Z'));
    await winter.scheduler.stop();
    const summer = harness({ now: '2026-07-15T00:00:00Z', entries: [{ key: 'A', cron: '0 9 * * *', timezone: 'Europe/Berlin' }] });
    summer.scheduler.start();
    await summer.clock.advanceTo(T('2026-07-15T12:00:00Z'));
    await summer.scheduler.stop();
    expect([winter.runs[0]?.at, summer.runs[0]?.at]).toEqual(['2026-01-15T08:00:00.000Z', '2026-07-15T07:00:00.000Z']);
  });

  it('stop() waits for the running run to end and starts no other', async () => {
    const h = harness({ now: '2026-03-02T09:59:00Z', entries: [{ key: 'A', cron: '0 * * * *' }] });
    h.hold(true);
    h.scheduler.start();
    await h.clock.advanceTo(T('2026-03-02T10:00:00Z'));
    let stopped = false;
    const stopping = h.scheduler.stop().then(() => (stopped = true));
    await h.clock.advanceTo(T('2026-03-02T12:00:00Z'));
    expect(stopped).toBe(false);
    h.release();
    await stopping;
    expect(h.runs).toHaveLength(1);
  });

  it('with a lease: a refused take skips the run and says why; a taken one is let go after the run; a follow-up takes the newest folded fire time', async () => {
    const takes: string[] = [];
    const released: string[] = [];
    const h = harness({
      now: '2026-03-02T09:59:00Z',
      entries: [{ key: 'A', cron: '0 * * * *' }],
      lease: async (e, fireAt) => {
        takes.push(fireAt.toISOString());
        // The 11:00 fire time was run by another scheduler.
        if (fireAt.toISOString() === '2026-03-02T11:00:00.000Z') return { refused: 'its run for 2026-03-02T11:00:00.000Z was started by other' };
        return { release: async () => void released.push(`${e.key}@${fireAt.toISOString()}`) };
      },
    });
    h.scheduler.start();
    await h.clock.advanceTo(T('2026-03-02T11:30:00Z'));
    expect(h.runs.map((r) => `${r.reason}@${r.at}`)).toEqual(['schedule@2026-03-02T10:00:00.000Z']);
    expect(released).toEqual(['A@2026-03-02T10:00:00.000Z']);
    expect(h.events.filter((e) => e.kind === 'skipped')).toEqual([{ kind: 'skipped', key: 'A', at: new Date('2026-03-02T11:00:00Z'), because: 'its run for 2026-03-02T11:00:00.000Z was started by other' }]);
    // A long run at 12:00; 13:00 and 14:00 fold into one follow-up, which takes the lease for 14:00.
    h.hold(true);
    await h.clock.advanceTo(T('2026-03-02T14:30:00Z'));
    h.hold(false);
    h.release();
    await h.clock.advanceTo(T('2026-03-02T14:31:00Z'));
    expect(takes).toEqual(['2026-03-02T10:00:00.000Z', '2026-03-02T11:00:00.000Z', '2026-03-02T12:00:00.000Z', '2026-03-02T14:00:00.000Z']);
    expect(h.runs.map((r) => `${r.reason}@${r.at}`)).toEqual(['schedule@2026-03-02T10:00:00.000Z', 'schedule@2026-03-02T12:00:00.000Z', 'follow-up@2026-03-02T14:30:00.000Z']);
    expect(released).toEqual(['A@2026-03-02T10:00:00.000Z', 'A@2026-03-02T12:00:00.000Z', 'A@2026-03-02T14:00:00.000Z']);
    await h.scheduler.stop();
  });

  it('a cron that does not parse is a one-line error naming the entry', () => {
    expect(() => harness({ now: '2026-03-02T09:59:00Z', entries: [{ key: 'COINCAP/ASSETS', cron: '61 * * * *' }] })).toThrow(
      /^COINCAP\/ASSETS: schedule "61 \* \* \* \*" is not a cron expression \(.+\); expected 5 or 6 fields, e.g. "0 \* \* \* \*"$/,
    );
  });
});
