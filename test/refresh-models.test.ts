// refresh_models (issue #24 item 4): an ingestion that says `refresh_models: true` in the catalog runs the models after
// each run that loads rows — from YAML through coinlake_meta (ingestion_config.extra_parameters) to fact_indicators and
// the hour candles of the minutes just loaded, incrementally, on DuckDB and PostgreSQL; without it nothing runs; the
// console summary says what the models wrote. Binance klines from the replay server.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalogJob } from '../src/catalog/catalog-job.ts';
import { readCatalog } from '../src/catalog/catalog-read.ts';
import { syncCatalog } from '../src/catalog/catalog-sync.ts';
import { catalogToYaml } from '../src/catalog/catalog-yaml.ts';
import { catalogOf, parseCatalogText } from '../src/catalog/config-file.ts';
import type { Catalog } from '../src/catalog/catalog-schema.ts';
import { runModels } from '../src/models/run-models.ts';
import { runJob, type RunSummary } from '../src/runner/run-job.ts';
import { klineExists } from '../src/sources/binance/binance-replay-klines.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const MIN = 60_000;
const DAY1 = Date.parse('2024-12-29T00:00:00Z');
const DAY2 = DAY1 + 86_400_000;
const DAY3 = DAY2 + 86_400_000;

let env: SpineEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** The catalog as a user writes it: one Binance minute-candle ingestion, with `extra` lines. */
function catalogText(url: string, extra: string): string {
  return `
connections:
  - { name: BINANCE, url: "${url}" }
ingestions:
  - connection: BINANCE
    asset: BTC_1M
    target_table: ohlcv_1m
    source: binance.klines
    params: { symbol: BTCUSDT, interval: 1m }
    load_type: INCR
    primary_key: [exchange, symbol, ts]
${extra ? `    ${extra}\n` : ''}`;
}

const catalogFrom = (url: string, extra: string): Catalog => catalogOf(parseCatalogText(catalogText(url, extra), 'coinlake.yaml'));

/** Minutes the replay has a candle for in [from, to). */
function minutes(from: number, to: number): number {
  let n = 0;
  for (let t = from; t < to; t += MIN) if (klineExists('1m', t)) n++;
  return n;
}

async function runWindow(catalog: Catalog, from: number, to: number): Promise<RunSummary> {
  const job = await loadCatalogJob(env!.session, { connection: 'BINANCE', asset: 'BTC_1M', seed: catalog, seedLabel: 'coinlake.yaml' }, { from: new Date(from).toISOString(), to: new Date(to).toISOString() }, { rateLimitPerMinute: 0 });
  return runJob(job, { session: env!.session, lake: env!.lake, progress: false });
}

const count = async (sql: string) => Number((await env!.session.query<{ n: number }>(sql))[0].n);
const tables = async () =>
  (await env!.session.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'coinlake' ORDER BY table_name`)).map((r) => r.t);

/** Every row of the series' indicators in time order, lineage columns left out. */
async function indicatorRows(): Promise<Record<string, unknown>[]> {
  const rows = await env!.session.query<Record<string, unknown>>(
    `SELECT * FROM coinlake.fact_indicators WHERE exchange = 'binance' AND symbol = 'BTC-USDT' AND "interval" = '1m' ORDER BY ts`,
  );
  return rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('_'))));
}

/** Two row lists equal: the same keys, texts and times; numbers within 1e-9 relative (sums in another order). */
function expectSameIndicators(got: Record<string, unknown>[], want: Record<string, unknown>[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => {
    expect(Object.keys(row)).toEqual(Object.keys(want[i]));
    for (const [k, v] of Object.entries(row)) {
      const w = want[i][k];
      if (typeof v === 'number' && typeof w === 'number') expect(Math.abs(v - w), `${k} at row ${i}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)));
      else expect(v, `${k} at row ${i}`).toEqual(w);
    }
  });
}

