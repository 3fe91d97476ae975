// The CLI as a user runs it: subprocesses on an empty directory, offline through --replay.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { openRun } from '../src/runner/run-history.ts';
import { loopbackApi } from './helpers/loopback-api.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cli-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function coinlake(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

describe('coinlake CLI', () => {
  it('npm run demo entry point (--no-serve) fills every CoinCap table in an empty directory', async () => {
    const r = await coinlake(['demo', '--no-serve']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Top 10 assets by market cap');
    expect(existsSync(path.join(dir, 'warehouse.duckdb'))).toBe(true);
    const s = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
    try {
      const counts = await s.query<{ t: string; n: number }>(
        `SELECT 'assets' AS t, count(*) AS n FROM coinlake.coincap_assets UNION ALL SELECT 'exchanges', count(*) FROM coinlake.coincap_exchanges
         UNION ALL SELECT 'rates', count(*) FROM coinlake.coincap_rates UNION ALL SELECT 'markets', count(*) FROM coinlake.coincap_markets
         UNION ALL SELECT 'history', count(*) FROM coinlake.coincap_asset_history ORDER BY t`,
      );
      expect(counts.map((c) => [c.t, Number(c.n)])).toEqual([['assets', 100], ['exchanges', 100], ['history', 1488], ['markets', 100], ['rates', 192]]);
      // 16 jobs and the CDD import (test/demo.test.ts checks every table)
      const runs = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.workflow_action_history WHERE execution_status = 1`);
      expect(Number(runs[0].n)).toBe(17);
    } finally {
      await s.close();
    }
  });

  it('run prints a summary; status lists the run; -l debug --print-log shows debug lines', async () => {
    const r = await coinlake(['--replay', '-l', 'debug', '--print-log', 'run', 'coincap.rates']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^coincap\.rates: 192 rows into coinlake\.coincap_rates \(192 inserted, 0 updated, 0 deleted\) from 1 page\(s\) in \d+\.\d s — run \S+ \(process 1\)\n$/);
    expect(r.stderr).toMatch(/debug page landed/);
    const st = await coinlake(['status']);
    expect(st.code).toBe(0);
    expect(st.stdout.split('\n')[0]).toMatch(/^process\s+run_id\s+connection\s+table\s+status/);
    expect(st.stdout).toMatch(/1\s+\S+\s+COINCAP\s+RATES\s+ok/);
  });

  it('an unknown job is one readable line with a hint and exit code 1', async () => {
    const r = await coinlake(['run', 'coincap.nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: unknown job "coincap.nope"\nhint: known jobs: coincap.assets, coincap.exchanges, coincap.rates, coincap.markets, coincap.asset_history, binance.klines, coinlore.tickers, coinlore.ticker, coinlore.global, coinlore.exchanges, coinlore.exchange, coinlore.coin_markets, coinlore.social_stats, evm.erc20_transfers, rest.records, ccxt.ohlcv, ccxt.trades, ccxt.tickers, ccxt.markets\n',
    );
  });

  it('a failed run names the run and its log, exits 1', async () => {
    const r = await coinlake(['--replay', 'run', 'coincap.asset_history', '--interval', 'x9', '--from', '2024-01-01', '--to', '2024-01-02']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown interval "x9": expected one of m1, m5, m15, m30, h1, h2, h6, h12, d1\nrun \S+ \(process 1\) failed; log: .*lake\/logs\/\S+\.log\n$/);
  });

  it('status marks a run whose process is gone (left at status 0, e.g. by kill -9) as failed instead of running', async () => {
    const s = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
    try {
      await ensureMetaTables(s);
      await openRun(s, { connectionName: 'COINCAP', tableName: 'COINCAP_RATES', runId: '20260101T000000Z-0000dead' });
    } finally {
      await s.close();
    }
    const r = await coinlake(['status']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('20260101T000000Z-0000dead'));
    expect(line).toMatch(/ FAILED .* abandoned: the process ended without closing the run/);
    const again = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
    try {
      expect(await again.query(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history`)).toEqual([
        { execution_status: -1, error_message: 'abandoned: the process ended without closing the run (killed?)' },
      ]);
    } finally {
      await again.close();
    }
  });
});

