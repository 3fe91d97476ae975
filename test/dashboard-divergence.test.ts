// The dashboard's divergence API (#25) on DuckDB and PostgreSQL: three venues of BTC-USDT over one hour of minutes go
// through the real model (fact_price_divergence), then GET /api/divergence over HTTP on loopback answers each venue's
// prices, the median and the spread equal to the table's rows, and exactly the crafted alert episodes — kraken 80 bps
// rich for 7 minutes (closed), binance 90 bps rich for the last 6 (open), okx 70 bps cheap for 4 (one short of the
// default 5: absent) and 75 bps cheap for 3 + 3 around a missing minute (not consecutive: absent). Thresholds come
// from the query string; bad parameters are 400s; a warehouse without the model, or with it empty, says so.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { runModels } from '../src/models/run-models.ts';
import { DIVERGENCE_MISSING } from '../src/server/divergence-queries.ts';
import { startServeServer, type ServeServer } from '../src/server/serve-server.ts';
import { DIVERGENCE_MINUTES, DIVERGENCE_T0, DIVERGENCE_VENUES, divergenceCandles } from './helpers/dashboard-env.ts';
import { insertCandles, MIN } from './models-reference.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const T0 = DIVERGENCE_T0;
const MINUTES = DIVERGENCE_MINUTES;
const VENUES = DIVERGENCE_VENUES;
const CANDLES = divergenceCandles();
const at = (i: number) => new Date(T0 + i * MIN).toISOString();
const sec = (ms: number) => ms / 1000;

type Row = { ts: number; exchange: string; price: number; median: number; dev: number; spread: number };

/** Episodes in plain loops: runs of a venue's |dev| > maxBps at times one step apart, of at least `consecutive`. */
function episodes(rows: Row[], maxBps: number, consecutive: number, stepMs: number) {
  const latest = Math.max(...rows.map((r) => r.ts));
  const out: { exchange: string; from: string; to: string; length: number; maxAbsBps: number; open: boolean }[] = [];
  for (const venue of [...new Set(rows.map((r) => r.exchange))]) {
    let run: Row[] = [];
    const close = () => {
      if (run.length >= consecutive) {
        const last = run.at(-1)!.ts;
        out.push({ exchange: venue, from: new Date(run[0].ts).toISOString(), to: new Date(last).toISOString(), length: run.length, maxAbsBps: Math.max(...run.map((r) => Math.abs(r.dev))), open: last === latest });
      }
      run = [];
    };
    for (const r of rows.filter((x) => x.exchange === venue).sort((a, b) => a.ts - b.ts)) {
      if (Math.abs(r.dev) <= maxBps) close();
      else {
        if (run.length && run.at(-1)!.ts !== r.ts - stepMs) close();
        run.push(r);
      }
    }
    close();
  }
  return out.sort((a, b) => (a.to < b.to ? 1 : a.to > b.to ? -1 : a.exchange < b.exchange ? -1 : 1));
}

/** The API's answer built from the table's rows (the reference the route is checked against). */
function expected(rows: Row[], grain: string, maxBps: number, consecutive: number, stepMs: number) {
  const times = [...new Set(rows.map((r) => r.ts))].sort((a, b) => a - b);
  const first = (ts: number) => rows.find((r) => r.ts === ts)!;
  const alerts = episodes(rows, maxBps, consecutive, stepMs);
  return {
    symbol: 'BTC-USDT',
    grain,
    maxBps,
    consecutive,
    latest: new Date(times.at(-1)!).toISOString(),
    venues: Object.keys(VENUES).map((exchange) => {
      const mine = rows.filter((r) => r.exchange === exchange);
      return { exchange, t: mine.map((r) => sec(r.ts)), price: mine.map((r) => r.price), deviationBps: mine.map((r) => r.dev) };
    }),
    median: { t: times.map(sec), values: times.map((ts) => first(ts).median) },
    spread: { t: times.map(sec), values: times.map((ts) => first(ts).spread) },
    alerts,
    alertsTotal: alerts.length,
  };
}

async function getJson(base: string, p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p);
  return { status: res.status, body: await res.json() };
}