describe.each(WAREHOUSES)('refresh_models on %s', (kind) => {
  it('each run that loads candles runs the models, incrementally: the indicators equal a full rebuild; a run with nothing new runs none', async () => {
    env = await spineEnv(kind);
    const catalog = catalogFrom(env.replay.binanceUrl, 'refresh_models: true');
    await syncCatalog(env.session, catalog);
    expect(JSON.parse((await env.session.query<{ e: string }>(`SELECT extra_parameters AS e FROM coinlake_meta.ingestion_config WHERE table_name = 'BTC_1M'`))[0].e)).toEqual({
      interval: '1m',
      refresh_models: true,
      symbol: 'BTCUSDT',
    });
    expect(catalogToYaml(await readCatalog(env.session))).toContain('\n    refresh_models: true\n');

    const first = await runWindow(catalog, DAY1, DAY2);
    expect(first.rowsLoaded).toBe(minutes(DAY1, DAY2));
    expect(first.models!.results.map((r) => r.model)).toContain('fact_indicators');
    expect(first.warnings).toEqual([]);
    expect(await count(`SELECT count(*) AS n FROM coinlake.fact_indicators WHERE "interval" = '1m'`)).toBe(minutes(DAY1, DAY2));
    expect(await count(`SELECT count(*) AS n FROM coinlake.ohlcv_1h`)).toBe(24);

    const second = await runWindow(catalog, DAY2, DAY3);
    expect(second.rowsLoaded).toBe(minutes(DAY2, DAY3));
    const indicators = second.models!.results.find((r) => r.model === 'fact_indicators')!;
    expect(indicators.detail).toMatch(/^incremental/);
    expect(await count(`SELECT count(*) AS n FROM coinlake.fact_indicators WHERE "interval" = '1m'`)).toBe(minutes(DAY1, DAY3));
    expect(await count(`SELECT count(*) AS n FROM coinlake.ohlcv_1h`)).toBe(48);
    const incremental = await indicatorRows();

    // Nothing new: no rows, no models run.
    const again = await runWindow(catalog, DAY2, DAY3);
    expect(again.rowsLoaded).toBe(0);
    expect(again.models).toBeUndefined();

    // What the refreshes built equals a full rebuild of the same candles.
    await runModels(env.session, { full: true });
    expectSameIndicators(await indicatorRows(), incremental);
  }, 120_000);

  it('without refresh_models a run leaves the models alone', async () => {
    env = await spineEnv(kind);
    const catalog = catalogFrom(env.replay.binanceUrl, '');
    await syncCatalog(env.session, catalog);
    const first = await runWindow(catalog, DAY1, DAY2);
    expect(first.rowsLoaded).toBe(minutes(DAY1, DAY2));
    expect(first.models).toBeUndefined();
    // Only the candles (PostgreSQL adds their monthly partitions): no ohlcv_1h, no fact_indicators.
    expect((await tables()).filter((t) => !t.startsWith('ohlcv_1m'))).toEqual([]);
  }, 60_000);
});

describe('refresh_models through the CLI', () => {
  it('coinlake run prints what the models wrote under the run line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-refresh-models-'));
    try {
      env = await spineEnv('duckdb');
      await writeFile(path.join(dir, 'coinlake.yaml'), catalogText(env.replay.binanceUrl, 'refresh_models: true'));
      const r = await run(process.execPath, [BIN, '-p', 'coinlake.yaml', 'run', '-s', 'BINANCE', '-a', 'BTC_1M', '--from', '2024-12-29', '--to', '2024-12-30'], {
        cwd: dir,
        env: { ...process.env, COINLAKE_WAREHOUSE: path.join(dir, 'warehouse.duckdb'), COINLAKE_LAKE: path.join(dir, 'lake'), COINLAKE_REPLAY: '' },
      });
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^BINANCE/BTC_1M: ${minutes(DAY1, DAY2).toLocaleString('en-US')} rows into coinlake\\.ohlcv_1m `));
      expect(lines[1]).toMatch(/^ {2}models refreshed in \d+\.\d s — run \S+: .*\bohlcv_1h 24\b.*\bfact_indicators [\d,]+ \(/);
      expect(lines).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
