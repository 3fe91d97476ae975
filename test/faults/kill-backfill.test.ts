// kill -9 of `coinlake backfill --job binance.klines` at random points, then a rerun (on DuckDB): the candles equal a
// clean backfill of the whole range, each symbol's watermark never runs ahead of its committed candles and reaches
// the end once the rerun completes, and the killed run's row says it was abandoned. See kill-harness.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/core/destination.ts';
import { klineOpenTimes, startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { expectTrialsClean, faultSeed, faultTrials, runKillTrials, type KillCase } from './kill-harness.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const FROM = Date.UTC(2024, 2, 1);
/** Each step adds two days of three symbols: 6 daily chunks, 8,640 candles (fewer on a maintenance day). */
const STEP_DAYS = 2;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'];
const TRIALS = faultTrials();

let dir: string;
let server: ReplayServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-kill-backfill-'));
  server = await startReplayServer();
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const backfillArgs = (to: number) => ['--replay', 'backfill', '--job', 'binance.klines', '--from', day(FROM), '--to', day(to), '--symbols', SYMBOLS.join(','), '--concurrency', '4'];

/** Candles the replay series has from FROM up to and including `last`. */
const expectedUpTo = (last: number) => klineOpenTimes('1m', FROM, last).length;

/**
 * Per symbol: every candle up to the watermark is committed (the state never runs ahead of the data; chunks past it
 * may be committed too), and after a completed backfill the watermark is the last minute of the range.
 */
async function checkState(s: Session, bound: Date, final: boolean): Promise<string[]> {
  const problems: string[] = [];
  for (const symbol of SYMBOLS) {
    const pair = `${symbol.slice(0, -4)}-USDT`;
    const states = await s.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = 'BINANCE' AND table_name = $1`, [`KLINES_${symbol}_1M`]);
    const watermark = states.length ? (JSON.parse(states[0].state) as { watermark?: number }).watermark : undefined;
    if (watermark === undefined) {
      if (final) problems.push(`${symbol}: no state after a completed backfill`);
      continue;
    }
    const [{ n, last }] = await s.query<{ n: number; last: Date | null }>(
      `SELECT count(*) AS n, max(ts) AS last FROM coinlake.ohlcv_1m WHERE exchange = 'binance' AND symbol = $1 AND ts <= $2`,
      [pair, new Date(watermark)],
    );
    const want = expectedUpTo(watermark);
    if (Number(n) !== want) problems.push(`${symbol}: watermark ${new Date(watermark).toISOString()} but ${Number(n)} of its ${want} candles up to it are committed`);
    if (final && watermark !== bound.getTime() - MINUTE) problems.push(`${symbol}: a completed backfill should reach ${new Date(bound.getTime() - MINUTE).toISOString()}, the watermark is ${new Date(watermark).toISOString()}`);
    if (final && last?.getTime() !== watermark) problems.push(`${symbol}: the watermark is ${new Date(watermark).toISOString()}, the data ends at ${last?.toISOString()}`);
  }
  return problems;
}

describe('kill -9 of coinlake backfill, then a rerun', () => {
  it(`on DuckDB: ${TRIALS} random kills, each rerun equals a clean backfill`, async () => {
    const seed = faultSeed('kill-9 backfill binance.klines (duckdb)');
    const stepEnd = (i: number) => FROM + (i + 1) * STEP_DAYS * DAY;
    const c: KillCase = {
      suite: 'kill-9',
      name: 'backfill binance.klines (duckdb)',
      table: 'ohlcv_1m',
      timeColumn: 'ts',
      step: (i) => ({ args: backfillArgs(stepEnd(i)), bound: new Date(stepEnd(i)) }),
      cleanArgs: (_from, to) => backfillArgs(stepEnd(to)),
      trial: { warehouse: path.join(dir, 'trial.duckdb'), lake: path.join(dir, 'lake-trial') },
      clean: { warehouse: path.join(dir, 'clean.duckdb'), lake: path.join(dir, 'lake-clean') },
      cwd: dir,
      env: { COINLAKE_BINANCE_URL: server.binanceUrl, COINLAKE_REPLAY: '' },
      checkState,
    };
    const results = await runKillTrials(c, TRIALS, seed);
    expectTrialsClean(results, TRIALS, seed);
    expect(results.at(-1)!.count).toBe(SYMBOLS.length * expectedUpTo(stepEnd(results.at(-1)!.step) - MINUTE));
  }, 90_000 + TRIALS * 30_000);
});