describe('--rate and User-Agent against loopback APIs', () => {
  const version = JSON.parse(readFileSync(path.resolve('package.json'), 'utf8')).version as string;

  it('run --rate 24: CoinLore /tickers/ pages are requested 2 per 5 s (default 60/min: all at once), each with User-Agent coinlake/<version>', async () => {
    // /tickers/ as documented: 250 coins, pages of 100 until info.coins_num.
    const api = await loopbackApi((url) => {
      const start = Number(url.searchParams.get('start'));
      const data = Array.from({ length: Math.min(100, 250 - start) }, (_, i) => ({ id: String(start + i + 1), symbol: `C${start + i + 1}`, name: 'Coin', nameid: 'coin', rank: start + i + 1, price_usd: '1.00', csupply: '10', tsupply: '10', msupply: '', volume24: 1, volume24a: 1 }));
      return { body: { data, info: { coins_num: 250, time: 1717978200 } } };
    });
    try {
      const r = await coinlake(['run', 'coinlore.tickers', '--rate', '24'], { COINLAKE_COINLORE_URL: api.url });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(api.paths).toEqual([0, 100, 200].map((start) => `/tickers/?start=${start}&limit=100`));
      const at = api.requests.map((q) => q.at - api.requests[0].at);
      expect(at[1]).toBeLessThan(2_000);
      // Paced (unpaced they would arrive together); arrival times carry each request's own delay on a busy machine, so
      // the bound leaves a second for that rather than the 5 s the client waits.
      expect(at[2]).toBeGreaterThanOrEqual(4_000);
      expect(api.requests.map((q) => q.headers['user-agent'])).toEqual([1, 2, 3].map(() => `coinlake/${version}`));
    } finally {
      await api.close();
    }
  });

  it('backfill --rate 24: three one-day chunks of CoinCap history, the third request 5 s after the first', async () => {
    const api = await loopbackApi(() => ({ body: { data: [], timestamp: 1732746402463 } }));
    try {
      const r = await coinlake(['backfill', '--job', 'coincap.asset_history', '--from', '2024-03-01', '--to', '2024-03-04', '--chunk', '1d', '--interval', 'h1', '--rate', '24'], { COINLAKE_COINCAP_URL: api.url });
      expect(r.code).toBe(0);
      expect(api.paths.map((p) => p.split('?')[0])).toEqual(['/assets/bitcoin/history', '/assets/bitcoin/history', '/assets/bitcoin/history']);
      const at = api.requests.map((q) => q.at).sort((a, b) => a - b);
      // Paced: the client waits 5 s for the third; arrival times carry each request's own delay (see above).
      expect(at[2] - at[0]).toBeGreaterThanOrEqual(4_000);
    } finally {
      await api.close();
    }
  });

  it('--rate that is not a whole number of requests per minute is refused by run, backfill and daily, naming the value', async () => {
    const message = 'error: --rate must be a whole number of requests per minute (0 = unlimited), got "fast"\n';
    for (const args of [['run', 'coinlore.tickers'], ['backfill', '--job', 'coincap.asset_history', '--from', '2024-03-01'], ['daily']]) {
      const r = await coinlake([...args, '--rate', 'fast']);
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 1, message]);
    }
  });
});

describe('--from/--to: --to is exclusive, and an empty or reversed window says exactly what to pass', () => {
  it('run and backfill refuse --from D --to D naming --to D+1; the suggested invocation loads the whole day', async () => {
    const hint = 'hint: the window is [--from, --to): --from is included, --to is not\n';
    const run1 = await coinlake(['--replay', 'run', 'coincap.asset_history', '--interval', 'h1', '--from', '2024-03-01', '--to', '2024-03-01']);
    expect([run1.code, run1.stderr]).toEqual([1, `error: --from 2024-03-01 --to 2024-03-01 is an empty window (--to is exclusive); to include the day 2024-03-01 pass --to 2024-03-02\n${hint}`]);
    const back = await coinlake(['--replay', 'backfill', '--job', 'binance.klines', '--symbols', 'BTCUSDT', '--from', '2024-03-01', '--to', '2024-03-01']);
    expect([back.code, back.stderr]).toEqual([1, `error: --from 2024-03-01 --to 2024-03-01 is an empty window (--to is exclusive); to include the day 2024-03-01 pass --to 2024-03-02\n${hint}`]);
    const reversed = await coinlake(['--replay', 'run', 'coincap.asset_history', '--interval', 'h1', '--from', '2024-03-05', '--to', '2024-03-01T06:00:00Z']);
    expect([reversed.code, reversed.stderr]).toEqual([1, `error: --to 2024-03-01T06:00:00Z (2024-03-01T06:00:00.000Z) is before --from 2024-03-05 (2024-03-05T00:00:00.000Z)\n${hint}`]);
    const ok = await coinlake(['--replay', 'run', 'coincap.asset_history', '--interval', 'h1', '--from', '2024-03-01', '--to', '2024-03-02']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^coincap\.asset_history: 24 rows into coinlake\.coincap_asset_history \(24 inserted/);
  });
});
