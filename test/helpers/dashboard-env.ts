// Test environment of the dashboard: a warehouse (DuckDB file or fresh PostgreSQL database) filled by the real
// runner from the replay server with the demo's jobs plus one day of Binance minute candles, and a lake.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEMO_JOBS } from '../../src/cli/demo-command.ts';
import { createTestDatabase, type TestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { buildJob, type Endpoints } from '../../src/runner/job-builder.ts';
import { runJob, type RunSummary } from '../../src/runner/run-job.ts';
import type { WarehouseKind } from './spine-env.ts';

/** The candles every dashboard test loads: BTCUSDT minutes of 2024-12-30 (1440 of them). */
export const CANDLE_JOB = { name: 'binance.klines', opts: { asset: 'BTCUSDT', interval: '1m', from: '2024-12-30', to: '2024-12-31' } };

export interface DashboardEnv {
  dir: string;
  /** DuckDB file path or postgres:// URL. */
  warehouse: string;
  lakeDir: string;
  replay: ReplayServer;
  endpoints: Endpoints;
  /** The runs that filled the warehouse, in order. */
  runs: RunSummary[];
  /** Runs one more job with its own session (on DuckDB: a session of this process on the shared file). */
  run(name: string, opts?: Record<string, string>): Promise<RunSummary>;
  close(): Promise<void>;
}

/** Fills a warehouse with the demo jobs and a day of candles, then closes its session (the server opens its own). */
export async function dashboardEnv(kind: WarehouseKind = 'duckdb'): Promise<DashboardEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-dashboard-'));
  const replay = await startReplayServer();
  let db: TestDatabase | undefined;
  if (kind === 'postgres') db = await createTestDatabase();
  const warehouse = db ? db.url : path.join(dir, 'coinlake.duckdb');
  const lakeDir = path.join(dir, 'lake');
  const endpoints: Endpoints = {
    baseUrls: { coincap: replay.coincapV2Url, binance: replay.binanceUrl },
    rateLimitPerMinute: 0,
    http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 4 },
  };
  const run = async (name: string, opts: Record<string, string> = {}) => {
    const session = await openWarehouse(warehouse);
    try {
      return await runJob(buildJob(name, opts, endpoints), { session, lake: new LocalLake(lakeDir), progress: false });
    } finally {
      await session.close();
    }
  };
  const runs: RunSummary[] = [];
  for (const j of [...DEMO_JOBS, CANDLE_JOB]) runs.push(await run(j.name, j.opts));
  return {
    dir,
    warehouse,
    lakeDir,
    replay,
    endpoints,
    runs,
    run,
    async close() {
      await replay.close();
      await db?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
