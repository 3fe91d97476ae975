// End to end: CoinCap v3 (API key as a Bearer header) through the replay server's /v3 routes, on DuckDB and
// PostgreSQL: every stream answers like v2, and the assets' `tokens` object is kept as JSON.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildJob, type JobOptions } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const KEY = 'v3-test-key-0123456789';
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

let env: SpineEnv;
afterEach(async () => {
  const done = env;
  env = undefined as unknown as SpineEnv;
  await done?.close();
});

const runV3 = (job: string, opts: JobOptions = {}) =>
  runJob(buildJob(job, { apiKey: KEY, ...opts }, { baseUrls: { coincap: env.replay.coincapV3Url }, rateLimitPerMinute: 0 }), { session: env.session, lake: env.lake, progress: false });

describe.each(WAREHOUSES)('CoinCap v3 on %s', (kind) => {
  it('every stream over /v3 with the key as a Bearer header; the same rows as v2', async () => {
    env = await spineEnv(kind, { apiKey: KEY });
    const counts: Record<string, number> = {};
    for (const job of ['coincap.assets', 'coincap.exchanges', 'coincap.rates', 'coincap.markets']) counts[job] = (await runV3(job)).rowsLoaded;
    const history = await runV3('coincap.asset_history', { asset: 'bitcoin', interval: 'h1', from: '2024-12-01', to: '2024-12-02' });
    expect(counts).toEqual({
      'coincap.assets': fixture('coincap-v2/assets.json').length,
      'coincap.exchanges': fixture('coincap-v2/exchanges.json').length,
      'coincap.rates': fixture('coincap-v2/rates.json').length,
      'coincap.markets': fixture('coincap-v2/markets.json').length,
    });
    expect(history.rowsLoaded).toBe(24);
    expect(new Set(env.replay.requests.map((r) => r.path.split('/')[1]))).toEqual(new Set(['v3']));
    expect(new Set(env.replay.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${KEY}`]));
    expect(env.replay.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('tokens: {} on every v3 asset lands as JSON (v2 assets have none: NULL); raw pages keep it', async () => {
    env = await spineEnv(kind, { apiKey: KEY });
    const s = await runV3('coincap.assets');
    const tokens = await env.session.query<{ tokens: unknown }>('SELECT DISTINCT tokens FROM coinlake.coincap_assets');
    expect(tokens).toEqual([{ tokens: {} }]);
    const raw = JSON.parse(gunzipSync(readFileSync(path.join(env.lake.root, s.lakePaths.find((p) => p.startsWith('raw/'))!))).toString());
    expect(raw.data[0].tokens).toEqual({});
    await env.run('coincap.assets'); // v2: no tokens field
    const [{ n }] = await env.session.query<{ n: number }>('SELECT count(*) AS n FROM coinlake.coincap_assets WHERE tokens IS NULL');
    expect(Number(n)).toBe(100);
  });

  it('the verbatim 2025 v3 capture of bitcoin loads exactly', async () => {
    env = await spineEnv(kind, { apiKey: KEY });
    const capture = fixture('formats/coincap-v3-asset-bitcoin.json');
    env.replay.setData('assets', [{ ...capture.data, tokens: { ethereum: ['0x2260fac5e5542a773aa44fbcfedf7c193bc2c599'] } }]);
    await runV3('coincap.assets');
    const [row] = await env.session.query<Record<string, unknown>>('SELECT id, rank, supply, max_supply, price_usd, explorer, tokens FROM coinlake.coincap_assets');
    expect(row).toEqual({
      id: 'bitcoin',
      rank: 1,
      supply: 19904934,
      max_supply: 21000000,
      price_usd: 119753.3173109070855685,
      explorer: 'https://blockchain.info/',
      tokens: { ethereum: ['0x2260fac5e5542a773aa44fbcfedf7c193bc2c599'] },
    });
  });
});
