// The BigQuery conformance run against the real service. It runs only when GOOGLE_APPLICATION_CREDENTIALS and
// COINLAKE_BQ_PROJECT are set (it cannot run on this machine or in CI, which have no Google access) and is reported
// as skipped otherwise. Through the bigquery:// destination, in throwaway datasets: every write mode's exact rows and
// counts (the cases of destinations/conformance/write-mode-cases.ts that the offline fake cannot execute), and what a
// real run put in the lake loaded by the deprecated `bigquery load` path, twice.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import { loadCuratedFiles } from '../src/cli/bigquery-command.ts';
import type { LoadResult, WriteMode } from '../src/core/destination.ts';
import type { Row, TableSpec } from '../src/core/table.ts';
import { openBigQuerySession, type BigQuerySession } from '../src/destinations/bigquery/index.ts';
import { applyWriteMode, physicalTable } from '../src/load/index.ts';
import { assetsTable } from '../src/sources/coincap/coincap-tables.ts';
import { spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const LIVE = Boolean(process.env.GOOGLE_APPLICATION_CREDENTIALS && process.env.COINLAKE_BQ_PROJECT);
const projectId = process.env.COINLAKE_BQ_PROJECT ?? '';
const dataset = `coinlake_ci_${randomBytes(4).toString('hex')}`;
const location = `bigquery://${projectId}/${dataset}?location=US`;

const T1 = new Date('2024-01-01T00:00:00Z');
const spec = (name: string, overrides: Partial<TableSpec> = {}): TableSpec => ({
  schema: 'coinlake_conformance',
  name,
  columns: [
    { name: 'asset_id', type: 'varchar' },
    { name: 'time', type: 'timestamptz' },
    { name: 'price', type: 'double' },
    { name: 'supply', type: 'decimal(20,8)' },
    { name: 'rank', type: 'integer' },
  ],
  primaryKey: ['asset_id', 'time'],
  partitionBy: 'time',
  ...overrides,
});
const src = (asset: string, time: Date | string, price: number, supply: string | null, rank: number): Row => ({ asset_id: asset, time: new Date(time), price, supply, rank });
const loadedAt = (runId: string) => new Date(Date.UTC(2024, 5, 1, 12, 0, Number(runId.replace(/\D/g, '')) || 0));
const counts = (inserted: number, updated: number, deleted: number): LoadResult => ({ inserted, updated, deleted });

describe.skipIf(!LIVE)('BigQuery live conformance (needs GOOGLE_APPLICATION_CREDENTIALS and COINLAKE_BQ_PROJECT)', () => {
  let s: BigQuerySession;
  let env: SpineEnv | undefined;
  beforeAll(async () => {
    s = await openBigQuerySession(location);
    await ensureMetaTables(s); // merge and scd2 write change events into <dataset>_meta.change_event
    await s.ensureSchema('coinlake_conformance');
  });
  afterAll(async () => {
    for (const schema of ['coinlake', 'coinlake_conformance', 'coinlake_meta']) {
      await s?.exec(`DROP SCHEMA IF EXISTS \`${projectId}.${dataset}${schema.slice('coinlake'.length)}\` CASCADE`).catch(() => undefined);
    }
    await s?.close();
    await env?.close();
  });

  async function fresh(t: TableSpec, mode: WriteMode): Promise<TableSpec> {
    await s.exec(`DROP TABLE IF EXISTS ${s.dialect.table(t.schema, t.name)}`);
    await s.ensureTable(physicalTable(t, mode));
    return t;
  }
  async function load(t: TableSpec, rows: Row[], mode: WriteMode, runId: string): Promise<LoadResult> {
    const ctx = { runId, processId: 1, loadedAt: loadedAt(runId) };
    const staging = await s.stage(t, rows, ctx);
    try {
      return await applyWriteMode(s, t, staging, mode, ctx);
    } finally {
      await s.dropStaging(staging);
    }
  }
  const snapshot = (t: TableSpec) =>
    s.query(`SELECT asset_id, \`time\`, price, CAST(supply AS STRING) AS supply, \`rank\`, _run_id FROM ${s.dialect.table(t.schema, t.name)} ORDER BY asset_id, \`time\`, _run_id`);
  const b1 = [src('bitcoin', T1, 100, '19000000.5', 1), src('ethereum', T1, 10, null, 2), src('tether', T1, 1, '1000.12345678', 3)];
  const row = (r: Row, runId: string) => ({ ...r, _run_id: runId });

  it('merge: updates changed rows, inserts new keys, leaves unchanged rows and their lineage alone; a rerun changes nothing', async () => {
    const t = await fresh(spec('wm_merge'), 'merge');
    expect(await load(t, b1, 'merge', 'r1')).toEqual(counts(3, 0, 0));
    expect(await load(t, b1, 'merge', 'r2')).toEqual(counts(0, 0, 0));
    const b2 = [src('bitcoin', T1, 101, '19000000.5', 1), src('ethereum', T1, 10, null, 2), src('solana', T1, 50, '500', 5)];
    expect(await load(t, b2, 'merge', 'r3')).toEqual(counts(1, 1, 0));
    expect(await snapshot(t)).toEqual([row(b2[0], 'r3'), row(b1[1], 'r1'), row(b2[2], 'r3'), row(b1[2], 'r1')]);
  });

  it('duplicate keys in one batch keep the last row; a NULL key is refused by the script', async () => {
    const t = await fresh(spec('wm_dup'), 'merge');
    const dup = [src('bitcoin', T1, 1, '1', 1), src('bitcoin', T1, 2, '2', 1), src('ethereum', T1, 3, '3', 2), src('bitcoin', T1, 4, '4', 1)];
    expect(await load(t, dup, 'merge', 'r1')).toEqual(counts(2, 0, 0));
    expect((await snapshot(t)).map((r) => r.price)).toEqual([4, 3]);
    await expect(load(t, [{ asset_id: null, time: T1, price: 1, supply: null, rank: 1 }], 'merge', 'r2')).rejects.toThrow(/1 staged row\(s\) for coinlake_conformance.wm_dup have a NULL in the primary key \(asset_id, time\); merge cannot match them/);
  });

  it('replace and delete_insert: whole table, and only the UTC dates of the batch', async () => {
    const r = await fresh(spec('wm_replace'), 'replace');
    expect(await load(r, b1, 'replace', 'r1')).toEqual(counts(3, 0, 0));
    expect(await load(r, b1, 'replace', 'r1')).toEqual(counts(3, 0, 3));
    const d = await fresh(spec('wm_delete_insert'), 'delete_insert');
    const batch = [src('bitcoin', '2024-01-01T00:00:00Z', 100, '1', 1), src('bitcoin', '2024-01-01T23:59:59.999Z', 101, '1', 1), src('bitcoin', '2024-01-02T00:00:00Z', 102, '1', 1)];
    expect(await load(d, batch, 'delete_insert', 'r1')).toEqual(counts(3, 0, 0));
    expect(await load(d, [src('bitcoin', '2024-01-02T00:00:00Z', 202, '1.5', 1)], 'delete_insert', 'r2')).toEqual(counts(1, 0, 1));
    expect((await snapshot(d)).map((x) => [x.price, x._run_id])).toEqual([[100, 'r1'], [101, 'r1'], [202, 'r2']]);
  });

  it('scd2: a change closes the current version and opens a new one; closeMissing closes absent keys', async () => {
    const t = await fresh(spec('wm_scd2', { scd2: { closeMissing: true } }), 'scd2');
    expect(await load(t, b1, 'scd2', 'r1')).toEqual(counts(3, 0, 0));
    expect(await load(t, [src('bitcoin', T1, 101, '19000000.5', 1), b1[1]], 'scd2', 'r2')).toEqual(counts(0, 1, 1));
    const versions = await s.query(`SELECT asset_id, price, is_current, valid_to FROM ${s.dialect.table(t.schema, t.name)} ORDER BY asset_id, valid_from`);
    expect(versions).toEqual([
      { asset_id: 'bitcoin', price: 100, is_current: false, valid_to: loadedAt('r2') },
      { asset_id: 'bitcoin', price: 101, is_current: true, valid_to: null },
      { asset_id: 'ethereum', price: 10, is_current: true, valid_to: null },
      { asset_id: 'tether', price: 1, is_current: false, valid_to: loadedAt('r2') },
    ]);
  });

  it('the deprecated `bigquery load` path: curated assets merged once; a second load changes nothing', async () => {
    env = await spineEnv('duckdb');
    await env.run('coincap.assets');
    const files = (await env.lake.list(['curated', 'coincap_assets'])).map((f) => env!.lake.resolve(f.split('/')));
    const [{ n }] = await env.session.query<{ n: number }>('SELECT count(*) AS n FROM coinlake.coincap_assets');
    const first = await loadCuratedFiles(s, assetsTable, 'merge', files, 'live1');
    expect([first.stagedRows, first.changed]).toEqual([n, n]);
    const again = await loadCuratedFiles(s, assetsTable, 'merge', files, 'live2');
    expect(again.changed).toBe(0);
    const [{ c }] = await s.query<{ c: number }>(`SELECT count(*) AS c FROM ${s.dialect.table('coinlake', 'coincap_assets')}`);
    expect(c).toBe(n);
  });
});
