// External views over the lake's curated Parquet rebuild each loaded table by its write mode: same rows as the table.
import { afterEach, describe, expect, it } from 'vitest';
import type { Session, WriteMode } from '../src/core/destination.ts';
import type { TableSpec } from '../src/core/table.ts';
import { refreshExternalView } from '../src/lake/external-views.ts';
import { assetHistoryTable, assetsTable, ratesTable } from '../src/sources/coincap/coincap-tables.ts';
import { spineEnv, type SpineEnv } from './helpers/spine-env.ts';

let env: SpineEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/**
 * The table's data columns, every row, in a stable order. Lineage and volatile columns are left out: merge keeps an
 * unchanged row as it was (its lineage and its volatile snapshot time), the view shows the newest load's values.
 */
async function rows(s: Session, from: string, t: TableSpec): Promise<unknown[]> {
  const cols = t.columns.filter((c) => !c.volatile).map((c) => `"${c.name}"`).join(', ');
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
