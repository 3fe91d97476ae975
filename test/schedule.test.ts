// `coinlake schedule` as users run it: a subprocess over a real DuckDB file, the replay server in the CLI
// (--replay), stopped with SIGTERM. The fake-clock cases (catch-up, no overlap, time zones) are in
// src/scheduler/scheduler.test.ts; here the daemon itself runs, catches up one missed fire time, and stops cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openWarehouse } from '../src/destinations/registry.ts';

const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-schedule-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const ENV = { COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', COINLAKE_SECRET_KEY: '', COINLAKE_TZ: '' };

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...ENV } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, out: () => out, err: () => err, exit };
}

async function coinlake(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = start(args);
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
  const s = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
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
      const s = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
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
