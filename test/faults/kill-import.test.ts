// kill -9 of `coinlake import cdd` at random points, then a rerun (on DuckDB): the candles equal a clean import of
// every file, each file is in the table wholly or not at all (one transaction per file), and the killed run's row says
// it was abandoned. Each step imports two generated CryptoDataDownload files of its own days. See kill-harness.ts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/core/destination.ts';
import { MAX_STEPS_PER_KILL, expectTrialsClean, faultSeed, faultTrials, runKillTrials, seededRandom, type KillCase } from './kill-harness.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const FROM = Date.UTC(2024, 5, 1);
/** Each step: two files (BTCUSDT, ETHUSDT) of two days of minutes, 2,880 lines each. */
const STEP_DAYS = 2;
const PER_FILE = STEP_DAYS * 1440;
const SYMBOLS = [
  { symbol: 'BTCUSDT', base: 'BTC', pair: 'BTC-USDT', price: 67_000 },
  { symbol: 'ETHUSDT', base: 'ETH', pair: 'ETH-USDT', price: 3_500 },
];
const TRIALS = faultTrials();

let dir: string;
const stepStart = (i: number) => FROM + i * STEP_DAYS * DAY;
const stepDir = (i: number) => path.join(dir, 'cdd', `step-${String(i).padStart(2, '0')}`);

/** A CryptoDataDownload minute file (current header, newest line first) with deterministic candles. */
function cddFile(symbol: (typeof SYMBOLS)[number], start: number, minutes: number, seed: number): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  let price = symbol.price;
  for (let m = 0; m < minutes; m++) {
    const t = start + m * MINUTE;
    const open = price;
    const close = Math.round(open * (1 + (random() - 0.5) * 0.002) * 100) / 100;
    const high = Math.round(Math.max(open, close) * (1 + random() * 0.001) * 100) / 100;
    const low = Math.round(Math.min(open, close) * (1 - random() * 0.001) * 100) / 100;
    const volume = Math.round(random() * 50 * 1e5) / 1e5;
    const quote = Math.round(volume * close * 1e6) / 1e6;
    const date = new Date(t).toISOString().replace('T', ' ').slice(0, 19);
    lines.push(`${t},${date},${symbol.symbol},${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${volume},${quote},${1 + Math.floor(random() * 3000)}`);
    price = close;
  }
  return ['https://www.CryptoDataDownload.com', `Unix,Date,Symbol,Open,High,Low,Close,Volume ${symbol.base},Volume USDT,tradecount`, ...lines.reverse()].join('\n') + '\n';
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-kill-import-'));
  for (let i = 0; i <= MAX_STEPS_PER_KILL * TRIALS; i++) {
    await mkdir(stepDir(i), { recursive: true });
    for (const [k, s] of SYMBOLS.entries()) {
      await writeFile(path.join(stepDir(i), `Binance_${s.symbol}_minute.csv`), cddFile(s, stepStart(i), PER_FILE, 1000 * i + k + 1));
    }
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every file of every step so far is in the table wholly or not at all; the earlier steps (and a finished one) wholly. */
async function checkFiles(s: Session, bound: Date, final: boolean): Promise<string[]> {
  const problems: string[] = [];
  const steps = Math.round((bound.getTime() - FROM) / (STEP_DAYS * DAY));
  for (let i = 0; i < steps; i++) {
    for (const sym of SYMBOLS) {
      const [{ n }] = await s.query<{ n: number }>(
        `SELECT count(*) AS n FROM coinlake.ohlcv_1m WHERE exchange = 'binance' AND symbol = $1 AND ts >= $2 AND ts < $3`,
        [sym.pair, new Date(stepStart(i)), new Date(stepStart(i + 1))],
      );
      const whole = i < steps - 1 || final;
      const count = Number(n);
      if (whole ? count !== PER_FILE : count !== 0 && count !== PER_FILE) {
        problems.push(`step ${i} ${sym.symbol}: ${count} of the file's ${PER_FILE} candles committed`);
      }
    }
  }
  return problems;
}

describe('kill -9 of coinlake import cdd, then a rerun', () => {
  it(`on DuckDB: ${TRIALS} random kills, each rerun equals a clean import`, async () => {
    const seed = faultSeed('kill-9 import cdd (duckdb)');
    const c: KillCase = {
      suite: 'kill-9',
      name: 'import cdd (duckdb)',
      table: 'ohlcv_1m',
      timeColumn: 'ts',
      step: (i) => ({ args: ['import', 'cdd', stepDir(i)], bound: new Date(stepStart(i + 1)) }),
      cleanArgs: (from, to) => ['import', 'cdd', ...Array.from({ length: to - from + 1 }, (_, i) => stepDir(from + i))],
      trial: { warehouse: path.join(dir, 'trial.duckdb'), lake: path.join(dir, 'lake-trial') },
      clean: { warehouse: path.join(dir, 'clean.duckdb'), lake: path.join(dir, 'lake-clean') },
      cwd: dir,
      env: {},
      checkState: checkFiles,
    };
    const results = await runKillTrials(c, TRIALS, seed);
    expectTrialsClean(results, TRIALS, seed);
    expect(results.at(-1)!.count).toBe((results.at(-1)!.step + 1) * SYMBOLS.length * PER_FILE);
  }, 90_000 + TRIALS * 30_000);
});
