// Test environment of the dashboard: a warehouse (DuckDB file or fresh PostgreSQL database) filled by the real
// runner from the replay server with the demo's jobs plus one day of Binance minute candles, and a lake; and the
// crafted candles of three venues the divergence panel's tests build fact_price_divergence from.
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
import type { Candle } from '../models-reference.ts';
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

/** First minute of the divergence candles (on the hour: the 60 minutes make one hour). */
export const DIVERGENCE_T0 = Date.UTC(2024, 2, 1, 10, 0);
export const DIVERGENCE_MINUTES = 60;
/** The venues of the divergence candles and their basis in bps. */
export const DIVERGENCE_VENUES = { binance: 0, kraken: 3, okx: -2 } as const;
type Venue = keyof typeof DIVERGENCE_VENUES;
/** The minute okx has no candle. */
const isMissing = (v: Venue, i: number) => v === 'okx' && i === 43;
/** The crafted moves in bps on top of the basis; every other minute stays within a few bps of the others. */
function shock(v: Venue, i: number): number {
  if (v === 'kraken' && i >= 10 && i <= 16) return 80; // 7 minutes: a closed episode
  if (v === 'okx' && i >= 30 && i <= 33) return -70; // 4 minutes: one short of the default 5
  if (v === 'okx' && i >= 40 && i <= 46) return -75; // 3 + 3 around the missing minute 43: never one episode
  if (v === 'binance' && i >= 54) return 90; // the last 6 minutes: open
  return 0;
}
function divergenceCandle(v: Venue, i: number, symbol: string): Candle {
  const base = 60_000 + 25 * Math.sin(i / 7) + (i % 11) * 3.5;
  const bps = DIVERGENCE_VENUES[v] + shock(v, i) + ((i * 7 + v.length) % 5) - 2;
  const close = base * (1 + bps / 10_000);
  return { exchange: v, symbol, ts: new Date(DIVERGENCE_T0 + i * 60_000), open: close, high: close + 5, low: close - 5, close, volume_base: 1, volume_quote: close, trade_count: 1 };
}

/**
 * Minute candles for fact_price_divergence: BTC-USDT on three venues for 60 minutes (okx without minute 43) with the
 * crafted episodes of `shock`, and ETH-USDT on one venue for 10 minutes (a pair with nothing to compare).
 */
export function divergenceCandles(): Candle[] {
  return [
    ...(Object.keys(DIVERGENCE_VENUES) as Venue[]).flatMap((v) =>
      Array.from({ length: DIVERGENCE_MINUTES }, (_, i) => i).filter((i) => !isMissing(v, i)).map((i) => divergenceCandle(v, i, 'BTC-USDT')),
    ),
    ...Array.from({ length: 10 }, (_, i) => ({ ...divergenceCandle('binance', i, 'ETH-USDT'), close: 3000 + i })),
  ];
}
