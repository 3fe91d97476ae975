// Quality check `divergence` (#25) on DuckDB and PostgreSQL: three venues of BTC-USDT over 150 minutes with crafted
// episodes (exactly M minutes, M − 1, two runs split by a missing minute, exactly max_bps, a negative one, one open at
// the last minute, minutes of a single venue) and an ETH-USDT series with none at M = 5; the SQL equals a computation in
// plain loops here for several thresholds, through runChecks (severities, recorded rows) and `coinlake check`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import type { Session } from '../src/core/destination.ts';
import { durationMs } from '../src/core/duration.ts';
import { qualityChecksSchema, type DivergenceCheck } from '../src/core/quality-check.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { failures, runChecks, validateChecks } from '../src/quality/run-checks.ts';
import { ohlcv1mTable } from '../src/sources/ohlcv-table.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';
import { insertCandles, MIN, type Candle } from './models-reference.ts';

const T0 = Date.UTC(2024, 2, 1, 10, 0);
const VENUES = ['binance', 'kraken', 'okx'] as const;
type Venue = (typeof VENUES)[number];

/**
 * BTC-USDT minute i: binance at P (a multiple of 200, so P + P/200 is exactly 50 bps over it), kraken 2–4 bps over,
 * okx 3–6 bps under — binance is the median — except in the episodes below.
 */
function btcClose(v: Venue, i: number): number | undefined {
  const p = 60_000 + 200 * ((i * 7) % 11);
  const at = (bps: number) => p * (1 + bps / 10_000);
  if (i >= 100 && i < 110) return v === 'kraken' ? at(200) : undefined; // one venue: deviation 0
  if (v === 'kraken' && i >= 10 && i < 15) return at(70.3 + 3 * (i - 10)); // 5 minutes: fires at M = 5
  if (v === 'binance' && i >= 25 && i < 29) return at(90); // 4 minutes (M − 1): kraken is the median then
  if (v === 'okx' && i === 44) return undefined; // splits okx's −70 bps at 40–47 into 4 + 3 minutes
  if (v === 'okx' && i >= 40 && i < 48) return at(-70);
  if (v === 'kraken' && i >= 60 && i < 70) return p + p / 200; // exactly 50 bps for 10 minutes: not more than 50
  if (v === 'okx' && i >= 80 && i < 86) return at(-60 - 2 * (i - 80)); // 6 minutes below: fires
  if (v === 'binance' && i >= 143) return at(100); // minutes 143–149, open at the last minute: fires
  return v === 'binance' ? p : v === 'kraken' ? at(2 + (i % 3)) : at(-3 - (i % 4));
}

/** ETH-USDT minute i: within 10 bps of each other but kraken 60 bps over at minutes 50–51 (an episode only for M ≤ 2). */
function ethClose(v: Venue, i: number): number {
  const p = 3_000 + 10 * (i % 5);
  return p * (1 + ({ binance: 0, kraken: 4, okx: -5 }[v] + (v === 'kraken' && (i === 50 || i === 51) ? 60 : 0)) / 10_000);
}

const candle = (exchange: Venue, symbol: string, i: number, close: number): Candle => ({
  exchange, symbol, ts: new Date(T0 + i * MIN), open: close, high: close, low: close, close, volume_base: 1, volume_quote: close, trade_count: 1,
});
const CANDLES: Candle[] = VENUES.flatMap((v) =>
  Array.from({ length: 150 }, (_, i) => i).flatMap((i) => {
    const btc = btcClose(v, i);
    return [...(btc === undefined ? [] : [candle(v, 'BTC-USDT', i, btc)]), candle(v, 'ETH-USDT', i, ethClose(v, i))];
  }),
);

interface Episode {
  symbol: string;
  venue: string;
  from: string;
  to: string;
  minutes: number;
  max_abs_bps: number;
}

