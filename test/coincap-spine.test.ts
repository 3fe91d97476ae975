// End to end: CoinCap through the replay server → lake → DuckDB, with run history and state.
import { readFileSync, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildJob } from '../src/runner/job-builder.ts';
import { RunFailedError, runJob } from '../src/runner/run-job.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { loopbackApi } from './helpers/loopback-api.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/coincap-v2/${name}.json`, import.meta.url), 'utf8'));

let env: SpineEnv;
afterEach(async () => env?.close());

async function count(table: string): Promise<number> {
  const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(n);
}

describe.each(WAREHOUSES)('on %s', (kind) => {
  describe('CoinCap streams load exactly their recorded payloads', () => {
    beforeEach(async () => {
      env = await spineEnv(kind);
    });

    it('assets: 100 rows, numbers parsed from strings, null maxSupply stays NULL', async () => {
      const s = await env.run('coincap.assets');
      expect(s.rowsLoaded).toBe(100);
      expect(s.load).toEqual({ inserted: 100, updated: 0, deleted: 0 });
      const recorded = fixture('assets');
      const rows = await env.session.query<Record<string, unknown>>(`SELECT * FROM coinlake.coincap_assets ORDER BY rank`);
      expect(rows).toHaveLength(100);
      const btc = rows.find((r) => r.id === 'bitcoin')!;
      const rec = recorded.find((r: { id: string }) => r.id === 'bitcoin');
      expect(btc.price_usd).toBe(Number(rec.priceUsd));
      expect(btc.rank).toBe(Number(rec.rank));
      expect(btc.max_supply).toBe(rec.maxSupply === null ? null : Number(rec.maxSupply));
      const nullMax = recorded.filter((r: { maxSupply: unknown }) => r.maxSupply === null).map((r: { id: string }) => r.id).sort();
      const nullRows = rows.filter((r) => r.max_supply === null).map((r) => r.id).sort();
      expect(nullRows).toEqual(nullMax);
      expect(nullRows.length).toBeGreaterThan(0);
      expect(btc._run_id).toBe(s.runId);
    });

    it('exchanges: null volumeUsd stays NULL, exchangeId and id both accepted', async () => {
      const recorded = fixture('exchanges');
      await env.run('coincap.exchanges');
      const rows = await env.session.query<Record<string, unknown>>(`SELECT * FROM coinlake.coincap_exchanges`);
      expect(rows).toHaveLength(recorded.length);
      const nullVol = recorded.filter((r: { volumeUsd: unknown }) => r.volumeUsd === null).map((r: { exchangeId: string }) => r.exchangeId).sort();
      expect(rows.filter((r) => r.volume_usd === null).map((r) => r.exchange_id).sort()).toEqual(nullVol);
      expect(nullVol.length).toBeGreaterThan(0);
      const binance = rows.find((r) => r.exchange_id === 'binance')!;
      expect(binance.trading_pairs).toBe(549);
      expect(binance.updated).toEqual(new Date(1732733086907));
      // The documented `id` key works too.
      env.replay.setData('exchanges', recorded.map(({ exchangeId, ...r }: { exchangeId: string }) => ({ id: exchangeId, ...r })));
      const s2 = await env.run('coincap.exchanges');
      expect(s2.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
      expect(await count('coinlake.coincap_exchanges')).toBe(recorded.length);
    });

    it('rates and markets: every record once, nulls preserved, canonical pair', async () => {
      await env.run('coincap.rates');
      await env.run('coincap.markets');
      expect(await count('coinlake.coincap_rates')).toBe(fixture('rates').length);
      const markets = fixture('markets');
      expect(await count('coinlake.coincap_markets')).toBe(markets.length);
      const nullTrades = markets.filter((m: { tradesCount24Hr: unknown }) => m.tradesCount24Hr === null).length;
      const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.coincap_markets WHERE trades_count_24hr IS NULL`);
      expect(Number(n)).toBe(nullTrades);
      const [first] = await env.session.query<Record<string, unknown>>(`SELECT pair, price_quote FROM coinlake.coincap_markets WHERE exchange_id = 'alterdice' AND base_id = 'bitcoin'`);
      expect(first).toEqual({ pair: 'BTC-USDT', price_quote: 96146.87 });
    });

    it('writes raw pages, curated Parquet and a run row with status 1', async () => {
      const s = await env.run('coincap.rates');
      const raw = s.lakePaths.find((p) => p.startsWith('raw/'))!;
      expect(raw).toMatch(new RegExp(`^raw/coincap/rates/dt=\\d{4}-\\d{2}-\\d{2}/${s.runId}-00001\\.json\\.gz$`));
      const body = JSON.parse(gunzipSync(readFileSync(path.join(env.lake.root, raw))).toString());
      expect(body.data).toEqual(fixture('rates'));
      const curated = s.lakePaths.filter((p) => p.startsWith('curated/'));
      expect(curated).toHaveLength(1);
      expect(curated[0]).toMatch(new RegExp(`^curated/coincap_rates/dt=\\d{4}-\\d{2}-\\d{2}/${s.runId}\\.parquet$`));
      const reader = await openWarehouse(':memory:');
      const [{ n }] = await reader.query<{ n: number }>(`SELECT count(*) AS n FROM read_parquet('${path.join(env.lake.root, curated[0])}')`);
      await reader.close();
      expect(Number(n)).toBe(192);
      const [run] = await env.session.query<Record<string, unknown>>(`SELECT * FROM coinlake_meta.workflow_action_history WHERE process_id = ${s.processId}`);
      expect(run).toMatchObject({ run_id: s.runId, execution_status: 1, rows_extracted: 192, rows_loaded: 192, rows_quarantined: 0 });
      expect(JSON.parse(String(run.lake_paths))).toEqual(s.lakePaths);
      expect(existsSync(s.logPath)).toBe(true);
      expect(readFileSync(s.logPath, 'utf8')).toContain('run complete');
      expect(await readdir(path.join(env.lake.root, 'curated/coincap_rates'))).not.toContain(`.tmp-${s.runId}`);
    });
  });

  describe('paging', () => {
    it('2,500 assets served as pages of 2,000 and 500 load as 2,500 rows', async () => {
      env = await spineEnv(kind, { assetCount: 2500 });
      const s = await env.run('coincap.assets');
      expect(s.pages).toBe(2);
      expect(env.replay.requests.map((r) => [r.query.limit, r.query.offset])).toEqual([['2000', '0'], ['2000', '2000']]);
      expect(s.rowsLoaded).toBe(2500);
      expect(await count('coinlake.coincap_assets')).toBe(2500);
    });
  });

  describe('write modes through a job', () => {
    beforeEach(async () => {
      env = await spineEnv(kind);
    });
    const snapshot = () => env.session.query(`SELECT id, rank, price_usd FROM coinlake.coincap_assets ORDER BY id`);

    it('merge: rerun changes nothing, changed data updates only the changed rows', async () => {
      const first = await env.run('coincap.assets');
      const before = await snapshot();
      const again = await env.run('coincap.assets');
      expect(again.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
      expect(await snapshot()).toEqual(before);
      const data = env.replay.getData('assets');
      env.replay.setData('assets', [{ ...data[0], priceUsd: '1.5000000000000000' }, ...data.slice(1), { ...data[1], id: 'newcoin', rank: '101' }]);
      const third = await env.run('coincap.assets');
      expect(third.load).toEqual({ inserted: 1, updated: 1, deleted: 0 });
      const rows = await env.session.query<Record<string, unknown>>(`SELECT id, price_usd, _run_id FROM coinlake.coincap_assets WHERE id IN ('${data[0].id}', '${data[2].id}', 'newcoin') ORDER BY id`);
      expect(rows.find((r) => r.id === data[0].id)).toMatchObject({ price_usd: 1.5, _run_id: third.runId });
      expect(rows.find((r) => r.id === data[2].id)).toMatchObject({ _run_id: first.runId });
      expect(await count('coinlake.coincap_assets')).toBe(101);
    });

    it('replace: the table holds exactly the last snapshot', async () => {
      await env.run('coincap.assets', { mode: 'replace' });
      await env.run('coincap.assets', { mode: 'replace' });
      expect(await count('coinlake.coincap_assets')).toBe(100);
      env.replay.setData('assets', env.replay.getData('assets').slice(0, 10));
      const s = await env.run('coincap.assets', { mode: 'replace' });
      expect(s.load).toEqual({ inserted: 10, updated: 0, deleted: 100 });
      expect(await count('coinlake.coincap_assets')).toBe(10);
    });

    it('append: every run adds its rows', async () => {
      await env.run('coincap.rates', { mode: 'append' });
      await env.run('coincap.rates', { mode: 'append' });
      expect(await count('coinlake.coincap_rates')).toBe(384);
    });

    it('delete_insert: replaces the days present in the batch only', async () => {
      await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-01-01', to: '2024-01-03', mode: 'delete_insert' });
      await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-01-02', to: '2024-01-04', mode: 'delete_insert', params: {} });
      expect(await count('coinlake.coincap_asset_history')).toBe(72);
    });
  });

  describe('values that do not fit their column', () => {
    it('default: the value loads as NULL, is quarantined with the reason, the rest load', async () => {
      env = await spineEnv(kind);
      const data = env.replay.getData('assets');
      env.replay.setData('assets', [{ ...data[0], priceUsd: 'n/a' }, ...data.slice(1)]);
      const s = await env.run('coincap.assets');
      expect([s.rowsLoaded, s.rowsQuarantined]).toEqual([100, 1]);
      const [row] = await env.session.query<{ price_usd: number | null }>(`SELECT price_usd FROM coinlake.coincap_assets WHERE id = $1`, [data[0].id]);
      expect(row.price_usd).toBeNull();
      const q = s.lakePaths.find((p) => p.startsWith('quarantine/'))!;
      const entry = JSON.parse(readFileSync(path.join(env.lake.root, q), 'utf8').trim());
      expect(entry).toMatchObject({ table: 'coincap_assets', field: 'priceUsd', value: 'n/a', reason: '"n/a" is not a number' });
    });

    it('strict: the run fails cleanly and the table stays as it was', async () => {
      env = await spineEnv(kind);
      await env.run('coincap.assets');
      const before = await env.session.query(`SELECT id, price_usd, _run_id FROM coinlake.coincap_assets ORDER BY id`);
      const data = env.replay.getData('assets');
      env.replay.setData('assets', [{ ...data[0], priceUsd: 'n/a' }, ...data.slice(1)]);
      const { buildJob } = await import('../src/runner/job-builder.ts');
      const { runJob } = await import('../src/runner/run-job.ts');
      const job = { ...buildJob('coincap.assets', {}, { baseUrls: { coincap: env.replay.coincapV2Url }, rateLimitPerMinute: 0 }), onInvalid: 'strict' as const };
      const err = await runJob(job, { session: env.session, lake: env.lake, progress: false }).catch((e) => e);
      expect(err.message).toMatch(/^invalid value "n\/a" in field "priceUsd" of coincap_assets \(http:\/\/127\.0\.0\.1:\d+\/v2\/assets\?limit=2000&offset=0\): "n\/a" is not a number$/);
      expect(await env.session.query(`SELECT id, price_usd, _run_id FROM coinlake.coincap_assets ORDER BY id`)).toEqual(before);
      const runs = await env.session.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
      expect(runs.map((r) => r.execution_status)).toEqual([1, -1]);
    });
  });

  describe('incremental history', () => {
    it('days 1–10 then 1–20 load each point once; the watermark is the last time', async () => {
      env = await spineEnv(kind);
      const a = await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-03-01', to: '2024-03-11' });
      expect(a.rowsLoaded).toBe(240);
      const b = await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-03-01', to: '2024-03-21' });
      expect(b.rowsLoaded).toBe(240);
      expect(await count('coinlake.coincap_asset_history')).toBe(480);
      const [{ n, d }] = await env.session.query<{ n: number; d: number }>(`SELECT count(*) AS n, count(DISTINCT time) AS d FROM coinlake.coincap_asset_history`);
      expect([Number(n), Number(d)]).toEqual([480, 480]);
      const [st] = await env.session.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state`);
      expect(JSON.parse(st.state)).toEqual({ watermark: Date.parse('2024-03-20T23:00:00Z') });
      const [{ mx }] = await env.session.query<{ mx: Date }>(`SELECT max(time) AS mx FROM coinlake.coincap_asset_history`);
      expect(mx).toEqual(new Date('2024-03-20T23:00:00Z'));
      // The second run asked only for what was new.
      const starts = env.replay.requests.filter((r) => r.path.endsWith('/history')).map((r) => Number(r.query.start));
      expect(starts[starts.length - 1]).toBe(Date.parse('2024-03-10T23:00:00Z') + 1);
    });
  });

  describe('no false drift in asset history', () => {
    const noDrift = async (s: { processId: number; logPath: string; unknownFields: string[]; missingFields: string[] }) => {
      expect(s.unknownFields).toEqual([]);
      expect(s.missingFields).toEqual([]);
      const [run] = await env.session.query<{ details: string }>(`SELECT details FROM coinlake_meta.workflow_action_history WHERE process_id = ${s.processId}`);
      expect(JSON.parse(run.details)).toMatchObject({ unknownFields: [], missingFields: [] });
      expect(readFileSync(s.logPath, 'utf8')).not.toContain('fields the table does not map');
    };

    it('the envelope timestamp is no unknown field: a replay run records and logs no drift', async () => {
      env = await spineEnv(kind);
      const s = await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-03-01', to: '2024-03-03' });
      expect(s.rowsLoaded).toBe(48);
      await noDrift(s);
    });

    it('the documented shape ({"data": [{priceUsd, time, circulatingSupply, date}], "timestamp"}) from a loopback server: exact rows, no drift', async () => {
      env = await spineEnv(kind);
      const t0 = Date.parse('2024-11-22T23:00:00Z');
      const points = [0, 1].map((i) => ({ priceUsd: `${98708 + i}.5000000000000000`, time: t0 + i * 3_600_000, circulatingSupply: '19786031.0000000000000000', date: new Date(t0 + i * 3_600_000).toISOString() }));
      const api = await loopbackApi(() => ({ body: { data: points, timestamp: 1732746402463 } }));
      try {
        const job = buildJob('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-11-22T23:00:00Z', to: '2024-11-23T01:00:00Z' }, { baseUrls: { coincap: api.url }, rateLimitPerMinute: 0 });
        const s = await runJob(job, { session: env.session, lake: env.lake, progress: false });
        expect(api.paths).toEqual([`/assets/bitcoin/history?interval=h1&start=${t0}&end=${t0 + 7_200_000}`]);
        const rows = await env.session.query<Record<string, unknown>>('SELECT asset_id, interval, time, price_usd, circulating_supply, date FROM coinlake.coincap_asset_history ORDER BY time');
        expect(rows).toEqual(points.map((p) => ({ asset_id: 'bitcoin', interval: 'h1', time: new Date(p.time), price_usd: Number(p.priceUsd), circulating_supply: 19786031, date: new Date(p.date) })));
        await noDrift(s);
      } finally {
        await api.close();
      }
    });
  });

  describe('faults', () => {
    beforeEach(async () => {
      env = await spineEnv(kind);
    });

    it('a permanent 500 ends with status -1 and leaves table and state untouched', async () => {
      await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-03-01', to: '2024-03-02' });
      env.replay.inject({ kind: 'status500', path: '/v2/assets/bitcoin/history', times: Infinity });
      const err = await env.run('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-03-01', to: '2024-03-05' }, {}).catch((e) => e);
      expect(err).toBeInstanceOf(RunFailedError);
      expect(err.message).toMatch(/^HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/v2\/assets\/bitcoin\/history\?interval=h1&start=\d+&end=\d+: \{"error":"internal server error"\}$/);
      expect(await count('coinlake.coincap_asset_history')).toBe(24);
      const [st] = await env.session.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state`);
      expect(JSON.parse(st.state)).toEqual({ watermark: Date.parse('2024-03-01T23:00:00Z') });
      const runs = await env.session.query<{ execution_status: number; error_message: string }>(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
      expect(runs.map((r) => r.execution_status)).toEqual([1, -1]);
      expect(runs[1].error_message).toBe(err.message);
    }, 120_000);

    it('three 500s then success succeeds', async () => {
      env.replay.inject({ kind: 'status500', path: '/v2/rates', times: 3 });
      const s = await env.run('coincap.rates');
      expect(s.rowsLoaded).toBe(192);
    }, 60_000);

    it('an error after the lake write but before commit leaves the warehouse unchanged; the rerun loads once', async () => {
      const err = await env
        .run('coincap.assets', {}, { beforeCommit: async () => { throw new Error('injected before commit'); } })
        .catch((e) => e);
      expect(err.message).toBe('injected before commit');
      expect(err.summary.runId).toBeTruthy();
      const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'coinlake' AND table_name = 'coincap_assets'`);
      if (Number(n) > 0) expect(await count('coinlake.coincap_assets')).toBe(0);
      // Raw pages of the failed run stay for debugging; its curated files do not.
      const curatedDir = path.join(env.lake.root, 'curated', 'coincap_assets');
      const curatedFiles = existsSync(curatedDir) ? await readdir(curatedDir, { recursive: true }) : [];
      expect(curatedFiles.filter((f) => String(f).endsWith('.parquet'))).toEqual([]);
      const s = await env.run('coincap.assets');
      expect(s.load.inserted).toBe(100);
      expect(await count('coinlake.coincap_assets')).toBe(100);
    });

    it('the deprecated-v2 body gives the clear error', async () => {
      await env.close();
      env = await spineEnv(kind, { deprecatedV2: true });
      const err = await env.run('coincap.assets').catch((e) => e);
      expect(err.message).toMatch(/^CoinCap v2 is shut down: http:\/\/127\.0\.0\.1:\d+\/v2\/assets\?limit=2000&offset=0 answered "We are deprecating this version/);
      expect(err.cause.hint).toBe('use CoinCap v3: set COINCAP_API_KEY (the base URL becomes https://rest.coincap.io/v3), or run with --replay');
    });
  });

  describe('CoinCap v3', () => {
    it('sends the API key as a Bearer header and keeps it out of the log, lake and run row', async () => {
      const { buildJob } = await import('../src/runner/job-builder.ts');
      const { runJob } = await import('../src/runner/run-job.ts');
      env = await spineEnv(kind, { apiKey: 'v3-key-abcdef' });
      const job = buildJob('coincap.assets', { apiKey: 'v3-key-abcdef' }, { baseUrls: { coincap: env.replay.coincapV3Url }, rateLimitPerMinute: 0 });
      expect(job.rateLimitPerMinute).toBe(0);
      const s = await runJob(job, { session: env.session, lake: env.lake, progress: false, logLevel: 'debug' });
      expect(s.rowsLoaded).toBe(100);
      expect(env.replay.requests.map((r) => r.headers.authorization)).toEqual(['Bearer v3-key-abcdef']);
      const files = (await readdir(env.lake.root, { recursive: true })).map(String).filter((f) => !f.endsWith('.parquet') && !f.endsWith('.gz'));
      for (const f of files) {
        const p = path.join(env.lake.root, f);
        if (existsSync(p) && !(await import('node:fs')).statSync(p).isDirectory()) expect(readFileSync(p, 'utf8')).not.toContain('v3-key-abcdef');
      }
      const runs = await env.session.query<Record<string, unknown>>(`SELECT * FROM coinlake_meta.workflow_action_history`);
      expect(JSON.stringify(runs)).not.toContain('v3-key-abcdef');
      // Without the key v3 refuses, and the error says which URL and what to check.
      const noKey = buildJob('coincap.assets', { apiKey: '' }, { baseUrls: { coincap: env.replay.coincapV3Url }, rateLimitPerMinute: 0 });
      const err = await runJob(noKey, { session: env.session, lake: env.lake, progress: false }).catch((e) => e);
      expect(err.message).toMatch(/^HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v3\/assets\?limit=2000&offset=0: \{"error":"Unauthorized"\}$/);
      expect(err.cause.hint).toBe('check the API key of this connection');
    });
  });
});
