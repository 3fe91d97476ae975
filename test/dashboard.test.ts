// The dashboard server against real warehouses filled by the runner through the replay server: every endpoint's
// JSON (checked against the recorded fixtures, the replay's candle generator and the warehouse itself), clear 400s
// for bad parameters (no SQL accepted), the control endpoint, the hand-over of `coinlake run` from another process,
// and live events — on DuckDB and on PostgreSQL.
import { execFile } from 'node:child_process';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_JOBS } from '../src/cli/demo-command.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { kline, klineOpenTimes } from '../src/replay/index.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { buildJob } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';
import { LOAD_COMMANDS } from '../src/server/overview-queries.ts';
import { readServeMarker } from '../src/server/serve-marker.ts';
import { startServeServer, type ServeServer } from '../src/server/serve-server.ts';
import { CANDLE_JOB, dashboardEnv, type DashboardEnv } from './helpers/dashboard-env.ts';
import { openSse } from './helpers/sse-client.ts';
import { WAREHOUSES } from './helpers/spine-env.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const run = promisify(execFile);
const fixture = (name: string) => JSON.parse(readFileSync(path.resolve('test/fixtures/coincap-v2', name), 'utf8')) as Record<string, unknown>[];
const num = (v: unknown) => (v == null ? null : Number(v));

/** The candles the env loaded, from the replay's own generator (the independent reference). */
const candleTimes = klineOpenTimes('1m', Date.parse('2024-12-30T00:00:00Z'), Date.parse('2024-12-31T00:00:00Z') - 1);

async function getJson(base: string, p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p);
  return { status: res.status, body: await res.json() };
}

/** The asset list the API must answer: the recorded fixture, typed, by rank. */
function expectedAssets() {
  const history: Record<string, unknown[]> = {
    bitcoin: [{ interval: 'h1', points: 744, from: '2024-12-01T00:00:00.000Z', to: '2024-12-31T23:00:00.000Z' }],
    ethereum: [{ interval: 'h1', points: 744, from: '2024-12-01T00:00:00.000Z', to: '2024-12-31T23:00:00.000Z' }],
  };
  return fixture('assets.json')
    .map((a) => ({
      id: a.id,
      rank: num(a.rank),
      symbol: a.symbol,
      name: a.name,
      priceUsd: num(a.priceUsd),
      marketCapUsd: num(a.marketCapUsd),
      supply: num(a.supply),
      maxSupply: num(a.maxSupply),
      volumeUsd24Hr: num(a.volumeUsd24Hr),
      changePercent24Hr: num(a.changePercent24Hr),
      snapshotTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      history: history[String(a.id)] ?? [],
    }))
    .sort((x, y) => (x.rank ?? Infinity) - (y.rank ?? Infinity) || String(x.id).localeCompare(String(y.id)));
}

