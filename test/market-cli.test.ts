// The market-history commands as a user runs them, in subprocesses: a backfill killed with SIGKILL at a random
// chunk and run again equals a clean run; import cdd, backfill and daily print what they did.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { startReplayServer, type ReplayServer } from '../src/replay/index.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const FIXTURES = path.resolve('test/fixtures/cdd');
let dir: string;
let server: ReplayServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-market-cli-'));
  server = await startReplayServer();
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function env(name: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    COINLAKE_WAREHOUSE: path.join(dir, `${name}.duckdb`),
    COINLAKE_LAKE: path.join(dir, `lake-${name}`),
    COINLAKE_REPLAY: '',
    COINLAKE_BINANCE_URL: server.binanceUrl,
  };
}

function coinlake(args: string[], name: string) {
  return run(process.execPath, [BIN, ...args], { cwd: dir, env: env(name) }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

async function withWarehouse<T>(name: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openWarehouse(path.join(dir, `${name}.duckdb`));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Row count, distinct keys and a checksum over every data column of ohlcv_1m. */
const fingerprint = (s: Session) =>
  s
    .query<{ n: number; keys: number; sum: string }>(
      `SELECT count(*) AS n, count(DISTINCT (exchange, symbol, ts)) AS keys,
              CAST(sum(hash(exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count)) AS VARCHAR) AS sum FROM coinlake.ohlcv_1m`,
    )
    .then(([r]) => ({ n: Number(r.n), keys: Number(r.keys), sum: r.sum }));

const BACKFILL = ['backfill', '--job', 'binance.klines', '--from', '2024-03-01', '--to', '2024-03-11', '--symbols', 'BTCUSDT,ETHUSDT,BNBUSDT', '--concurrency', '4'];

describe('coinlake backfill, killed and run again', () => {
  it('kill -9 at a random chunk, then a rerun: the table equals a clean run (count and checksum over all columns)', async () => {
    // Slow every Binance answer so the 30 chunks (60 requests) take a while; kill after a random number of requests.
    server.inject({ kind: 'slow', path: '/binance', times: Infinity, delayMs: 40 });
    const killAt = 24 + Math.floor(Math.random() * 24);
    const start = server.requests.length;
    const child = spawn(process.execPath, [BIN, ...BACKFILL], { cwd: dir, env: env('killed'), stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const poll = setInterval(() => {
      if (server.requests.length - start >= killAt) child.kill('SIGKILL');
    }, 2);
    const signal = await exited;
    clearInterval(poll);
    server.clearFaults();
    expect(signal, `killed after ${killAt} requests`).toBe('SIGKILL');
    const committed = await withWarehouse('killed', async (s) => {
      const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_chunk`);
      const [runRow] = await s.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history`);
      expect(runRow.execution_status).toBe(0);
      return Number(n);
    });
    expect(committed, `chunks committed before the kill after ${killAt} requests`).toBeGreaterThan(0);
    expect(committed).toBeLessThan(30);

    const rerun = await coinlake(BACKFILL, 'killed');
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`binance.klines: 30/30 chunks (${committed} already loaded, ${30 - committed} now`);
    const clean = await coinlake(BACKFILL, 'clean');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('binance.klines: 30/30 chunks (0 already loaded, 30 now');

    const killed = await withWarehouse('killed', fingerprint);
    const reference = await withWarehouse('clean', fingerprint);
    expect(killed).toEqual(reference);
    expect(killed.n).toBe(killed.keys);
    expect(killed.n).toBe(3 * (10 * 1440 - 30)); // 2024-03-05 has a 30-minute maintenance window
  }, 120_000);
});

describe('market commands print what they did', () => {
  it('import cdd: one line per file, a total, the quarantine file and the gaps', async () => {
    const r = await coinlake(['import', 'cdd', path.join(FIXTURES, 'real'), path.join(FIXTURES, 'current/Binance_BTCUSDT_minute.csv')], 'import');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${path.join(FIXTURES, 'current/Binance_BTCUSDT_minute.csv')}: 10 lines (current header), 10 candles into coinlake.ohlcv_1m (10 inserted, 0 updated), 0 quarantined`);
    expect(lines[2]).toBe(`${path.join(FIXTURES, 'real/Binance_BNBUSDT_minute_hostile.csv')}: 101 lines (current header), 100 candles into coinlake.ohlcv_1m (0 inserted, 0 updated, 1 repeated lines merged), 1 quarantined`);
    expect(lines[3]).toMatch(/^import cdd: 3 file\(s\), 210 candles \(110 inserted, 0 updated\), 1 quarantined in \d+\.\d s \(.* lines\/s\) — run \S+ \(process 1\)$/);
    expect(lines[4]).toMatch(/^ {2}quarantine: quarantine\/ohlcv_1m\/\S+\.jsonl$/);
    expect(lines.slice(5)).toEqual([
      '  gaps: binance BTC-USDT 1m: 10 expected, 10 present, 0 missing',
      '  gaps: binance BNB-USDT 1m: 100 expected, 100 present, 0 missing',
      '  gaps: binance BNB-USDT 1m: 100 expected, 100 present, 0 missing',
    ]);
  });

  it('--replay backfill then daily: the summary line with gaps, then one line per job', async () => {
    const b = await coinlake(['--replay', 'backfill', '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-06', '--symbols', 'BTCUSDT'], 'replay');
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(
      /^binance\.klines: 2\/2 chunks \(0 already loaded, 2 now, [12] commits\), 2,850 rows into coinlake\.ohlcv_1m \(2,850 inserted, 0 updated\) in \d+\.\d s — run \S+ \(process 1\)\n {2}gaps: binance BTC-USDT 1m: 2,880 expected, 2,850 present, 30 missing\n$/,
    );
    const d = await coinlake(['--replay', 'daily', '--to', '2024-03-07'], 'replay');
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    // Then the repair step: the maintenance window of 2024-03-05 is asked for once and remembered as known missing.
    expect(d.stdout).toMatch(
      /^binance\.klines BINANCE\/KLINES_BTCUSDT_1M: 1,440 rows since 2024-03-05T23:59:00\.000Z into coinlake\.ohlcv_1m \(1,440 inserted, 0 updated\) from 2 page\(s\) — run \S+ \(process 2\)\nrepair coinlake\.ohlcv_1m: 1 series, 30 missing minute\(s\) in 1 range\(s\) \(0 known missing left alone\)\n {2}binance: 0 repaired, 30 known missing \(the exchange has no candle\) of 30 requested in 1 series — run \S+ \(process 3\)\n$/,
    );
    const empty = await coinlake(['daily'], 'nothing');
    expect(empty.stdout).toBe('no incremental jobs yet: run a backfill (or `coinlake run` an incremental job) first\n');
  });
});
