// The BigQuery conformance run against the real service. It runs only when GOOGLE_APPLICATION_CREDENTIALS and
// COINLAKE_BQ_PROJECT are set (it cannot run on this machine or in CI, which have no Google access) and is reported
// as skipped otherwise. It loads what a real run put in the lake into a throwaway dataset, twice, and compares counts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleBigQueryPort, loadToBigQuery, type BigQueryPort } from '../src/destinations/bigquery/bigquery-loader.ts';
import { assetsTable } from '../src/sources/coincap/coincap-tables.ts';
import { spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const LIVE = Boolean(process.env.GOOGLE_APPLICATION_CREDENTIALS && process.env.COINLAKE_BQ_PROJECT);
const projectId = process.env.COINLAKE_BQ_PROJECT ?? '';
const datasetId = `coinlake_ci_${randomBytes(4).toString('hex')}`;

describe.skipIf(!LIVE)('BigQuery live conformance (needs GOOGLE_APPLICATION_CREDENTIALS and COINLAKE_BQ_PROJECT)', () => {
  let env: SpineEnv;
  let port: BigQueryPort;
  beforeAll(async () => {
    env = await spineEnv('duckdb');
    port = await googleBigQueryPort(projectId);
  });
  afterAll(async () => {
    await port?.query(`DROP SCHEMA IF EXISTS \`${projectId}.${datasetId}\` CASCADE`, 'US').catch(() => undefined);
    await env?.close();
  });

  it('merge loads the curated assets once; a second load changes nothing', async () => {
    await env.run('coincap.assets');
    const files = (await env.lake.list(['curated', 'coincap_assets'])).map((f) => env.lake.resolve(f.split('/')));
    const [{ n }] = await env.session.query<{ n: number }>('SELECT count(*) AS n FROM coinlake.coincap_assets');
    const first = await loadToBigQuery({ port, projectId, datasetId, table: assetsTable, mode: 'merge', files, runId: 'live1' });
    expect([first.stagedRows, first.affectedRows]).toEqual([n, n]);
    const again = await loadToBigQuery({ port, projectId, datasetId, table: assetsTable, mode: 'merge', files, runId: 'live2' });
    expect(again.affectedRows).toBe(0);
    const { rows } = await port.query(`SELECT count(*) AS n FROM \`${projectId}.${datasetId}.coincap_assets\``, 'US');
    expect(Number(rows[0].n)).toBe(n);
  });
});
