// The warehouse file as a user meets it: the default name, the move of the earlier default, and the SQL the demo
// prints, run as printed on the file opened the way the DuckDB CLI, Python or DBeaver open it (catalog = base name).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-whfile-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function coinlake(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** Runs SQL on a DuckDB file opened directly, as the DuckDB CLI does. */
async function direct(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(file);
  const c = await instance.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** The demo's printed SQL: the top-10 query and the `duckdb <file> '<sql>'` hint. */
function printedSql(stdout: string): { top10: string; file: string; hint: string } {
  const top10 = /Top 10 assets by market cap:\n([\s\S]+?)\n\n/.exec(stdout);
  const next = /\nNext: npx coinlake status {3}\| {3}duckdb (\S+) '([^']+)'\n$/.exec(stdout);
  expect(top10, stdout).not.toBeNull();
  expect(next, stdout).not.toBeNull();
  return { top10: top10![1], file: next![1], hint: next![2] };
}

const HISTORY_COLUMNS = ['asset_id', 'interval', 'time', 'price_usd', 'circulating_supply', 'date', '_run_id', '_loaded_at'];
const TOP10 = ['BTC', 'ETH', 'USDT', 'SOL', 'BNB', 'XRP', 'DOGE', 'USDC', 'ADA', 'STETH'];

describe('the warehouse file', () => {
  it('default ./warehouse.duckdb: the demo SQL runs as printed on the file opened directly', async () => {
    const r = await coinlake(['demo', '--no-serve']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'warehouse.duckdb'))).toBe(true);
    expect(existsSync(path.join(dir, 'coinlake.duckdb'))).toBe(false);
    const { top10, file, hint } = printedSql(r.stdout);
    expect([file, hint]).toEqual(['./warehouse.duckdb', 'SELECT * FROM coinlake.coincap_asset_history LIMIT 5']);
    expect(top10).toContain('FROM coinlake.coincap_assets ORDER BY');
    const rows = await direct(path.join(dir, file), hint);
    expect(rows.length).toBe(5);
    expect(Object.keys(rows[0])).toEqual(HISTORY_COLUMNS);
    expect((await direct(path.join(dir, file), top10)).map((x) => x.symbol)).toEqual(TOP10);
  });

  it('a file named coinlake.duckdb: one note when created, and the demo prints SQL that works on it opened directly', async () => {
    const r = await coinlake(['--warehouse', 'coinlake.duckdb', 'demo', '--no-serve']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'note: DuckDB names the catalog of coinlake.duckdb "coinlake", as the schema coinlake: opening the file in the DuckDB CLI, Python or DBeaver, ' +
        'write "coinlake"."coinlake".coincap_assets (coinlake.coincap_assets is ambiguous there), or name the file e.g. warehouse.duckdb\n',
    );
    const { top10, file, hint } = printedSql(r.stdout);
    expect([file, hint]).toEqual(['coinlake.duckdb', 'SELECT * FROM "coinlake"."coinlake".coincap_asset_history LIMIT 5']);
    const rows = await direct(path.join(dir, file), hint);
    expect(rows.length).toBe(5);
    expect(Object.keys(rows[0])).toEqual(HISTORY_COLUMNS);
    expect((await direct(path.join(dir, file), top10)).map((x) => x.symbol)).toEqual(TOP10);
    // What the demo printed before: ambiguous on this file.
    await expect(direct(path.join(dir, file), 'SELECT * FROM coinlake.coincap_asset_history LIMIT 5')).rejects.toThrow(
      'Ambiguous reference to catalog or schema "coinlake"',
    );
    // Said once: the file exists now.
    const again = await coinlake(['--warehouse', 'coinlake.duckdb', 'status']);
    expect([again.code, again.stderr]).toEqual([0, '']);
  });

  it('coinlake_meta.duckdb named by COINLAKE_WAREHOUSE: the note names the meta schema', async () => {
    const r = await coinlake(['status'], { COINLAKE_WAREHOUSE: 'coinlake_meta.duckdb' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'note: DuckDB names the catalog of coinlake_meta.duckdb "coinlake_meta", as the schema coinlake_meta: opening the file in the DuckDB CLI, Python or DBeaver, ' +
        'write "coinlake_meta"."coinlake_meta".workflow_action_history (coinlake_meta.workflow_action_history is ambiguous there), or name the file e.g. warehouse.duckdb\n',
    );
  });

  it('an earlier default ./coinlake.duckdb (with its .wal) is moved to ./warehouse.duckdb once, with one line, and nothing is lost', async () => {
    const r1 = await coinlake(['--replay', '--warehouse', 'coinlake.duckdb', 'run', 'coincap.rates']);
    expect(r1.code, r1.stderr).toBe(0);
    // Leave a .wal behind: a write that is not checkpointed when the process ends.
    const script = `import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(${JSON.stringify(path.join(dir, 'coinlake.duckdb'))}); const c = await i.connect();
await c.run("SET checkpoint_threshold = '10GB'"); await c.run('PRAGMA disable_checkpoint_on_shutdown');
await c.run("CREATE TABLE coinlake.coinlake.left_in_wal AS SELECT 42 AS answer");
process.exit(0);`;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`wal writer exited ${code}`))));
    });
    expect((await readdir(dir)).filter((f) => f.includes('duckdb')).sort()).toEqual(['coinlake.duckdb', 'coinlake.duckdb.wal']);

    const st = await coinlake(['status']);
    expect(st.code).toBe(0);
    expect(st.stderr).toBe(
      'moved ./coinlake.duckdb and ./coinlake.duckdb.wal to ./warehouse.duckdb and ./warehouse.duckdb.wal, the default warehouse file now (opened directly, a file named coinlake.duckdb makes coinlake.<table> ambiguous)\n',
    );
    expect(st.stdout).toMatch(/1\s+\S+\s+COINCAP\s+RATES\s+ok/);
    expect((await readdir(dir)).filter((f) => f.includes('duckdb'))).toEqual(['warehouse.duckdb']);
    expect(await direct(path.join(dir, 'warehouse.duckdb'), 'SELECT (SELECT answer FROM coinlake.left_in_wal) AS answer, (SELECT count(*) FROM coinlake.coincap_rates) AS rates')).toEqual([
      { answer: 42, rates: '192' },
    ]);
    const again = await coinlake(['status']);
    expect([again.code, again.stderr]).toEqual([0, '']);
  });

  it('./coinlake.duckdb held by another process is left in place and used this time, said in one line', async () => {
    const r1 = await coinlake(['--warehouse', 'coinlake.duckdb', 'setup']);
    expect(r1.code, r1.stderr).toBe(0);
    const script = `import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(${JSON.stringify(path.join(dir, 'coinlake.duckdb'))}); process.stdout.write('held\\n'); setTimeout(() => {}, 60000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      const st = await coinlake(['status']);
      expect(st.stderr.split('\n')[0]).toBe(
        './coinlake.duckdb (the earlier default warehouse) is held by another process: using it this time; once it is free, coinlake moves it to ./warehouse.duckdb',
      );
      expect(st.code).toBe(1);
      expect(st.stderr).toContain('error: warehouse ./coinlake.duckdb is locked by another process\n');
      expect(existsSync(path.join(dir, 'coinlake.duckdb'))).toBe(true);
      expect(existsSync(path.join(dir, 'warehouse.duckdb'))).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  }, 60_000);
});
