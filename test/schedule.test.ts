// `coinlake schedule` as users run it: a subprocess over a real DuckDB file, the replay server in the CLI
// (--replay), stopped with SIGTERM. The fake-clock cases (catch-up, no overlap, time zones) are in
// src/scheduler/scheduler.test.ts; here the daemon itself runs, catches up one missed fire time, and stops cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { recordTrial } from './faults/fault-ledger.ts';

const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-schedule-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const ENV = { COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', COINLAKE_SECRET_KEY: '', COINLAKE_TZ: '' };

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...ENV, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, out: () => out, err: () => err, exit };
}

async function coinlake(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = start(args, env);
  const code = await p.exit;
  return { code, stdout: p.out(), stderr: p.err() };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runRows(): Promise<{ table_name: string; execution_status: number }[]> {
  const s = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
  try {
    return await s.query(`SELECT table_name, execution_status FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
  } finally {
    await s.close();
  }
}

const yaml = (schedule: string) => `connections:
  - { name: TICK }
ingestions:
  - { connection: TICK, asset: RATES_TICK, target_table: rates_tick, source: coincap.rates, schedule: "${schedule}" }
  - { connection: TICK, asset: RATES_MANUAL, target_table: rates_manual, source: coincap.rates }
`;

describe('coinlake schedule', () => {
  it('runs a scheduled job on its cron, leaves unscheduled ones alone, and stops cleanly on SIGTERM', async () => {
    await writeFile(path.join(dir, 'coinlake.yaml'), yaml('*/2 * * * * *'));
    expect((await coinlake(['setup'])).code).toBe(0);
    const d = start(['--replay', 'schedule']);
    expect(await Promise.race([until('two runs', () => (d.out().match(/rows into coinlake\.rates_tick/g) ?? []).length >= 2).then(() => 'ran'), d.exit.then((c) => `exited ${c}: ${d.err()}`)])).toBe('ran');
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    const lines = d.out().trim().split('\n');
    expect(lines[0]).toMatch(/^TICK\/RATES_TICK: "\*\/2 \* \* \* \* \*" \(Etc\/UTC\), next run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(lines.at(-1)).toMatch(/^\S+ stopped$/);
    expect(lines.filter((l) => / SIGTERM: stopping/.test(l))).toHaveLength(1);
    const runs = lines.filter((l) => /TICK\/RATES_TICK: 192 rows into coinlake\.rates_tick /.test(l)).length;
    const rows = await runRows();
    // Every run the daemon started has ended and committed: none left in progress, none of the unscheduled job.
    expect(rows).toEqual(Array.from({ length: runs }, () => ({ table_name: 'RATES_TICK', execution_status: 1 })));
    expect(d.err()).toBe('');
  });

  it('catches up a fire time missed while it was down with ONE run, then waits for the next', async () => {
    // A cron whose only fire time today is 1 s after the last run: by the time the daemon starts it was missed.
    await writeFile(path.join(dir, 'coinlake.yaml'), yaml('0 0 1 1 *'));
    expect((await coinlake(['--replay', 'run', '-s', 'TICK', '-a', 'RATES_TICK'])).code).toBe(0);
    const [{ t }] = await (async () => {
      const s = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
      try {
        return await s.query<{ t: Date }>(`SELECT max(execution_start_datetime) AS t FROM coinlake_meta.workflow_action_history`);
      } finally {
        await s.close();
      }
    })();
    const missed = new Date(Math.floor(t.getTime() / 1000) * 1000 + 1000);
    await until('the missed fire time to pass', () => Date.now() > missed.getTime() + 200, 5000);
    const cron = `${missed.getUTCSeconds()} ${missed.getUTCMinutes()} ${missed.getUTCHours()} * * *`;
    await writeFile(path.join(dir, 'coinlake.yaml'), yaml(cron));
    expect((await coinlake(['catalog', 'import', 'coinlake.yaml'])).code).toBe(0);
    const d = start(['--replay', 'schedule']);
    await until('the catch-up run', () => /rows into coinlake\.rates_tick/.test(d.out()));
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.out()).toMatch(/ TICK\/RATES_TICK: starting \(catch-up\)\n/);
    expect(d.out().match(/starting/g)).toHaveLength(1);
    expect(await runRows()).toEqual([
      { table_name: 'RATES_TICK', execution_status: 1 },
      { table_name: 'RATES_TICK', execution_status: 1 },
    ]);
  });

  it('without any scheduled ingestion it says how to add one', async () => {
    await writeFile(path.join(dir, 'coinlake.yaml'), `connections:\n  - { name: TICK }\ningestions:\n  - { connection: TICK, asset: RATES_MANUAL, target_table: rates_manual, source: coincap.rates }\n`);
    expect(await coinlake(['schedule'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no enabled ingestion has a schedule\nhint: add `schedule: "0 * * * *"` to an ingestion in the config file and run `coinlake setup`\n',
    });
  });
});

describe('coinlake schedule: two schedulers on one PostgreSQL warehouse', () => {
  it('each fire time runs once, in one of them; the other logs the skip; no two runs of the job overlap', async () => {
    const db = await createTestDatabase();
    try {
      const env = { COINLAKE_WAREHOUSE: db.url };
      await writeFile(path.join(dir, 'coinlake.yaml'), yaml('*/2 * * * * *'));
      expect((await coinlake(['setup'], env)).code).toBe(0);
      const a = start(['--replay', 'schedule'], env);
      const b = start(['--replay', 'schedule'], env);
      const starts = () => (a.out().match(/: starting \(/g) ?? []).length + (b.out().match(/: starting \(/g) ?? []).length;
      const ended = () => (a.out().match(/rows into coinlake\.rates_tick/g) ?? []).length + (b.out().match(/rows into coinlake\.rates_tick/g) ?? []).length;
      const exited = Promise.race([a.exit, b.exit]).then((c) => `exited ${c}: ${a.err()} ${b.err()}`);
      expect(await Promise.race([until('four runs', () => ended() >= 4, 60_000).then(() => 'ran'), exited])).toBe('ran');
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect([await a.exit, await b.exit]).toEqual([0, 0]);
      expect(a.err() + b.err()).toBe('');

      const s = await openWarehouse(db.url);
      try {
        const runs = await s.query<{ process_id: number; execution_status: number; t0: Date; t1: Date }>(
          `SELECT process_id, execution_status, execution_start_datetime AS t0, execution_end_datetime AS t1 FROM coinlake_meta.workflow_action_history WHERE table_name = 'RATES_TICK' ORDER BY process_id`,
        );
        // Every run either scheduler started is a run row that ended complete; one start per fire time.
        expect(runs.length).toBe(starts());
        expect(runs.every((r) => r.execution_status === 1)).toBe(true);
        let overlapping = 0;
        for (let i = 1; i < runs.length; i++) if (runs[i].t0.getTime() < runs[i - 1].t1.getTime()) overlapping++;
        expect(overlapping).toBe(0);
        // Per fire time: one "starting" line in one scheduler, and in the other, when it was up then, the skip.
        const fireTimes = (out: string, what: RegExp) => [...out.matchAll(what)].map((m) => m[1]);
        const started = [...fireTimes(a.out(), /^(\S+) TICK\/RATES_TICK: starting \(schedule\)$/gm), ...fireTimes(b.out(), /^(\S+) TICK\/RATES_TICK: starting \(schedule\)$/gm)];
        const skipLine = /^\S+ TICK\/RATES_TICK: not started, its run for (\S+) was started by \S+ \(lease in coinlake_meta\.job_lease\)$/gm;
        const skipped = [...fireTimes(a.out(), skipLine), ...fireTimes(b.out(), skipLine)];
        expect(skipped.length).toBeGreaterThanOrEqual(2);
        // No fire time started twice (the cron fires every 2 s), and each skipped one was started in the other scheduler.
        const startedAt = started.map((t) => Date.parse(t)).sort((x, y) => x - y);
        for (let i = 1; i < startedAt.length; i++) expect(startedAt[i] - startedAt[i - 1]).toBeGreaterThan(1_000);
        for (const t of skipped) expect(startedAt.some((at) => at >= Date.parse(t) && at < Date.parse(t) + 1_500)).toBe(true);
        const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.rates_tick`);
        recordTrial({ suite: 'schedule', case: 'two schedulers on one warehouse (postgres)', faults: 1, rowsLost: Math.max(0, 192 - Number(n)), rowsDuplicated: Math.max(0, Number(n) - 192) + overlapping, clearError: null });
        expect(Number(n)).toBe(192);
      } finally {
        await s.close();
      }
    } finally {
      await db.drop();
    }
  }, 120_000);
});
