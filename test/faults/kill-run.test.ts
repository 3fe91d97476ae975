// kill -9 of `coinlake run coincap.asset_history` (incremental) at random points, then a rerun: on DuckDB and on
// PostgreSQL the table equals a clean run, the watermark equals the data's last time, and the killed run's row says
// it was abandoned. Every trial goes to the fault ledger. See kill-harness.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { expectTrialsClean, faultSeed, faultTrials, runKillTrials, type KillCase } from './kill-harness.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const FROM = Date.UTC(2024, 0, 1);
/** Each step adds two days of minute candles: 2,880 rows, two history requests. */
const STEP_DAYS = 2;
const TRIALS = faultTrials();

let dir: string;
let server: ReplayServer;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-kill-run-'));
  server = await startReplayServer();
});
afterAll(async () => {
  await server?.close();
  for (const db of databases) await db.drop();
  await rm(dir, { recursive: true, force: true });
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const historyArgs = (to: number) => ['--replay', 'run', 'coincap.asset_history', '--asset', 'bitcoin', '--interval', 'm1', '--from', day(FROM), '--to', day(to)];

/** The job's watermark is the last `time` it committed, and a finished run reaches the end of its window. */
async function checkState(s: Session, bound: Date, final: boolean): Promise<string[]> {
  const states = await s.query<{ state: string }>(
    `SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = 'COINCAP' AND table_name = 'ASSET_HISTORY_BITCOIN_M1'`,
  );
  const [{ last }] = await s.query<{ last: Date | null }>(
    `SELECT max(time) AS last FROM coinlake.coincap_asset_history WHERE asset_id = 'bitcoin' AND interval = 'm1'`,
  );
  const watermark = states.length ? (JSON.parse(states[0].state) as { watermark?: number }).watermark : undefined;
  const problems: string[] = [];
  if (watermark === undefined && last !== null) problems.push(`data up to ${last.toISOString()} but no state`);
  if (watermark !== undefined && (last === null || last.getTime() !== watermark)) {
    problems.push(`state watermark ${new Date(watermark).toISOString()} but the data ends at ${last?.toISOString() ?? 'nothing'}`);
  }
  if (final && last?.getTime() !== bound.getTime() - MINUTE) problems.push(`a completed run should end at ${new Date(bound.getTime() - MINUTE).toISOString()}, the data ends at ${last?.toISOString()}`);
  return problems;
}

function historyCase(warehouse: 'duckdb' | 'postgres', trialWarehouse: string, cleanWarehouse: string): KillCase {
  const stepEnd = (i: number) => FROM + (i + 1) * STEP_DAYS * DAY;
  return {
    suite: 'kill-9',
    name: `run coincap.asset_history (${warehouse})`,
    table: 'coincap_asset_history',
    timeColumn: 'time',
    step: (i) => ({ args: historyArgs(stepEnd(i)), bound: new Date(stepEnd(i)) }),
    cleanArgs: (_from, to) => historyArgs(stepEnd(to)),
    trial: { warehouse: trialWarehouse, lake: path.join(dir, `lake-${warehouse}-trial`) },
    clean: { warehouse: cleanWarehouse, lake: path.join(dir, `lake-${warehouse}-clean`) },
    cwd: dir,
    env: { COINLAKE_COINCAP_URL: server.coincapV2Url, COINLAKE_REPLAY: '' },
    checkState,
  };
}

describe('kill -9 of coinlake run (incremental), then a rerun', () => {
  it(`on DuckDB: ${TRIALS} random kills, each rerun equals a clean run`, async () => {
    const seed = faultSeed('kill-9 run coincap.asset_history (duckdb)');
    const c = historyCase('duckdb', path.join(dir, 'trial.duckdb'), path.join(dir, 'clean.duckdb'));
    const results = await runKillTrials(c, TRIALS, seed);
    expectTrialsClean(results, TRIALS, seed);
    expect(results.at(-1)!.count).toBe((results.at(-1)!.step + 1) * STEP_DAYS * 1440);
  }, 90_000 + TRIALS * 30_000);

  it(`on PostgreSQL: ${TRIALS} random kills, each rerun equals a clean run`, async () => {
    const seed = faultSeed('kill-9 run coincap.asset_history (postgres)');
    const trialDb = await createTestDatabase();
    databases.push(trialDb);
    const cleanDb = await createTestDatabase();
    databases.push(cleanDb);
    const c = historyCase('postgres', trialDb.url, cleanDb.url);
    const results = await runKillTrials(c, TRIALS, seed);
    expectTrialsClean(results, TRIALS, seed);
    expect(results.at(-1)!.count).toBe((results.at(-1)!.step + 1) * STEP_DAYS * 1440);
  }, 90_000 + TRIALS * 30_000);
});