describe.each(WAREHOUSES)('dashboard API on %s', (kind) => {
  let env: DashboardEnv;
  let server: ServeServer;
  let base: string;

  beforeAll(async () => {
    env = await dashboardEnv(kind);
    server = await startServeServer({ warehouse: env.warehouse, lake: env.lakeDir, port: 0, pollMs: 200, onError: () => {} });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
    await env?.close();
  });

  it('overview: row counts per table, runs, no indicators, and the commands that load data', async () => {
    const { status, body } = await getJson(base, '/api/overview');
    expect(status).toBe(200);
    expect(body).toEqual({
      empty: false,
      tables: { coincap_asset_history: 1488, coincap_assets: 100, coincap_exchanges: 100, coincap_markets: 100, coincap_rates: 192, ohlcv_1m: candleTimes.length },
      runs: 7,
      indicators: false,
      qualityResults: expect.any(Boolean),
      loadCommands: LOAD_COMMANDS,
    });
  });

  it('assets: the current snapshot by rank with the history held per asset — the recorded values', async () => {
    const { status, body } = await getJson(base, '/api/assets');
    expect(status).toBe(200);
    expect(body).toEqual({ available: true, assets: expectedAssets() });
  });

  it('asset trends: price history with market cap and supply, plus observed snapshots; an asset without history has none', async () => {
    const { status, body } = await getJson(base, '/api/assets/trends?ids=bitcoin,solana&from=2024-12-01&to=2024-12-01T03:00:00Z');
    expect(status).toBe(200);
    const s = await openWarehouse(env.warehouse);
    const rows = await s
      .query<{ time: Date; price_usd: number; circulating_supply: number }>(
        `SELECT "time", price_usd, circulating_supply FROM coinlake.coincap_asset_history WHERE asset_id = 'bitcoin' AND "time" < '2024-12-01T03:00:00Z' ORDER BY "time"`,
      )
      .finally(() => s.close());
    expect(rows).toHaveLength(3);
    const solana = fixture('assets.json').find((a) => a.id === 'solana')!;
    const btc = fixture('assets.json').find((a) => a.id === 'bitcoin')!;
    const loadTime = expect.any(Number);
    expect(body).toEqual({
      ids: ['bitcoin', 'solana'],
      from: '2024-12-01T00:00:00.000Z',
      to: '2024-12-01T03:00:00.000Z',
      series: [
        {
          id: 'bitcoin',
          interval: 'h1',
          points: 3,
          history: {
            t: [1733011200, 1733014800, 1733018400],
            price: rows.map((r) => r.price_usd),
            supply: rows.map((r) => r.circulating_supply),
            marketCap: rows.map((r) => r.price_usd * r.circulating_supply),
          },
          maxSupply: 21_000_000,
          snapshots: { t: [loadTime], rank: [1], price: [num(btc.priceUsd)], marketCap: [num(btc.marketCapUsd)], supply: [num(btc.supply)], maxSupply: [21_000_000] },
        },
        {
          id: 'solana',
          interval: null,
          points: 0,
          history: { t: [], price: [], supply: [], marketCap: [] },
          maxSupply: num(solana.maxSupply),
          snapshots: { t: [loadTime], rank: [num(solana.rank)], price: [num(solana.priceUsd)], marketCap: [num(solana.marketCapUsd)], supply: [num(solana.supply)], maxSupply: [num(solana.maxSupply)] },
        },
      ],
    });
  });

  it('exchanges: the snapshot by rank (NULL volumes stay null) and their observed history', async () => {
    const { body } = await getJson(base, '/api/exchanges');
    const expected = fixture('exchanges.json')
      .map((x) => ({
        id: x.exchangeId,
        name: x.name,
        rank: num(x.rank),
        percentTotalVolume: num(x.percentTotalVolume),
        volumeUsd: num(x.volumeUsd),
        tradingPairs: num(x.tradingPairs),
        updated: new Date(Number(x.updated)).toISOString(),
        snapshotTime: expect.any(String),
      }))
      .sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || String(a.id).localeCompare(String(b.id)));
    expect(body).toEqual({ available: true, exchanges: expected });
    expect(body.exchanges.find((x: { id: string }) => x.id === 'wazirx').volumeUsd).toBeNull();

    const trends = await getJson(base, '/api/exchanges/trends?ids=binance');
    expect(trends.body).toEqual({ ids: ['binance'], series: [{ id: 'binance', t: [expect.any(Number)], rank: [1], volumeUsd: [19293190371.10408], percentTotalVolume: [34.28794633293102] }] });
  });

  it('candles: the catalog of series, and the newest candles equal to the replay generator; indicators absent and said so', async () => {
    const catalog = await getJson(base, '/api/candles/catalog');
    expect(catalog.body).toEqual({
      series: [{ exchange: 'binance', symbol: 'BTC-USDT', interval: '1m', candles: candleTimes.length, from: new Date(candleTimes[0]).toISOString(), to: new Date(candleTimes.at(-1)!).toISOString() }],
    });
    const { status, body } = await getJson(base, '/api/candles?symbol=BTC-USDT&interval=1m&limit=3');
    expect(status).toBe(200);
    const last = candleTimes.slice(-3).map((t) => kline('BTCUSDT', '1m', t));
    expect(body).toEqual({
      exchange: 'binance',
      symbol: 'BTC-USDT',
      interval: '1m',
      t: last.map((k) => k[0] / 1000),
      open: last.map((k) => Number(k[1])),
      high: last.map((k) => Number(k[2])),
      low: last.map((k) => Number(k[3])),
      close: last.map((k) => Number(k[4])),
      volume: last.map((k) => Number(k[5])),
      indicators: { available: false, reason: 'the analytics models (fact_indicators) have not been built in this warehouse, and the dashboard computes none itself' },
    });
  });

  it('candles: indicators from fact_indicators when the models made it, aligned to the candles', async () => {
    const [a, b] = candleTimes.slice(-2).map((t) => new Date(t));
    const s = await openWarehouse(env.warehouse);
    try {
      await s.exec(`CREATE TABLE coinlake.fact_indicators (exchange VARCHAR, symbol VARCHAR, "interval" VARCHAR, ts TIMESTAMPTZ,
        sma_20 DOUBLE PRECISION, ema_20 DOUBLE PRECISION, rsi_14 DOUBLE PRECISION, macd DOUBLE PRECISION, macd_signal DOUBLE PRECISION, macd_hist DOUBLE PRECISION)`);
      await s.exec(
        `INSERT INTO coinlake.fact_indicators VALUES ('binance', 'BTC-USDT', '1m', $1, 1.5, 1.25, 55, 0.5, 0.25, 0.25), ('binance', 'BTC-USDT', '1m', $2, 2.5, NULL, 60, 0.75, 0.5, 0.25),
           ('binance', 'BTC-USDT', '1h', $2, 99, 99, 99, 99, 99, 99), ('binance', 'ETH-USDT', '1m', $2, 98, 98, 98, 98, 98, 98)`,
        [a, b],
      );
      const { body } = await getJson(base, '/api/candles?symbol=BTC-USDT&interval=1m&limit=3');
      expect(body.indicators).toEqual({
        available: true,
        overlay: { sma_20: [null, 1.5, 2.5], ema_20: [null, 1.25, null] },
        rsi: { rsi_14: [null, 55, 60] },
        macd: { macd: [null, 0.5, 0.75], macd_signal: [null, 0.25, 0.5], macd_hist: [null, 0.25, 0.25] },
      });
    } finally {
      await s.exec('DROP TABLE IF EXISTS coinlake.fact_indicators');
      await s.close();
    }
  });

  it('runs: newest first with status, rows, load counts, duration and no error', async () => {
    const { body } = await getJson(base, '/api/runs?limit=7');
    const jobs = [...DEMO_JOBS, CANDLE_JOB].map((j) => buildJob(j.name, j.opts));
    expect(body.runs).toEqual(
      env.runs
        .map((r, i) => ({
          processId: r.processId,
          runId: r.runId,
          job: `${jobs[i].connectionName}/${jobs[i].tableName}`,
          status: 'ok',
          statusCode: 1,
          startedAt: expect.any(String),
          endedAt: expect.any(String),
          durationSeconds: expect.any(Number),
          rowsExtracted: r.rowsExtracted,
          rowsLoaded: r.rowsLoaded,
          rowsQuarantined: 0,
          inserted: r.load.inserted,
          updated: r.load.updated,
          deleted: r.load.deleted,
          error: null,
          logPath: r.logPath,
        }))
        .reverse(),
    );
    expect(body.runs.map((r: { processId: number }) => r.processId)).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it('freshness: rows, last load and its run, and the newest data time of every data table', async () => {
    const { body } = await getJson(base, '/api/freshness');
    const lastRun = (table: string) => env.runs.filter((r) => r.table === `coinlake.${table}`).at(-1)!.runId;
    const item = (table: string, rows: number, timeColumn: string, latest: string | null) => ({
      table: `coinlake.${table}`,
      rows,
      lastLoadedAt: expect.any(String),
      ageSeconds: expect.any(Number),
      lastRunId: lastRun(table),
      timeColumn,
      latest: latest ?? expect.any(String),
    });
    expect(body).toEqual({
      now: expect.any(String),
      tables: [
        item('coincap_asset_history', 1488, 'time', '2024-12-31T23:00:00.000Z'),
        item('coincap_assets', 100, 'snapshot_time', null),
        item('coincap_exchanges', 100, 'snapshot_time', null),
        item('coincap_markets', 100, 'snapshot_time', null),
        item('coincap_rates', 192, 'snapshot_time', null),
        item('ohlcv_1m', candleTimes.length, 'ts', new Date(candleTimes.at(-1)!).toISOString()),
      ],
    });
  });

  it('quality: the latest result of each check', async () => {
    const s = await openWarehouse(env.warehouse);
    try {
      const insert = `INSERT INTO coinlake_meta.quality_result (process_id, table_name, check_name, check_type, severity, status, failing_rows, observed, message, checked_at)
        VALUES ($1, 'coinlake.dashboard_test', $2, $3, $4, $5, $6, NULL, $7, $8)`;
      await s.exec(insert, [1, 'unique(id)', 'unique', 'error', 'fail', 3, 'id not unique', new Date('2026-01-01T00:00:00Z')]);
      await s.exec(insert, [2, 'unique(id)', 'unique', 'error', 'pass', 0, 'id unique', new Date('2026-01-02T00:00:00Z')]);
      await s.exec(insert, [2, 'not_null(max_supply)', 'not_null', 'warn', 'fail', 63, '63 row(s) with a NULL', new Date('2026-01-02T00:00:00Z')]);
    } finally {
      await s.close();
    }
    const { body } = await getJson(base, '/api/quality');
    const mine = body.results.filter((r: { table: string }) => r.table === 'coinlake.dashboard_test');
    expect(mine).toEqual([
      { table: 'coinlake.dashboard_test', check: 'not_null(max_supply)', type: 'not_null', severity: 'warn', status: 'fail', failingRows: 63, message: '63 row(s) with a NULL', checkedAt: '2026-01-02T00:00:00.000Z', processId: 2 },
      { table: 'coinlake.dashboard_test', check: 'unique(id)', type: 'unique', severity: 'error', status: 'pass', failingRows: 0, message: 'id unique', checkedAt: '2026-01-02T00:00:00.000Z', processId: 2 },
    ]);
    expect(body.available).toBe(true);
    expect(body.passed + body.failed).toBe(body.results.length);
  });

  it('reads answer while a run writes, from the last committed state', async () => {
    const before = (await getJson(base, '/api/freshness')).body.tables.find((f: { table: string }) => f.table === 'coinlake.coincap_assets');
    const s = await openWarehouse(env.warehouse);
    let during: { run: { runId: string; status: string }; assets: { lastRunId: string; rows: number } } | undefined;
    let summary;
    try {
      summary = await runJob(buildJob('coincap.assets', { mode: 'replace' }, env.endpoints), {
        session: s,
        lake: new LocalLake(env.lakeDir),
        progress: false,
        beforeCommit: async () => {
          // The run's transaction is open and holds every new row: the dashboard's own sessions still read.
          const runs = (await getJson(base, '/api/runs?limit=1')).body.runs;
          const fresh = (await getJson(base, '/api/freshness')).body.tables;
          during = { run: runs[0], assets: fresh.find((f: { table: string }) => f.table === 'coinlake.coincap_assets') };
        },
      });
    } finally {
      await s.close();
    }
    expect(during!.run.status).toBe('running');
    expect(during!.run.runId).toBe(summary.runId);
    expect({ ...during!.assets, ageSeconds: 0 }).toEqual({ ...before, ageSeconds: 0 });
    const after = (await getJson(base, '/api/freshness')).body.tables.find((f: { table: string }) => f.table === 'coinlake.coincap_assets');
    expect(after.lastRunId).toBe(summary.runId);
    expect((await getJson(base, '/api/runs?limit=1')).body.runs[0]).toMatchObject({ runId: summary.runId, status: 'ok' });
  });

  it.each([
    ['/api/assets?sql=SELECT%201', 400, 'unknown parameter "sql"', /accepts no SQL/],
    ['/api/runs?limit=1;DROP%20TABLE%20x', 400, 'limit: expected an integer from 1 to 500, got "1;DROP TABLE x"', undefined],
    ['/api/runs?limit=0', 400, 'limit: expected an integer from 1 to 500, got "0"', undefined],
    ['/api/runs?limit=1&limit=2', 400, 'parameter "limit" is given more than once', undefined],
    ['/api/assets/trends', 400, 'ids is required', /ids=bitcoin,ethereum/],
    ["/api/assets/trends?ids=bitcoin,bit'coin", 400, `ids: "bit'coin" is not an id (letters, digits, ".", "_" and "-", at most 64)`, undefined],
    ['/api/assets/trends?ids=a,b,c,d,e,f,g,h,i,j,k', 400, 'ids: at most 10 ids, got 11', undefined],
    ['/api/assets/trends?ids=bitcoin&from=yesterday', 400, 'from: "yesterday" is not a date', /YYYY-MM-DD/],
    ['/api/assets/trends?ids=bitcoin&from=2024-12-02&to=2024-12-01', 400, 'to (2024-12-01T00:00:00.000Z) must be after from (2024-12-02T00:00:00.000Z)', undefined],
    ['/api/assets/trends?ids=bitcoin&interval=h3', 400, 'interval: expected one of h1, h2, h6, h12, d1, m30, m15, m5, m1, got "h3"', undefined],
    ['/api/candles?symbol=BTC-USDT', 400, 'symbol and interval are required', /symbol=BTC-USDT&interval=1h/],
    ['/api/candles?symbol=BTC-USDT&interval=7m', 400, 'interval: expected one of 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M, got "7m"', undefined],
    ["/api/candles?symbol=BTC'--&interval=1m", 400, `symbol: "BTC'--" is not a symbol (BASE-QUOTE, e.g. BTC-USDT)`, undefined],
    ['/api/candles?symbol=DOGE-USDT&interval=1m', 404, 'no candles for DOGE-USDT at 1m', /held: binance BTC-USDT 1m/],
    ['/api/freshness?table=coincap_assets', 400, 'unknown parameter "table"', /accepts no SQL; this endpoint takes no parameters/],
    ['/api/nope', 404, 'no endpoint GET /api/nope', /GET \/api\/overview/],
  ])('GET %s → %i %s', async (url, status, error, hint) => {
    const res = await getJson(base, url);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    if (hint) expect(res.body.hint).toMatch(hint);
  });

  it('only GET reads: other methods and other Host names are refused', async () => {
    const post = await fetch(`${base}/api/assets`, { method: 'POST', body: 'SELECT 1' });
    expect(post.status).toBe(404);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${base}/api/assets`, { headers: { host: 'attacker.example:8787' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    expect(status).toBe(403);
  });

  it('the page and the chart libraries are served; nothing else from node_modules', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app/main.js"></script>');
    for (const [p, type] of [['/vendor/lightweight-charts.mjs', 'text/javascript'], ['/vendor/uplot.mjs', 'text/javascript'], ['/vendor/uplot.css', 'text/css'], ['/app/main.js', 'text/javascript']]) {
      const res = await fetch(base + p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
    }
    for (const p of ['/vendor/../package.json', '/vendor/pg.js', '/app/index.html', '/app/..%2Fserve-server.ts']) {
      expect((await fetch(base + p)).status, p).toBe(404);
    }
  });

  it('a run committed by another process or session shows up as a live event (the watcher polls)', async () => {
    const events = await openSse(`${base}/api/events`);
    try {
      await events.waitFor((e) => e.event === 'hello');
      const summary = await env.run('coincap.rates');
      const e = await events.waitFor((x) => x.event === 'run' && JSON.parse(x.data).runId === summary.runId && JSON.parse(x.data).status === 'ok', 5000);
      expect(JSON.parse(e.data)).toEqual({
        processId: summary.processId,
        runId: summary.runId,
        job: 'COINCAP/RATES',
        status: 'ok',
        statusCode: 1,
        rowsLoaded: 192,
        endedAt: expect.any(String),
        error: null,
      });
    } finally {
      events.close();
    }
  });

  it.runIf(kind === 'postgres')('on PostgreSQL no marker is written: every process writes to the warehouse itself', () => {
    expect(server.markerPath).toBeUndefined();
  });

  // DuckDB only: the control token is published in the marker beside the file, which PostgreSQL does not need.
  it.runIf(kind === 'duckdb')('the control endpoint runs a job in the server and answers NDJSON; the event stream hears of it at once', async () => {
    const token = (await readServeMarker(server.markerPath!))!.token;
    expect(statSync(server.markerPath!).mode & 0o777).toBe(0o600);
    const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }) =>
      fetch(`${base}/api/control/run`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

    expect((await post({ job: 'coincap.rates' }, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post({ job: 'coincap.rates' }, { authorization: 'Bearer nope', 'content-type': 'application/json' })).status).toBe(401);
    expect((await post('job=coincap.rates', { authorization: `Bearer ${token}`, 'content-type': 'text/plain' })).status).toBe(415);
    const bad = await post({ job: 'coincap.rates', sql: 'DROP TABLE x' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/^bad run request: .*sql/);
    expect((await (await post({ job: 'coincap.rates', section: 'X', tableName: 'Y' })).json()).error).toMatch(/give either job or section and tableName/);

    const events = await openSse(`${base}/api/events`);
    try {
      await events.waitFor((e) => e.event === 'hello');
      const res = await post({ job: 'coincap.exchanges', endpoints: env.endpoints });
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.type)).toEqual(['queued', 'started', 'done']);
      const { summary } = lines[2];
      expect(summary).toMatchObject({ job: 'coincap.exchanges', table: 'coinlake.coincap_exchanges', status: 1, rowsLoaded: 100 });
      const e = await events.waitFor((x) => x.event === 'run' && JSON.parse(x.data).runId === summary.runId && JSON.parse(x.data).status === 'ok', 1500);
      expect(JSON.parse(e.data).job).toBe('COINCAP/EXCHANGES');

      const unknown = (await (await post({ job: 'coincap.nope' })).text()).trim().split('\n').map((l) => JSON.parse(l));
      expect(unknown.at(-1)).toEqual({ type: 'failed', error: { message: 'unknown job "coincap.nope"', hint: expect.stringContaining('known jobs: coincap.assets') } });
      const failed = (await (await post({ job: 'coincap.asset_history', options: { interval: 'x9', from: '2024-01-01', to: '2024-01-02' }, endpoints: env.endpoints })).text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(failed.at(-1)).toEqual({
        type: 'failed',
        error: { message: 'unknown interval "x9": expected one of m1, m5, m15, m30, h1, h2, h6, h12, d1' },
        run: { processId: expect.any(Number), runId: expect.any(String), logPath: expect.stringContaining(path.join(env.lakeDir, 'logs')), job: 'coincap.asset_history' },
      });
    } finally {
      events.close();
    }
  });
});

describe('coinlake run hands its job to the coinlake serve that holds the DuckDB file', () => {
  let env: DashboardEnv;
  let server: ServeServer;

  beforeAll(async () => {
    env = await dashboardEnv('duckdb');
    server = await startServeServer({ warehouse: env.warehouse, lake: env.lakeDir, port: 0, pollMs: 200, onError: () => {} });
  });
  afterAll(async () => {
    await server?.close();
    await env?.close();
  });

  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, ...args], { cwd: env.dir, env: { ...process.env, COINLAKE_WAREHOUSE: env.warehouse, COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );

  it('a job by name: the usual summary line, no lock error, and the page hears of the run', async () => {
    const events = await openSse(`${server.url}/api/events`);
    try {
      await events.waitFor((e) => e.event === 'hello');
      const r = await coinlake(['--replay', 'run', 'coincap.markets']);
      expect(r.stderr).toBe(`coinlake serve (pid ${process.pid}, ${server.url}) holds ${env.warehouse}: the job runs there (lake ${env.lakeDir})\n`);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^coincap\.markets: 100 rows into coinlake\.coincap_markets \(0 inserted, 0 updated, 0 deleted\) from 1 page\(s\) in \d+\.\d s — run (\S+) \(process 8\)\n$/);
      const runId = /run (\S+) \(process/.exec(r.stdout)![1];
      await events.waitFor((e) => e.event === 'run' && JSON.parse(e.data).runId === runId && JSON.parse(e.data).status === 'ok', 2000);
    } finally {
      events.close();
    }
  });

  it('a catalog job (-s/-a) and --print-log: the log comes back from the run\'s file', async () => {
    const r = await coinlake(['--replay', '--print-log', 'run', '-s', 'COINCAP_RATES', '-a', 'EXTERNAL_COINCAP_RATES']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^COINCAP_RATES\/EXTERNAL_COINCAP_RATES: 192 rows into coinlake\.coincap_rates .* — run \S+ \(process \d+\)\n$/);
    expect(r.stderr).toMatch(/\d\d:\d\d:\d\d info  run started job=COINCAP_RATES\/EXTERNAL_COINCAP_RATES/);
    expect(r.stderr).toMatch(/info  run complete rowsExtracted=192/);
  });

  it('a failed run: one error line, the run and its log, exit 1 — as without the server', async () => {
    const r = await coinlake(['--replay', 'run', 'coincap.asset_history', '--interval', 'x9', '--from', '2024-01-01', '--to', '2024-01-02']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the job runs there .*\nerror: unknown interval "x9": expected one of m1, m5, m15, m30, h1, h2, h6, h12, d1\nrun \S+ \(process \d+\) failed; log: .*lake\/logs\/\S+\.log\n$/);
  });

  it('a second server on the same file is refused; after close the marker is gone and a stale one is ignored', async () => {
    await expect(startServeServer({ warehouse: env.warehouse, lake: env.lakeDir, port: 0 })).rejects.toThrow(`coinlake serve (pid ${process.pid}) already holds ${env.warehouse} at ${server.url}`);
    const marker = server.markerPath!;
    await server.close();
    expect(existsSync(marker)).toBe(false);
    await writeFile(marker, JSON.stringify({ pid: 999999, instance: 'gone', url: 'http://127.0.0.1:9', token: 'x', warehouse: env.warehouse, lake: env.lakeDir, startedAt: '' }));
    const r = await coinlake(['--replay', 'run', 'coincap.rates']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^coincap\.rates: 192 rows into coinlake\.coincap_rates/);
  });
});
