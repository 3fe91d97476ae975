// Test environment for end-to-end runs: a replay server, a fresh DuckDB file and a lake in a temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../../src/core/destination.ts';
import { createTestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import { startReplayServer, type ReplayOptions, type ReplayServer } from '../../src/replay/index.ts';
import { buildJob, type JobOptions } from '../../src/runner/job-builder.ts';
import { runJob, type RunOptions, type RunSummary } from '../../src/runner/run-job.ts';

export interface SpineEnv {
  dir: string;
  replay: ReplayServer;
  session: Session;
  /** What --warehouse names: the DuckDB file or the PostgreSQL URL. */
  warehouse: string;
  lake: LocalLake;
  run(job: string, opts?: JobOptions, runOpts?: Partial<RunOptions>): Promise<RunSummary>;
  close(): Promise<void>;
}

/** The warehouses every spine test runs on. */
export const WAREHOUSES = ['duckdb', 'postgres'] as const;
export type WarehouseKind = (typeof WAREHOUSES)[number];

/** Starts everything a spine test needs: a DuckDB file in a temp dir, or a fresh PostgreSQL database. */
export async function spineEnv(kind: WarehouseKind = 'duckdb', replayOpts: ReplayOptions = {}): Promise<SpineEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-test-'));
  const replay = await startReplayServer(replayOpts);
  const db = kind === 'postgres' ? await createTestDatabase() : undefined;
  const warehouse = db ? db.url : path.join(dir, 'coinlake.duckdb');
  const session = await openWarehouse(warehouse);
  const lake = new LocalLake(path.join(dir, 'lake'));
  return {
    dir,
    replay,
    session,
    warehouse,
    lake,
    run: (job, opts = {}, runOpts = {}) =>
      runJob(buildJob(job, opts, { baseUrls: { coincap: replay.coincapV2Url, coinlore: replay.coinloreUrl, evm: replay.evmUrl, rest: replay.coingeckoUrl }, rateLimitPerMinute: 0, http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 4 } }), { session, lake, progress: false, ...runOpts }),
    async close() {
      await session.close();
      await replay.close();
      await db?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
