// `coinlake bigquery load` through the binary, as a deprecated alias of the bigquery:// destination: BigQuery cannot be
// reached from here, so the client talks to the loopback fake of BigQuery's REST API (BIGQUERY_EMULATOR_HOST) and takes
// its token from the fake's GCE metadata endpoint (GCE_METADATA_HOST). The fake executes nothing; the Parquet it
// receives is read by DuckDB, and every statement and job is compared with what the destination must send.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeBigQuery, type FakeBigQuery } from './helpers/bigquery-fake-api.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;
let fake: FakeBigQuery;

/** Rows of an uploaded Parquet file, as DuckDB reads them. */
async function parquetRows(bytes: Buffer): Promise<number> {
  const file = path.join(dir, `upload-${Date.now()}.parquet`);
  await writeFile(file, bytes);
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    const [[n]] = (await c.runAndReadAll(`SELECT count(*) FROM '${file}'`)).getRows();
    return Number(n);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bq-cli-'));
  fake = await fakeBigQuery((sql) => (sql.startsWith('DECLARE') ? { rows: [{ inserted: 192, updated: 0, deleted: 0 }] } : {}), parquetRows);
});
afterEach(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

function coinlake(args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COINLAKE_WAREHOUSE: '',
    COINLAKE_LAKE: '',
    COINLAKE_REPLAY: '',
    COINLAKE_BQ_PROJECT: '',
    HOME: dir, // no gcloud credentials file
    BIGQUERY_EMULATOR_HOST: fake.url,
    GCE_METADATA_HOST: fake.url.replace('http://', ''),
  };
  delete env.GOOGLE_APPLICATION_CREDENTIALS;
  return run(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

describe('coinlake bigquery load (deprecated alias)', () => {
  it('warns once, then loads the curated Parquet through the bigquery:// destination: staging by load job, MERGE script, staging dropped', async () => {
    expect((await coinlake(['--replay', 'run', 'coincap.rates'])).code).toBe(0);
    const r = await coinlake(['bigquery', 'load', 'coincap_rates', '--project', 'coinlake-demo', '--dataset', 'coinlake_ci']);
    expect(r.stderr).toBe(
      'warning: `coinlake bigquery load` is deprecated: BigQuery is a warehouse like DuckDB and PostgreSQL (--warehouse bigquery://coinlake-demo/coinlake_ci?location=US); this alias loads through that destination\n',
    );
    expect(r.stdout).toBe('`coinlake-demo.coinlake_ci.coincap_rates`: 1 file(s), 192 rows staged, merge changed 192 rows\n');
    expect(r.code).toBe(0);

    const [load] = fake.jobs.filter((j) => j.configuration.load);
    const curated = (await readdir(path.join(dir, 'lake', 'curated', 'coincap_rates'), { recursive: true })).filter((f) => f.endsWith('.parquet'));
    expect(curated).toHaveLength(1);
    expect(load.bytes?.equals(await readFile(path.join(dir, 'lake', 'curated', 'coincap_rates', curated[0])))).toBe(true);
    const staging = (load.configuration.load!.destinationTable as { tableId: string }).tableId.replace(/_files$/, '');
    expect(staging).toMatch(/^_stg_coincap_rates_\d{8}T\d{6}Z_[0-9a-f]{8}_1$/);
    expect(load.configuration.load).toEqual({
      destinationTable: { projectId: 'coinlake-demo', datasetId: 'coinlake_ci', tableId: `${staging}_files` },
      sourceFormat: 'PARQUET',
      writeDisposition: 'WRITE_TRUNCATE',
      createDisposition: 'CREATE_IF_NEEDED',
      parquetOptions: { enableListInference: true },
      location: 'US',
    });
    const stg = `\`coinlake-demo.coinlake_ci.${staging}\``;
    const firstLines = fake.jobs.map((j) => (j.configuration.load ? 'load job' : j.configuration.query!.query.split('\n')[0]));
    expect(firstLines).toEqual([
      "CREATE SCHEMA IF NOT EXISTS `coinlake-demo.coinlake_ci` OPTIONS (location = 'US')",
      'CREATE TABLE IF NOT EXISTS `coinlake-demo.coinlake_ci.coincap_rates` (',
      'SELECT column_name FROM `coinlake-demo.coinlake_ci`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = @p1',
      expect.stringMatching(/^ALTER TABLE `coinlake-demo.coinlake_ci.coincap_rates` ADD COLUMN IF NOT EXISTS `id` STRING, /),
      'load job',
      `CREATE TABLE ${stg} AS`,
      `DROP TABLE IF EXISTS \`coinlake-demo.coinlake_ci.${staging}_files\``,
      'DECLARE inserted, updated, deleted INT64 DEFAULT 0;',
      `DROP TABLE IF EXISTS ${stg}`,
    ]);
    // The newest load numbers last, so it wins a repeated key.
    expect(fake.queries[4]).toBe(`CREATE TABLE ${stg} AS\nSELECT *, ROW_NUMBER() OVER (ORDER BY \`_loaded_at\`, \`_run_id\`) - 1 AS \`_ord\` FROM \`coinlake-demo.coinlake_ci.${staging}_files\``);
    const script = fake.queries[6].split('\n');
    expect(script.slice(2, 5)).toEqual(['CREATE TEMP TABLE _batch AS', `SELECT * EXCEPT (\`_ord\`) FROM ${stg}`, 'WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY `id` ORDER BY `_ord` DESC) = 1;']);
    expect(script).toContain('MERGE `coinlake-demo.coinlake_ci.coincap_rates` AS t');
    // Not a run: no change events, so no meta dataset is needed.
    expect(script.filter((l) => l.includes('change_event'))).toEqual([]);
  });

  it('without a project: one error line, nothing sent', async () => {
    const r = await coinlake(['bigquery', 'load', 'coincap_rates']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error: no BigQuery project: give --project or set COINLAKE_BQ_PROJECT');
    expect(fake.jobs).toEqual([]);
  });
});