/** The check's verdict computed here in loops: the median per (symbol, time), deviations, runs of consecutive candles. */
function reference(candles: Candle[], maxBps: number, minutes: number, interval = '1m'): { episodes: number; first: Episode[] } {
  const step = durationMs(interval)!;
  const at = new Map<string, Candle[]>();
  for (const c of candles) at.set(`${c.symbol}|${c.ts.getTime()}`, [...(at.get(`${c.symbol}|${c.ts.getTime()}`) ?? []), c]);
  const devs = new Map<string, { t: number; bps: number }[]>(); // per symbol|venue
  for (const group of at.values()) {
    const closes = group.map((c) => c.close).sort((a, b) => a - b);
    const mid = closes.length / 2;
    const median = closes.length % 2 ? closes[Math.floor(mid)] : (closes[mid - 1] + closes[mid]) / 2;
    for (const c of group) {
      const key = `${c.symbol}|${c.exchange}`;
      devs.set(key, [...(devs.get(key) ?? []), { t: c.ts.getTime(), bps: ((c.close - median) / median) * 10_000 }]);
    }
  }
  const episodes: Episode[] = [];
  for (const [key, list] of devs) {
    const [symbol, venue] = key.split('|');
    list.sort((a, b) => a.t - b.t);
    let run: { t: number; bps: number }[] = [];
    const close = () => {
      if (run.length >= minutes) {
        const max = Math.max(...run.map((r) => Math.abs(r.bps)));
        episodes.push({ symbol, venue, from: new Date(run[0].t).toISOString(), to: new Date(run.at(-1)!.t).toISOString(), minutes: (run.length * step) / MIN, max_abs_bps: Math.round(max * 10) / 10 });
      }
      run = [];
    };
    for (const d of list) {
      if (Math.abs(d.bps) <= maxBps) close();
      else {
        if (run.length && run.at(-1)!.t !== d.t - step) close();
        run.push(d);
      }
    }
    close();
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  episodes.sort((a, b) => cmp(a.from, b.from) || cmp(a.symbol, b.symbol) || cmp(a.venue, b.venue));
  return { episodes: episodes.length, first: episodes.slice(0, 5) };
}

const iso = (i: number) => new Date(T0 + i * MIN).toISOString();

/** A fresh warehouse: a DuckDB file in `dir`, or a PostgreSQL test database; `at` is what `--warehouse` takes. */
async function warehouse(kind: WarehouseKind, dir: string): Promise<{ at: string; db?: TestDatabase }> {
  if (kind === 'duckdb') return { at: path.join(dir, 'warehouse.duckdb') };
  const db = await createTestDatabase();
  return { at: db.url, db };
}

describe('the reference computation sees the crafted episodes', () => {
  it('M = 5, 50 bps: kraken 10–14, okx 80–85 (negative), binance 143–149 (open at the end); nothing else', () => {
    const r = reference(CANDLES, 50, 5);
    expect(r.episodes).toBe(3);
    expect(r.first.map((e) => [e.symbol, e.venue, e.from, e.to, e.minutes])).toEqual([
      ['BTC-USDT', 'kraken', iso(10), iso(14), 5],
      ['BTC-USDT', 'okx', iso(80), iso(85), 6],
      ['BTC-USDT', 'binance', iso(143), iso(149), 7],
    ]);
    // The ones that do not fire at M = 5 fire at a lower M or threshold: M − 1, the split runs, the exact 50 bps.
    expect(reference(CANDLES, 50, 4).first.map((e) => [e.venue, e.from, e.minutes])).toEqual([
      ['kraken', iso(10), 5], ['binance', iso(25), 4], ['okx', iso(40), 4], ['okx', iso(80), 6], ['binance', iso(143), 7],
    ]);
    expect(reference(CANDLES, 49.9, 10).first.map((e) => [e.venue, e.from, e.minutes])).toEqual([['kraken', iso(60), 10]]);
    expect(reference(CANDLES, 50, 2).first.filter((e) => e.symbol === 'ETH-USDT').map((e) => [e.venue, e.from, e.minutes])).toEqual([['kraken', iso(50), 2]]);
  });
});

describe('the divergence check refuses what cannot run', () => {
  const issues = (v: unknown) => qualityChecksSchema.safeParse([v]).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

  it('schema: max_bps > 0, whole minutes >= 1, durations, the venue outside partition_by', () => {
    expect(qualityChecksSchema.parse([{ type: 'divergence', max_bps: 50, minutes: 5 }])).toEqual([{ type: 'divergence', max_bps: 50, minutes: 5 }]);
    expect(issues({ type: 'divergence', max_bps: -1, minutes: 5 })).toEqual(['0.max_bps: expected max_bps > 0 (basis points)']);
    expect(issues({ type: 'divergence', max_bps: 0 })).toEqual(['0.max_bps: expected max_bps > 0 (basis points)']);
    expect(issues({ type: 'divergence', max_bps: 50, minutes: 0 })).toEqual(['0.minutes: expected minutes >= 1']);
    expect(issues({ type: 'divergence', max_bps: 50, minutes: 2.5 })).toEqual(['0.minutes: expected minutes to be a whole number of candles']);
    expect(issues({ type: 'divergence', max_bps: 50, interval: '1 minute' })).toEqual(['0.interval: expected a positive number with a unit ms, s, m, h, d or w, e.g. 15m or 2h']);
    expect(issues({ type: 'divergence', max_bps: 50, partition_by: ['symbol', 'exchange'] })).toEqual([
      '0.partition_by: expected partition_by without the venue column exchange (the venues of a series are compared with each other)',
    ]);
    expect(issues({ type: 'divergence', minutes: 5 })?.[0]).toMatch(/^0\.max_bps: /);
  });

  it('validateChecks names the check, the table and the unknown column', () => {
    expect(() => validateChecks(ohlcv1mTable, [{ type: 'divergence', max_bps: 50, minutes: 5, price: 'last' }])).toThrow(
      'check divergence(last > 50 bps for 5 × 1m) on coinlake.ohlcv_1m names unknown column(s) last',
    );
    expect(() => validateChecks(ohlcv1mTable, [{ type: 'divergence', max_bps: 50, venue: 'venue', partition_by: ['pair'] }])).toThrow('names unknown column(s) venue, pair');
    expect(() => validateChecks(ohlcv1mTable, [{ type: 'divergence', max_bps: 50 }])).not.toThrow();
  });
});

describe.each(WAREHOUSES)('divergence check on %s', (kind) => {
  let dir: string;
  let db: TestDatabase | undefined;
  let s: Session;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-divergence-'));
    const w = await warehouse(kind, dir);
    db = w.db;
    s = await openWarehouse(w.at);
    await ensureMetaTables(s);
    await insertCandles(s, CANDLES, 'test-load-1');
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const check = async (c: Omit<DivergenceCheck, 'type'>) => (await runChecks(s, ohlcv1mTable, { processId: null, now: new Date(), checks: [{ type: 'divergence', ...c }] }))[0];

  it('M = 5, 50 bps: the three episodes, exactly, with the message', async () => {
    const r = await check({ max_bps: 50, minutes: 5 });
    const want = reference(CANDLES, 50, 5);
    expect(r).toMatchObject({ name: 'divergence(close > 50 bps for 5 × 1m)', type: 'divergence', severity: 'error', passed: false, failing: 3 });
    expect(r.observed).toEqual(want);
    expect(want.first.map((e) => e.max_abs_bps)).toEqual([82.3, 70, want.first[2].max_abs_bps]);
    expect(want.first[2].max_abs_bps).toBeGreaterThan(95);
    expect(r.message).toBe(
      '3 episode(s) above 50 bps for ≥ 5 minute(s): kraken BTC-USDT 2024-03-01 10:10–10:14 (5 min, max 82.3 bps), ' +
        'okx BTC-USDT 2024-03-01 11:20–11:25 (6 min, max 70 bps), ' +
        `binance BTC-USDT 2024-03-01 12:23–12:29 (7 min, max ${want.first[2].max_abs_bps} bps)`,
    );
  });

  it.each([
    [50, 4, '1m'],
    [50, 2, '1m'],
    [50, 1, '1m'],
    [49.9, 10, '1m'],
    [79, 5, '1m'],
    [20, 3, '1m'],
    [50, 1, '2m'],
    [50, 2, '2m'], // candles 1m apart are never consecutive at 2m: no episode
  ])('%s bps for %s × %s equals the computation in loops', async (maxBps, minutes, interval) => {
    const r = await check({ max_bps: maxBps, minutes, interval });
    const want = reference(CANDLES, maxBps, minutes, interval);
    expect({ failing: r.failing, passed: r.passed, observed: r.observed }).toEqual({
      failing: want.episodes,
      passed: want.episodes === 0,
      observed: want.episodes ? want : { episodes: 0 },
    });
  });

  it('the 5-episode list and its "more": M = 1 at 50 bps', async () => {
    const r = await check({ max_bps: 50, minutes: 1 });
    const want = reference(CANDLES, 50, 1);
    expect(want.episodes).toBeGreaterThan(5);
    expect(r.message).toMatch(new RegExp(`^${want.episodes} episode\\(s\\) above 50 bps for ≥ 1 minute\\(s\\): .*, and ${want.episodes - 5} more$`));
  });

  it('warn and error severities through runChecks, recorded in quality_result; a passing check passes', async () => {
    const now = new Date(T0 + 200 * MIN);
    const results = await runChecks(s, ohlcv1mTable, {
      processId: null,
      now,
      checks: [
        { type: 'divergence', max_bps: 50, minutes: 5, severity: 'warn' },
        { type: 'divergence', max_bps: 50, minutes: 5, name: 'venues agree' },
        { type: 'divergence', max_bps: 250 },
      ],
    });
    expect(results.map((r) => [r.name, r.severity, r.passed, r.failing])).toEqual([
      ['divergence(close > 50 bps for 5 × 1m)', 'warn', false, 3],
      ['venues agree', 'error', false, 3],
      ['divergence(close > 250 bps for 1 × 1m)', 'error', true, 0],
    ]);
    expect(results[2].message).toBe('no exchange more than 250 bps from the median close for ≥ 1 minute(s)');
    const f = failures(results);
    expect(f.warnings).toEqual([`quality check divergence(close > 50 bps for 5 × 1m) failed: ${results[0].message}`]);
    expect(f.errors).toEqual([`quality check venues agree failed: ${results[1].message}`]);
    const rows = await s.query<{ check_name: string; check_type: string; severity: string; status: string; failing_rows: unknown; observed: string }>(
      `SELECT check_name, check_type, severity, status, failing_rows, observed FROM coinlake_meta.quality_result WHERE checked_at = CAST($1 AS TIMESTAMPTZ) ORDER BY check_name`,
      [now.toISOString()],
    );
    expect(rows.map((r) => [r.check_name, r.check_type, r.severity, r.status, Number(r.failing_rows), JSON.parse(r.observed)])).toEqual([
      ['divergence(close > 250 bps for 1 × 1m)', 'divergence', 'error', 'pass', 0, { episodes: 0 }],
      ['divergence(close > 50 bps for 5 × 1m)', 'divergence', 'warn', 'fail', 3, reference(CANDLES, 50, 5)],
      ['venues agree', 'divergence', 'error', 'fail', 3, reference(CANDLES, 50, 5)],
    ]);
  });
});

describe.each(WAREHOUSES)('`coinlake check` of a catalog-declared divergence check, on %s', (kind) => {
  const run = promisify(execFile);
  const BIN = path.resolve('bin/coinlake.mjs');
  let dir: string;
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });
  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' } }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );
  const catalog = (checks: string) => `connections:
  - { name: BINANCE }
ingestions:
  - connection: BINANCE
    asset: BTC_1M
    target_table: ohlcv_1m
    source: binance.klines
    params: { symbol: BTCUSDT, interval: 1m }
    load_type: INCR
    checks:
${checks}`;

  it('validate refuses max_bps -1; check runs the declared checks, prints them and exits 1 on the error one', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-divergence-cli-'));
    const w = await warehouse(kind, dir);
    db = w.db;
    await writeFile(path.join(dir, 'bad.yaml'), catalog('      - { type: divergence, max_bps: -1, minutes: 5 }\n'));
    expect(await coinlake(['catalog', 'validate', 'bad.yaml'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: bad.yaml: ingestions[0] (BTC_1M).checks[0].max_bps: expected max_bps > 0 (basis points)\n',
    });
    await writeFile(
      path.join(dir, 'coinlake.yaml'),
      catalog('      - { type: divergence, max_bps: 50, minutes: 5, severity: warn }\n      - { type: divergence, max_bps: 50, minutes: 6, name: venues_agree }\n'),
    );
    expect(await coinlake(['--warehouse', w.at, 'catalog', 'import', 'coinlake.yaml'])).toMatchObject({ code: 0 });
    const s = await openWarehouse(w.at);
    try {
      await insertCandles(s, CANDLES, 'test-load-1');
    } finally {
      await s.close(); // the CLI needs DuckDB's lock
    }
    const r = await coinlake(['--warehouse', w.at, 'check', 'ohlcv_1m']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^table\s+check\s+severity\s+status\s+failing\s+message$/);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/).slice(0, 5))).toEqual([
      ['coinlake.ohlcv_1m', 'divergence(close > 50 bps for 5 × 1m)', 'warn', 'FAIL', '3'],
      ['coinlake.ohlcv_1m', 'venues_agree', 'error', 'FAIL', '2'],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: 1 quality check(s) failed\n  coinlake.ohlcv_1m: quality check venues_agree failed: 2 episode(s) above 50 bps for ≥ 6 minute(s): ' +
        `okx BTC-USDT 2024-03-01 11:20–11:25 (6 min, max 70 bps), binance BTC-USDT 2024-03-01 12:23–12:29 (7 min, max ${reference(CANDLES, 50, 5).first[2].max_abs_bps} bps)\n`,
    );
  });
});
