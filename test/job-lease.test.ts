// Job leases in the warehouse (coinlake_meta.job_lease) on DuckDB and PostgreSQL: one holder at a time, one run per
// fire time, a dead holder's lease expiring by itself, renewal and release; on PostgreSQL, takes racing from several
// sessions at once give the lease to exactly one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { JobLeases, releaseJobLease, renewJobLease, takeJobLease } from '../src/scheduler/job-lease.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh warehouse of `kind` with its meta tables; `open` gives another session on it. */
async function fresh(kind: WarehouseKind): Promise<{ s: Session; open: () => Promise<Session> }> {
  let location: string;
  if (kind === 'postgres') {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    location = db.url;
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-lease-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    location = path.join(dir, 'warehouse.duckdb');
  }
  const open = async () => {
    const s = await openWarehouse(location);
    cleanups.push(() => s.close());
    return s;
  };
  const s = await open();
  await ensureMetaTables(s);
  return { s, open };
}

const F1 = new Date('2026-03-02T10:00:00Z');
const F2 = new Date('2026-03-02T10:00:02Z');

describe.each(WAREHOUSES)('job leases on %s', (kind) => {
  it('one holder at a time; one run per fire time; a dead holder expires; renew and release', async () => {
    const { s } = await fresh(kind);
    expect(await takeJobLease(s, 'T/A', 'h1', F1, 60_000)).toEqual({ taken: true });
    // The same fire time, by anyone: refused, naming who started it.
    expect(await takeJobLease(s, 'T/A', 'h2', F1, 60_000)).toEqual({ taken: false, because: 'its run for 2026-03-02T10:00:00.000Z was started by h1 (lease in coinlake_meta.job_lease)' });
    // A later fire time while h1 holds it: refused until its lease ends.
    const held = await takeJobLease(s, 'T/A', 'h2', F2, 60_000);
    expect(held).toMatchObject({ taken: false });
    expect((held as { because: string }).because).toMatch(/^h1 is running it \(lease in coinlake_meta\.job_lease until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)$/);
    // Another job is free.
    expect(await takeJobLease(s, 'T/B', 'h2', F1, 60_000)).toEqual({ taken: true });
    await releaseJobLease(s, 'T/A', 'h1');
    expect(await takeJobLease(s, 'T/A', 'h2', F2, 60_000)).toEqual({ taken: true });
    expect(await renewJobLease(s, 'T/A', 'h2', 60_000)).toBe(true);
    expect(await renewJobLease(s, 'T/A', 'h1', 60_000)).toBe(false);

    // h3 takes a lease for 400 ms and dies (never renews or releases): it is free again once that passed.
    const F3 = new Date('2026-03-02T10:00:04Z');
    expect(await takeJobLease(s, 'T/C', 'h3', F1, 400)).toEqual({ taken: true });
    expect(await takeJobLease(s, 'T/C', 'h4', F3, 60_000)).toMatchObject({ taken: false });
    await sleep(600);
    expect(await takeJobLease(s, 'T/C', 'h4', F3, 60_000)).toEqual({ taken: true });
    expect(await renewJobLease(s, 'T/C', 'h3', 60_000)).toBe(false);
    const rows = await s.query<{ job_key: string; holder: string | null; fire_at: Date }>(`SELECT job_key, holder, fire_at FROM coinlake_meta.job_lease ORDER BY job_key`);
    expect(rows).toEqual([
      { job_key: 'T/A', holder: 'h2', fire_at: F2 },
      { job_key: 'T/B', holder: 'h2', fire_at: F1 },
      { job_key: 'T/C', holder: 'h4', fire_at: F3 },
    ]);
  });

  it('JobLeases renews while held (past its ttl) and lets go on release', async () => {
    const { s, open } = await fresh(kind);
    const other = await open();
    const trouble: string[] = [];
    const mine = new JobLeases((fn) => fn(other), 'me', 600, (key, m) => trouble.push(`${key}: ${m}`));
    const lease = await mine.take('T/A', F1);
    expect('release' in lease).toBe(true);
    await sleep(1_500); // more than twice the ttl: renewed meanwhile, so still held
    expect(await takeJobLease(s, 'T/A', 'you', F2, 60_000)).toMatchObject({ taken: false });
    await (lease as { release(): Promise<void> }).release();
    expect(await takeJobLease(s, 'T/A', 'you', F2, 60_000)).toEqual({ taken: true });
    expect(await mine.take('T/A', F2)).toEqual({ refused: 'its run for 2026-03-02T10:00:02.000Z was started by you (lease in coinlake_meta.job_lease)' });
    expect(trouble).toEqual([]);
  });
});

describe('job leases on postgres: racing takes', () => {
  it('eight sessions take one job for one fire time at once: exactly one gets it', async () => {
    const { open } = await fresh('postgres');
    const sessions: Session[] = [];
    for (let i = 0; i < 8; i++) sessions.push(await open());
    const answers = await Promise.all(sessions.map((s, i) => takeJobLease(s, 'T/A', `h${i}`, F1, 60_000)));
    expect(answers.filter((a) => a.taken)).toHaveLength(1);
    const again = await Promise.all(sessions.map((s, i) => takeJobLease(s, 'T/A', `h${i}`, F2, 60_000)));
    // The holder of F1 takes F2 too (its own lease); nobody else can while it holds it.
    expect(again.map((a) => a.taken)).toEqual(answers.map((a) => a.taken));
  });
});