/** A fresh warehouse of the kind: a DuckDB file in a temp dir or a new PostgreSQL database. */
async function freshWarehouse(kind: WarehouseKind): Promise<{ url: string; lake: string; drop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-divergence-'));
  const db: TestDatabase | undefined = kind === 'postgres' ? await createTestDatabase() : undefined;
  return {
    url: db ? db.url : path.join(dir, 'coinlake.duckdb'),
    lake: path.join(dir, 'lake'),
    async drop() {
      await db?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each(WAREHOUSES)('dashboard divergence API on %s', (kind) => {
  let wh: Awaited<ReturnType<typeof freshWarehouse>>;
  let session: Session;
  let server: ServeServer;
  let base: string;

  beforeAll(async () => {
    wh = await freshWarehouse(kind);
    session = await openWarehouse(wh.url);
    await insertCandles(session, CANDLES, 'test-load-1');
    const { results } = await runModels(session, { select: ['+fact_price_divergence'] });
    expect(results.find((r) => r.model === 'fact_price_divergence')).toMatchObject({ rows: 3 * MINUTES - 1 + 3 + 10 + 1 });
    server = await startServeServer({ warehouse: wh.url, lake: wh.lake, port: 0, pollMs: 200, onError: () => {} });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
    await session?.close();
    await wh?.drop();
  });

  const tableRows = async (grain: string): Promise<Row[]> =>
    (
      await session.query<{ ts: Date; exchange: string; price: number; median_price: number; deviation_bps: number; spread_bps: number }>(
        `SELECT ts, exchange, price, median_price, deviation_bps, spread_bps FROM coinlake.fact_price_divergence WHERE grain = $1 AND symbol = 'BTC-USDT' ORDER BY ts, exchange`,
        [grain],
      )
    ).map((r) => ({ ts: new Date(r.ts).getTime(), exchange: r.exchange, price: Number(r.price), median: Number(r.median_price), dev: Number(r.deviation_bps), spread: Number(r.spread_bps) }));

  it('pairs: every symbol and grain of the table with its venues, times and range', async () => {
    const { status, body } = await getJson(base, '/api/divergence/pairs');
    expect(status).toBe(200);
    expect(body).toEqual({
      available: true,
      pairs: [
        { symbol: 'BTC-USDT', grain: '1h', venues: ['binance', 'kraken', 'okx'], times: 1, from: at(0), to: at(0) },
        { symbol: 'BTC-USDT', grain: '1m', venues: ['binance', 'kraken', 'okx'], times: MINUTES, from: at(0), to: at(MINUTES - 1) },
        { symbol: 'ETH-USDT', grain: '1h', venues: ['binance'], times: 1, from: at(0), to: at(0) },
        { symbol: 'ETH-USDT', grain: '1m', venues: ['binance'], times: 10, from: at(0), to: at(9) },
      ],
    });
  });

  it('defaults (50 bps, 5 minutes): each venue its own series, the table\'s median and spread, and the crafted episodes exactly', async () => {
    const { status, body } = await getJson(base, '/api/divergence?symbol=BTC-USDT&grain=1m');
    expect(status).toBe(200);
    const rows = await tableRows('1m');
    expect(body).toEqual(expected(rows, '1m', 50, 5, MIN));
    // What the rows above hold, said plainly: the point counts, the candles' closes, and the two episodes.
    expect(body.venues.map((v: { exchange: string; t: number[] }) => [v.exchange, v.t.length])).toEqual([['binance', 60], ['kraken', 60], ['okx', 59]]);
    expect(body.venues[2].t).not.toContain(sec(T0 + 43 * MIN));
    expect(body.venues[1].price).toEqual(CANDLES.filter((c) => c.exchange === 'kraken' && c.symbol === 'BTC-USDT').map((c) => c.close));
    expect(body.median.t).toHaveLength(60);
    expect(body.spread.values).toEqual([...new Map(rows.map((r) => [r.ts, r.spread])).values()]);
    expect(body.alerts).toEqual([
      { exchange: 'binance', from: at(54), to: at(59), length: 6, maxAbsBps: expect.any(Number), open: true },
      { exchange: 'kraken', from: at(10), to: at(16), length: 7, maxAbsBps: expect.any(Number), open: false },
    ]);
    expect(body.alerts[0].maxAbsBps).toBeGreaterThan(85);
    expect(body.alerts[1].maxAbsBps).toBeGreaterThan(75);
    expect(body.alertsTotal).toBe(2);
  });

  it('the thresholds come from the query string: max_bps and consecutive', async () => {
    const rows = await tableRows('1m');
    const four = await getJson(base, '/api/divergence?symbol=BTC-USDT&max_bps=60&consecutive=4');
    expect(four.status).toBe(200);
    expect(four.body).toEqual(expected(rows, '1m', 60, 4, MIN));
    expect(four.body.alerts.map((a: { exchange: string; from: string; length: number }) => [a.exchange, a.from, a.length])).toEqual([
      ['binance', at(54), 6],
      ['okx', at(30), 4],
      ['kraken', at(10), 7],
    ]);
    // okx's 3 + 3 around its missing minute are never one episode, even at 3.
    const three = await getJson(base, '/api/divergence?symbol=BTC-USDT&consecutive=3');
    expect(three.body.alerts.filter((a: { exchange: string }) => a.exchange === 'okx').map((a: { from: string; to: string; length: number }) => [a.from, a.to, a.length])).toEqual([
      [at(44), at(46), 3],
      [at(40), at(42), 3],
      [at(30), at(33), 4],
    ]);
    expect((await getJson(base, '/api/divergence?symbol=BTC-USDT&consecutive=7')).body.alerts.map((a: { exchange: string }) => a.exchange)).toEqual(['kraken']);
    expect((await getJson(base, '/api/divergence?symbol=btc-usdt&max_bps=100')).body).toMatchObject({ symbol: 'BTC-USDT', maxBps: 100, alerts: [], alertsTotal: 0 });
  });

  it('limit keeps the newest times; the episodes still cover the whole pair', async () => {
    const { body } = await getJson(base, '/api/divergence?symbol=BTC-USDT&limit=5');
    expect(body.median.t).toEqual([55, 56, 57, 58, 59].map((i) => sec(T0 + i * MIN)));
    expect(body.venues.map((v: { t: number[] }) => v.t.length)).toEqual([5, 5, 5]);
    expect(body.alerts).toHaveLength(2);
  });

  it('per hour: one time, three venues, no episode', async () => {
    const { status, body } = await getJson(base, '/api/divergence?symbol=BTC-USDT&grain=1h');
    expect(status).toBe(200);
    expect(body).toEqual(expected(await tableRows('1h'), '1h', 50, 5, 60 * MIN));
    expect(body.venues.map((v: { t: number[] }) => v.t.length)).toEqual([1, 1, 1]);
  });

  it.each([
    ['/api/divergence', 400, 'symbol is required', /\/api\/divergence\/pairs/],
    ['/api/divergence?symbol=BTC-USDT&grain=5m', 400, 'grain: expected one of 1m, 1h, got "5m"', undefined],
    ['/api/divergence?symbol=BTC-USDT&max_bps=-5', 400, 'max_bps: expected a number from 0 to 100000, got "-5"', undefined],
    ['/api/divergence?symbol=BTC-USDT&max_bps=1e3', 400, 'max_bps: expected a number from 0 to 100000, got "1e3"', undefined],
    ['/api/divergence?symbol=BTC-USDT&consecutive=0', 400, 'consecutive: expected an integer from 1 to 10000, got "0"', undefined],
    ['/api/divergence?symbol=BTC-USDT&minutes=5', 400, 'unknown parameter "minutes"', /symbol, grain, max_bps, consecutive, limit, from, to/],
    ["/api/divergence?symbol=BTC'--", 400, `symbol: "BTC'--" is not a symbol (BASE-QUOTE, e.g. BTC-USDT)`, undefined],
    ['/api/divergence/pairs?symbol=BTC-USDT', 400, 'unknown parameter "symbol"', /takes no parameters/],
    ['/api/divergence?symbol=DOGE-USDT', 404, 'no divergence for DOGE-USDT at 1m', /^held: BTC-USDT 1h, BTC-USDT 1m, ETH-USDT 1h, ETH-USDT 1m$/],
  ])('GET %s → %i %s', async (url, status, error, hint) => {
    const res = await getJson(base, url);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    if (hint) expect(res.body.hint).toMatch(hint);
  });

  it('without the model table the pairs say why; with it built but empty, there are none', async () => {
    const other = await freshWarehouse(kind);
    const s = await openWarehouse(other.url);
    const srv = await startServeServer({ warehouse: other.url, lake: other.lake, port: 0, pollMs: 200, onError: () => {} });
    try {
      expect((await getJson(srv.url, '/api/divergence/pairs')).body).toEqual({ available: false, reason: DIVERGENCE_MISSING });
      const none = await getJson(srv.url, '/api/divergence?symbol=BTC-USDT');
      expect(none).toEqual({ status: 404, body: { error: 'no divergence for BTC-USDT: the model table does not exist', hint: DIVERGENCE_MISSING } });
      await runModels(s, { select: ['fact_price_divergence'] });
      expect((await getJson(srv.url, '/api/divergence/pairs')).body).toEqual({ available: true, pairs: [] });
      expect((await getJson(srv.url, '/api/divergence?symbol=BTC-USDT')).body.hint).toMatch(/holds no rows yet/);
    } finally {
      await srv.close();
      await s.close();
      await other.drop();
    }
  });
});
