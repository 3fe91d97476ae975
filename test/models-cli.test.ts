// `coinlake models run` as a user runs it (a subprocess on a DuckDB file): the first run of fact_indicators is full,
// the next after new candles incremental, --full and new --param values rebuild; each says how it ran.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../src/destinations/registry.ts';
import { insertCandles, synthetic } from './models-reference.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');

describe('coinlake models run (CLI)', () => {
  let dir: string;
  let warehouse: string;
  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, '--warehouse', warehouse, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '' } }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );
  const addCandles = async (n: number, from: number) => {
    const s = await openWarehouse(warehouse);
    try {
      await insertCandles(s, synthetic(n, from), `load-${from}`);
    } finally {
      await s.close();
    }
  };
  /** The fact_indicators line of a `models run` table: [rows_written, how]. */
  const factLine = (stdout: string) => {
    const line = stdout.split('\n').find((l) => l.startsWith('fact_indicators '))!;
    const [, rows, , ...how] = line.trim().split(/\s+/);
    return [Number(rows), how.join(' ')];
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-models-cli-'));
    warehouse = path.join(dir, 'coinlake.duckdb');
    await addCandles(200, 0);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('full first, then incremental after new candles, full again with --full or other parameters', async () => {
    const r = await coinlake(['models', 'run', '--select', 'fact_indicators']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^models run model-[0-9a-f]{12}\nmodel +rows_written +ms +how\n/);
    expect(factLine(r.stdout)).toEqual([200, 'full (first run)']);
    await addCandles(5, 200);
    expect(factLine((await coinlake(['models', 'run', '--select', 'fact_indicators'])).stdout)).toEqual([5, 'incremental: 1 series with new candles']);
    expect(factLine((await coinlake(['models', 'run', '--select', 'fact_indicators'])).stdout)).toEqual([0, 'incremental: 0 series with new candles']);
    expect(factLine((await coinlake(['models', 'run', '--select', 'fact_indicators', '--full'])).stdout)).toEqual([205, 'full (--full)']);
    expect(factLine((await coinlake(['models', 'run', '--select', 'fact_indicators', '--param', 'window=10,rsi=7'])).stdout)).toEqual([205, 'full (parameters changed)']);
  });

  it('a bad --param fails in one line before the warehouse opens', async () => {
    const r = await coinlake(['models', 'run', '--param', 'windo=10']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'error: bad --param "windo=10": expected NAME=NUMBER with NAME one of window, bollingerK, rsi, macdFast, macdSlow, macdSignal, volatility\n' +
        'hint: e.g. --param window=50,rsi=7 (several pairs separated by commas, or --param repeated)\n',
    );
  });
});
