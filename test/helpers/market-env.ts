// Test environment for market-history runs (backfill, daily, import): a replay server, a warehouse (a fresh DuckDB
// file, or a PostgreSQL URL) and a lake in a temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../../src/core/destination.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import { startReplayServer, type ReplayOptions, type ReplayServer } from '../../src/replay/index.ts';
import type { Endpoints } from '../../src/runner/job-builder.ts';

export interface MarketEnv {
  dir: string;
  replay: ReplayServer;
  session: Session;
  lake: LocalLake;
  /** Every source at the replay server, with short retry backoffs. */
  endpoints: Endpoints;
  close(): Promise<void>;
}

export async function marketEnv(replayOpts: ReplayOptions = {}, warehouse?: string): Promise<MarketEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-market-'));
  const replay = await startReplayServer(replayOpts);
  const session = await openWarehouse(warehouse ?? path.join(dir, 'coinlake.duckdb'));
  return {
    dir,
    replay,
    session,
    lake: new LocalLake(path.join(dir, 'lake')),
    endpoints: { baseUrls: { binance: replay.binanceUrl }, http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 4 } },
    async close() {
      await session.close();
      await replay.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
