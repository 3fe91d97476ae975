// External views over the lake's curated Parquet rebuild each loaded table by its write mode: same rows as the table.
import { afterEach, describe, expect, it } from 'vitest';
import type { Session, WriteMode } from '../src/core/destination.ts';
import type { TableSpec } from '../src/core/table.ts';
import { refreshExternalView } from '../src/lake/external-views.ts';
import { buildJob } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';
import { assetHistoryTable, assetsTable, ratesTable } from '../src/sources/coincap/coincap-tables.ts';
import { jsonSite } from './helpers/json-site.ts';
import { spineEnv, type SpineEnv } from './helpers/spine-env.ts';

let env: SpineEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** Every column of every row (data, volatile and lineage columns), in a stable order. */
async function rows(s: Session, from: string, t: TableSpec): Promise<unknown[]> {
  const cols = [...t.columns.map((c) => `"${c.name}"`), '"_run_id"', '"_loaded_at"'].join(', ');
  return s.query(`SELECT ${cols} FROM ${from} ORDER BY ${cols}`);
}

describe('external views over the curated lake (DuckDB)', () => {
  const cases: { job: string; opts: Record<string, string>; table: TableSpec; mode: WriteMode; runs: number }[] = [
    { job: 'coincap.assets', opts: {}, table: assetsTable, mode: 'merge', runs: 2 },
    { job: 'coincap.rates', opts: {}, table: ratesTable, mode: 'replace', runs: 2 },
    { job: 'coincap.rates', opts: {}, table: ratesTable, mode: 'append', runs: 2 },
    { job: 'coincap.asset_history', opts: { asset: 'bitcoin', interval: 'h1', from: '2024-01-01', to: '2024-01-03' }, table: assetHistoryTable, mode: 'delete_insert', runs: 2 },
  ];
  for (const c of cases) {
    it(`${c.mode}: ${c.job} loaded ${c.runs}× — the view has exactly the table's rows`, async () => {
      env = await spineEnv('duckdb');
      for (let i = 0; i < c.runs; i++) await env.run(c.job, { ...c.opts, mode: c.mode });
      const r = await refreshExternalView(env.session, env.lake, c.table, c.mode);
      expect(r).toEqual({ view: `coinlake_external.${c.table.name}`, status: 'created' });
      const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${c.table.name}`);
      const [{ v }] = await env.session.query<{ v: number }>(`SELECT count(*) AS v FROM coinlake_external.${c.table.name}`);
      expect(v).toBe(n);
      expect(n).toBeGreaterThan(0);
      expect(await rows(env.session, `coinlake_external.${c.table.name}`, c.table)).toEqual(await rows(env.session, `coinlake.${c.table.name}`, c.table));
    });
  }

  /** A CoinCap /assets record with the given id and price (every other field fixed). */
  const asset = (id: string, rank: number, price: string) => ({
    id, rank: String(rank), symbol: id.toUpperCase(), name: id, supply: '100.0000000000000000', maxSupply: null, marketCapUsd: '1000.0000000000000000',
    volumeUsd24Hr: '10.0000000000000000', priceUsd: price, changePercent24Hr: '0.5000000000000000', vwap24Hr: price, explorer: null,
  });

  it('merge where some rows are unchanged: the view equals the table in every column, lineage and snapshot_time included', async () => {
    env = await spineEnv('duckdb');
    const snapshots = [
      { timestamp: Date.parse('2024-05-01T00:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('bbb', 2, '2.5'), asset('ccc', 3, '3.5')] },
      // bbb changes, aaa and ccc do not; ddd is new.
      { timestamp: Date.parse('2024-05-01T01:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('bbb', 2, '2.75'), asset('ccc', 3, '3.5'), asset('ddd', 4, '4.5')] },
      // ccc changes and changes back: its row is the one of the third run, then kept by the fourth.
      { timestamp: Date.parse('2024-05-01T02:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('bbb', 2, '2.75'), asset('ccc', 3, '3.25'), asset('ddd', 4, '4.5')] },
      { timestamp: Date.parse('2024-05-01T03:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('bbb', 2, '2.5'), asset('ccc', 3, '3.25'), asset('ddd', 4, '4.5')] },
    ];
    let current = snapshots[0];
    const site = await jsonSite((url) => (url.searchParams.get('offset') === '0' ? current : { timestamp: current.timestamp, data: [] }));
    try {
      const runIds: string[] = [];
      for (const snap of snapshots) {
        current = snap;
        const job = buildJob('coincap.assets', { mode: 'merge', params: { limit: 10 } }, { baseUrls: { coincap: site.url }, rateLimitPerMinute: 0 });
        runIds.push((await runJob(job, { session: env.session, lake: env.lake, progress: false })).runId);
      }
      const all = (from: string) =>
        env!.session.query<Record<string, unknown>>(`SELECT id, price_usd, snapshot_time, _run_id, _loaded_at FROM ${from} ORDER BY id`);
      const table = await all('coinlake.coincap_assets');
      const at = (i: number) => new Date(snapshots[i].timestamp);
      // The table: rows a merge left unchanged keep the run and snapshot time that last changed them.
      expect(table.map(({ _loaded_at: _l, ...r }) => r)).toEqual([
        { id: 'aaa', price_usd: 1.5, snapshot_time: at(0), _run_id: runIds[0] },
        { id: 'bbb', price_usd: 2.5, snapshot_time: at(3), _run_id: runIds[3] },
        { id: 'ccc', price_usd: 3.25, snapshot_time: at(2), _run_id: runIds[2] },
        { id: 'ddd', price_usd: 4.5, snapshot_time: at(1), _run_id: runIds[1] },
      ]);
      expect(await refreshExternalView(env.session, env.lake, assetsTable, 'merge')).toEqual({ view: 'coinlake_external.coincap_assets', status: 'created' });
      expect(await all('coinlake_external.coincap_assets')).toEqual(table);
      const every = (from: string) => env!.session.query(`SELECT * FROM ${from} ORDER BY id`);
      expect(await every('coinlake_external.coincap_assets')).toEqual(await every('coinlake.coincap_assets'));
    } finally {
      await site.close();
    }
  });

  it('merge deleting missing keys: the view drops the keys the newest snapshot lacks, as the table does', async () => {
    env = await spineEnv('duckdb');
    let current = { timestamp: Date.parse('2024-05-01T00:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('bbb', 2, '2.5'), asset('ccc', 3, '3.5')] };
    const site = await jsonSite((url) => (url.searchParams.get('offset') === '0' ? current : { timestamp: current.timestamp, data: [] }));
    const table: TableSpec = { ...assetsTable, deleteMissing: true };
    try {
      const run = async () => {
        const job = buildJob('coincap.assets', { mode: 'merge', params: { limit: 10 } }, { baseUrls: { coincap: site.url }, rateLimitPerMinute: 0 });
        return runJob({ ...job, table }, { session: env!.session, lake: env!.lake, progress: false });
      };
      await run();
      current = { timestamp: Date.parse('2024-05-01T01:00:00Z'), data: [asset('aaa', 1, '1.5'), asset('ccc', 3, '3.75')] };
      expect((await run()).load).toEqual({ inserted: 0, updated: 1, deleted: 1 });
      await refreshExternalView(env.session, env.lake, table, 'merge');
      const every = (from: string) => env!.session.query(`SELECT * FROM ${from} ORDER BY id`);
      const view = await every('coinlake_external.coincap_assets');
      expect(view.map((r) => (r as { id: string }).id)).toEqual(['aaa', 'ccc']);
      expect(view).toEqual(await every('coinlake.coincap_assets'));
    } finally {
      await site.close();
    }
  });

  it('scd2 has no external view, and says why', async () => {
    env = await spineEnv('duckdb');
    await env.run('coincap.rates', { mode: 'scd2' });
    expect(await refreshExternalView(env.session, env.lake, ratesTable, 'scd2')).toEqual({
      view: 'coinlake_external.coincap_rates',
      status: 'unsupported',
      reason:
        'write mode scd2 keeps versions (valid_from, valid_to, is_current) that the curated files do not hold, so a view over them cannot equal the table; external views support write modes append, replace, merge, delete_insert',
    });
  });

  it('no curated files yet: no view, and says so', async () => {
    env = await spineEnv('duckdb');
    expect(await refreshExternalView(env.session, env.lake, ratesTable, 'replace')).toEqual({
      view: 'coinlake_external.coincap_rates',
      status: 'no-files',
      reason: 'no curated files under curated/coincap_rates yet',
    });
  });

  it('PostgreSQL cannot read Parquet: reported as unsupported', async () => {
    env = await spineEnv('postgres');
    await env.run('coincap.rates');
    expect(await refreshExternalView(env.session, env.lake, ratesTable, 'replace')).toEqual({
      view: 'coinlake_external.coincap_rates',
      status: 'unsupported',
      reason: 'this warehouse cannot read Parquet; external views need DuckDB',
    });
  });
});
