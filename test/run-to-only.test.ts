// `coinlake run … --to D` without `--from` continues from the committed watermark to D, as `daily` does up to now: the
// CLI against its replay server, a DuckDB warehouse read back; refused with what to pass when the job has no
// watermark yet, when D is not after it, and for a job that keeps none.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../src/destinations/registry.ts';

const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-to-only-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function coinlake(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--replay', '--warehouse', path.join(dir, 'w.duckdb'), '--lake', path.join(dir, 'lake'), ...args], { cwd: dir, env: { ...process.env, COINLAKE_REPLAY: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const KLINES = ['run', 'binance.klines', '--asset', 'BTCUSDT', '--interval', '1m'];

describe('run --to without --from', () => {
  it('continues from the watermark to --to; refused, saying what to pass, without a watermark or before it', async () => {
    const none = await coinlake([...KLINES, '--to', '2025-01-02']);
    expect(none.code).toBe(1);
    expect(none.stderr.split('\n').slice(0, 2)).toEqual([
      'error: --to without --from continues from the committed watermark, and binance.klines (BINANCE/KLINES_BTCUSDT_1M) has none yet',
      'hint: give the first run a --from',
    ]);

    const first = await coinlake([...KLINES, '--from', '2025-01-01', '--to', '2025-01-02']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('binance.klines: 1,440 rows into coinlake.ohlcv_1m (1440 inserted, 0 updated, 0 deleted)');

    const next = await coinlake([...KLINES, '--to', '2025-01-03']);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('binance.klines: 1,440 rows into coinlake.ohlcv_1m (1440 inserted, 0 updated, 0 deleted)');

    const behind = await coinlake([...KLINES, '--to', '2025-01-02T12:00:00Z']);
    expect(behind.code).toBe(1);
    expect(behind.stderr.split('\n')[0]).toBe('error: --to 2025-01-02T12:00:00.000Z is not after the committed watermark 2025-01-02T23:59:00.000Z of binance.klines: everything before it is loaded');

    const s = await openWarehouse(path.join(dir, 'w.duckdb'));
    try {
      expect(await s.query(`SELECT count(*) AS n, count(DISTINCT ts) AS d, min(ts) AS lo, max(ts) AS hi FROM coinlake.ohlcv_1m WHERE symbol = 'BTC-USDT'`)).toEqual([
        { n: 2880, d: 2880, lo: new Date('2025-01-01T00:00:00Z'), hi: new Date('2025-01-02T23:59:00Z') },
      ]);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('a job that keeps no watermark needs --from with --to', async () => {
    const r = await coinlake(['run', 'coincap.assets', '--to', '2025-01-02']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error: coincap.assets keeps no watermark, so --to 2025-01-02T00:00:00.000Z needs a --from');
  }, 60_000);
});
