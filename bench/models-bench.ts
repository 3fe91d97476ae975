// Models benchmark: fact_indicators over 5,000,000 generated one-minute candles (500 symbols × 10,000 minutes,
// deterministic) on DuckDB — a full run vs a plain `AVG(close) OVER (PARTITION BY symbol ORDER BY ts ROWS 19
// PRECEDING)` CTAS over the same table, measured in the same run — then an incremental run after one new minute for
// every symbol, and full runs over ONE series of 10,000 and 100,000 candles (the length the EMA-type recurrences walk).
// BENCH_MODELS_SYMBOLS / BENCH_MODELS_MINUTES change the size, BENCH_REPEAT the repetitions (the best time of each is
// reported). BENCH_MODELS_PG=1 runs the same on PostgreSQL at a smaller size: BENCH_MODELS_PG_SYMBOLS (default 50)
// symbols, i.e. 500,000 candles.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { runModels } from '../src/models/run-models.ts';
import { ohlcv1mTable } from '../src/sources/ohlcv-table.ts';

const SYMBOLS = Number(process.env.BENCH_MODELS_SYMBOLS ?? 500);
const MINUTES = Number(process.env.BENCH_MODELS_MINUTES ?? 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const START = '2024-01-01 00:00:00+00';

/** Deterministic candles: a sum of sines per symbol (no randomness), loaded long before the model runs. */
async function generate(s: Session, symbols: number, minutes: number, fromMinute: number, loadedAt: string): Promise<void> {
  await s.exec(
    `INSERT INTO coinlake.ohlcv_1m (exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count, _run_id, _loaded_at)
     SELECT 'bench', 'S' || CAST(k AS VARCHAR) || '-USDT', CAST('${START}' AS TIMESTAMPTZ) + i * INTERVAL '1 minute',
            c, c * 1.001, c * 0.999, c * (1 + 0.0005 * sin(i * 0.7)), 1 + abs(sin(i * 0.37 + k)), (1 + abs(sin(i * 0.37 + k))) * c, 10, 'bench-load', CAST('${loadedAt}' AS TIMESTAMPTZ)
       FROM (SELECT k, i, 100 * (1 + 0.2 * sin(i / 97.0 + k) + 0.05 * sin(i / 13.1 + 2 * k) + 0.01 * sin(i * 1.7 + 3 * k)) AS c
               FROM generate_series(0, ${symbols - 1}) AS a(k), generate_series(${fromMinute}, ${fromMinute + minutes - 1}) AS b(i)) g`,
  );
}

async function seconds<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [(performance.now() - t0) / 1000, out];
}

async function measure(label: string, s: Session, symbols: number): Promise<void> {
  const candles = symbols * MINUTES;
  await s.ensureSchema('coinlake');
  await s.ensureTable(ohlcv1mTable);
  const [genSec] = await seconds(() => generate(s, symbols, MINUTES, 0, '2024-06-01 00:00:00+00'));
  console.log(`${label}: ${candles.toLocaleString('en-US')} one-minute candles (${symbols} symbols × ${MINUTES.toLocaleString('en-US')}) generated in ${genSec.toFixed(1)} s`);
  let base = Infinity;
  let full = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const [b] = await seconds(() =>
      s.exec(`CREATE TABLE bench_avg AS SELECT exchange, symbol, ts, avg(close) OVER (PARTITION BY symbol ORDER BY ts ROWS 19 PRECEDING) AS sma FROM coinlake.ohlcv_1m`),
    );
    await s.exec(`DROP TABLE bench_avg`);
    const [f, r] = await seconds(() => runModels(s, { select: ['fact_indicators'], full: true }));
    if (r.results[0].rows !== candles) throw new Error(`fact_indicators wrote ${r.results[0].rows} rows, expected ${candles}`);
    console.log(`  run ${i + 1}: plain window AVG CTAS ${b.toFixed(2)} s, fact_indicators full ${f.toFixed(2)} s`);
    base = Math.min(base, b);
    full = Math.min(full, f);
  }
  console.log(`  plain window AVG (SMA 20 only) CTAS:  ${base.toFixed(2)} s, ${Math.round(candles / base).toLocaleString('en-US')} candles/s`);
  console.log(`  fact_indicators full (all indicators): ${full.toFixed(2)} s, ${Math.round(candles / full).toLocaleString('en-US')} candles/s`);
  console.log(`  ratio fact_indicators / plain AVG: ${(full / base).toFixed(1)}x`);
  // One new minute for every symbol, loaded now: only those rows are recomputed.
  await generate(s, symbols, 1, MINUTES, new Date().toISOString());
  const [inc, r] = await seconds(() => runModels(s, { select: ['fact_indicators'] }));
  if (r.results[0].rows !== symbols) throw new Error(`incremental run wrote ${r.results[0].rows} rows, expected ${symbols}`);
  console.log(`  incremental run after 1 new minute × ${symbols} symbols: ${inc.toFixed(2)} s (${r.results[0].rows} rows; ${r.results[0].detail})`);
  // One long series: the recurrences' cost grows with the series length, not only with the row count.
  for (const length of [10_000, 100_000]) {
    await s.exec(`DELETE FROM coinlake.ohlcv_1m`);
    await generate(s, 1, length, 0, '2024-06-01 00:00:00+00');
    const [sec, one] = await seconds(() => runModels(s, { select: ['fact_indicators'], full: true }));
    if (one.results[0].rows !== length) throw new Error(`fact_indicators wrote ${one.results[0].rows} rows, expected ${length}`);
    console.log(`  one series of ${length.toLocaleString('en-US')} candles, full run: ${sec.toFixed(2)} s`);
  }
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-models-'));
  const duck = await openWarehouse(path.join(dir, 'bench.duckdb'));
  try {
    await measure('DuckDB', duck, SYMBOLS);
  } finally {
    await duck.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_MODELS_PG === '1') {
    const db = await createTestDatabase();
    const pg = await openWarehouse(db.url);
    try {
      await measure('PostgreSQL', pg, Number(process.env.BENCH_MODELS_PG_SYMBOLS ?? 50));
    } finally {
      await pg.close();
      await db.drop();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
