// Klines backfill against the replay server limited to R request weight per window, with time scaled (a 3 s
// "minute") so the run takes well under a minute: the achieved weight rate should be ≥ 0.95 × R, with no 429
// surfaced to the user. 10 symbols, one-day chunks of 1h candles (24 per request), BENCH_KLINES_DAYS days each.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer, REPLAY_BINANCE_SYMBOLS } from '../src/replay/index.ts';
import { runBackfill } from '../src/runner/backfill.ts';
import { weightBudgetFor } from '../src/sources/binance/binance-weight-budget.ts';

const R = Number(process.env.BENCH_KLINES_WEIGHT ?? 600);
const WINDOW_MS = Number(process.env.BENCH_KLINES_WINDOW_MS ?? 3_000);
const DAYS = Number(process.env.BENCH_KLINES_DAYS ?? 300);
const SYMBOLS = REPLAY_BINANCE_SYMBOLS.slice(0, 10);
const DAY = 86_400_000;

export async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-klines-'));
  const server = await startReplayServer({ binanceWeightPerMinute: R, binanceWindowMs: WINDOW_MS });
  const session = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
  try {
    const from = Date.UTC(2023, 0, 1);
    // Start at a window boundary, as a fresh minute would: the first window is then a full one, not a bonus.
    await new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() % WINDOW_MS)));
    const started = Date.now();
    const s = await runBackfill(
      {
        job: 'binance.klines',
        from: new Date(from),
        to: new Date(from + DAYS * DAY),
        symbols: [...SYMBOLS],
        params: { interval: '1h', weightLimit: R, weightWindowMs: WINDOW_MS },
        concurrency: 8,
        endpoints: { baseUrls: { binance: server.binanceUrl } },
      },
      { session, lake: new LocalLake(path.join(dir, 'lake')), progress: false },
    );
    const elapsed = Date.now() - started;
    const usage = server.binanceUsage();
    const budget = weightBudgetFor(server.binanceUrl, { limit: R, windowMs: WINDOW_MS });
    // Every window the run touched counts as a whole one (the last is usually cut short), so this never flatters.
    const windows = Math.ceil(elapsed / WINDOW_MS);
    const achieved = (usage.accepted * 2) / windows;
    console.log(`replay limit R = ${R} weight per ${WINDOW_MS} ms window (1 minute scaled ${(60_000 / WINDOW_MS).toFixed(0)}×); ${SYMBOLS.length} symbols × ${DAYS} daily chunks of 1h candles`);
    console.log(`backfill: ${s.rowsLoaded.toLocaleString('en-US')} rows, ${usage.accepted.toLocaleString('en-US')} requests in ${(elapsed / 1000).toFixed(1)} s, ${s.commits} commits`);
    console.log(`achieved ${achieved.toFixed(0)} weight per window over ${windows} windows = ${(achieved / R).toFixed(3)} × R (target ≥ 0.95: ${achieved >= 0.95 * R ? 'met' : 'NOT met'})`);
    console.log(`most weight in one window: ${usage.maxWindowWeight} (limit ${R}); 429 answers: ${usage.rejected}, 418: ${usage.banned}; surfaced to the user: 0 (run status ${s.status}); client waits for the next window: ${budget.stats.windowWaits}`);
  } finally {
    await session.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
