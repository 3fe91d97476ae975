// `coinlake run --warehouse bigquery://…` end to end through the binary: Google's client talks to the loopback fake of
// BigQuery's REST API (BIGQUERY_EMULATOR_HOST, token from its GCE metadata endpoint), which executes the jobs on an
// in-memory DuckDB and refuses SQL BigQuery would refuse (test/helpers/bigquery-duckdb-engine.ts). The same runs go
// into a DuckDB warehouse file; the rows, run rows, change events and state read back from the fake must be theirs.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { openBigQuerySession } from '../src/destinations/bigquery/index.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { bigQueryDuckdbEngine, type BigQueryDuckdbEngine } from './helpers/bigquery-duckdb-engine.ts';
import { fakeBigQuery, type FakeBigQuery } from './helpers/bigquery-fake-api.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const BQ = 'bigquery://coinlake-demo/analytics';
let dir: string;
let engine: BigQueryDuckdbEngine;
let fake: FakeBigQuery;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bq-run-'));
  engine = await bigQueryDuckdbEngine();
  fake = await fakeBigQuery((sql, params) => engine.query(sql, params), (data, load) => engine.load(data, load));
});
afterAll(async () => {
  await fake?.close();
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The binary offline (--replay) into `warehouse`, with BigQuery's client pointed at the fake. */
function coinlake(warehouse: string, args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COINLAKE_WAREHOUSE: '',
    COINLAKE_LAKE: '',
    COINLAKE_REPLAY: '',
    COINCAP_API_KEY: '',
    HOME: dir, // no gcloud credentials file
    BIGQUERY_EMULATOR_HOST: fake.url,
    GCE_METADATA_HOST: fake.url.replace('http://', ''),
  };
  delete env.GOOGLE_APPLICATION_CREDENTIALS;
  return run(process.execPath, [BIN, '--replay', '--warehouse', warehouse, ...args], { cwd: dir, env, timeout: 120_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** A session on the fake, in this process. */
function bigquery(): Promise<Session> {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'fake-token', expiry_date: Date.now() + 3_600_000 });
  const client = new BigQuery({ projectId: 'coinlake-demo', location: 'US', apiEndpoint: fake.url, authClient: auth as never, autoRetry: false });
  return openBigQuerySession(BQ, { client });
}

/** The run id and process id a `coinlake run` summary line names. */
function summary(stdout: string): { runId: string; processId: number } {
  const m = / — run (\S+) \(process (\d+)\)\n$/.exec(stdout);
  if (!m) throw new TypeError(`no run in ${JSON.stringify(stdout)}`);
  return { runId: m[1], processId: Number(m[2]) };
}

const ASSET_COLUMNS = ['id', 'rank', 'symbol', 'name', 'supply', 'max_supply', 'market_cap_usd', 'volume_usd_24hr', 'price_usd', 'change_percent_24hr', 'vwap_24hr', 'explorer', 'tokens', 'snapshot_time'];

async function assets(s: Session) {
  const d = s.dialect;
  return s.query(`SELECT ${[...ASSET_COLUMNS, '_run_id'].map((c) => d.ident(c)).join(', ')} FROM ${d.table('coinlake', 'coincap_assets')} ORDER BY ${d.ident('id')}`);
}

async function runRows(s: Session) {
  return s.query(
    `SELECT process_id, run_id, connection_name, table_name, execution_status, rows_extracted, rows_loaded, rows_quarantined, error_message
       FROM coinlake_meta.workflow_action_history ORDER BY execution_start_datetime`,
  );
}

async function events(s: Session) {
  return s.query<{ process_id: number; primary_key: string; operation: string; before: string | null; after: string | null; changed_columns: string }>(
    `SELECT process_id, primary_key, operation, "before", "after", changed_columns FROM coinlake_meta.change_event
      WHERE table_name = $1 ORDER BY process_id, primary_key`,
    ['coinlake.coincap_assets'],
  );
}

describe('coinlake run into BigQuery (the executing fake)', () => {
  it('coincap.assets then coincap.asset_history: the rows, run rows, change events and state DuckDB gets, in the URL\'s datasets', async () => {
    const duck = path.join(dir, 'reference.duckdb');
    const first = await coinlake(BQ, ['run', 'coincap.assets']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^coincap\.assets: 100 rows into coinlake\.coincap_assets \(100 inserted, 0 updated, 0 deleted\) from 1 page\(s\) in \d+\.\d s — run \S+ \(process \d+\)\n$/);
    const again = await coinlake(BQ, ['run', 'coincap.assets']);
    expect(again.stdout).toMatch(/^coincap\.assets: 100 rows into coinlake\.coincap_assets \(0 inserted, 0 updated, 0 deleted\) /);
    const history = await coinlake(BQ, ['run', 'coincap.asset_history', '--asset', 'bitcoin', '--from', '2024-01-01', '--to', '2024-01-03']);
    expect(history.stdout).toMatch(/^coincap\.asset_history: 48 rows into coinlake\.coincap_asset_history \(48 inserted, 0 updated, 0 deleted\) /);
    for (const args of [['run', 'coincap.assets'], ['run', 'coincap.assets'], ['run', 'coincap.asset_history', '--asset', 'bitcoin', '--from', '2024-01-01', '--to', '2024-01-03']]) {
      expect((await coinlake(duck, args)).code).toBe(0);
    }
    const runs = [summary(first.stdout), summary(again.stdout), summary(history.stdout)];
    // Ids from BigQuery's clock: safe integers, increasing run by run.
    expect(runs.every((r) => Number.isSafeInteger(r.processId))).toBe(true);
    expect(runs[1].processId).toBeGreaterThan(runs[0].processId);

    const bq = await bigquery();
    const ref = await openWarehouse(duck);
    try {
      // The data: every row and value as DuckDB has it, written by the first run (the second changed nothing). The
      // replay stamps snapshot_time (volatile) with its clock: one instant per run, checked apart.
      const rows = await assets(bq);
      const refRows = await assets(ref);
      expect(rows).toHaveLength(100);
      const stable = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== '_run_id' && k !== 'snapshot_time'));
      expect(rows.map(stable)).toEqual(refRows.map(stable));
      expect(new Set(rows.map((r) => r._run_id))).toEqual(new Set([runs[0].runId]));
      const snapshot = rows[0].snapshot_time as Date;
      expect(rows.every((r) => (r.snapshot_time as Date).getTime() === snapshot.getTime())).toBe(true);

      // The run rows: complete, with their counts, under the ids the CLI printed.
      const refRuns = await runRows(ref);
      expect(await runRows(bq)).toEqual(refRuns.map((r, i) => ({ ...r, process_id: runs[i].processId, run_id: runs[i].runId })));
      expect(refRuns.map((r) => [r.table_name, r.execution_status, r.rows_extracted, r.rows_loaded, r.rows_quarantined])).toEqual([
        ['ASSETS', 1, 100, 100, 0],
        ['ASSETS', 1, 100, 100, 0],
        ['ASSET_HISTORY_BITCOIN_H1', 1, 48, 48, 0],
      ]);

      // The change events: one insert per asset from the first run, none from the rerun, the same JSON text as DuckDB's.
      const got = await events(bq);
      expect(got).toHaveLength(100);
      expect(got.every((e) => e.process_id === runs[0].processId && e.operation === 'insert')).toBe(true);
      const iso = (d: Date) => `${d.toISOString().slice(0, -1)}000Z`;
      const refSnapshot = iso(refRows[0].snapshot_time as Date);
      expect(got.map(({ process_id, ...e }) => e)).toEqual(
        (await events(ref)).map(({ process_id, ...e }) => ({ ...e, after: String(e.after).replace(refSnapshot, iso(snapshot)) })),
      );
      expect(got.find((e) => e.primary_key === '{"id":"bitcoin"}')).toMatchObject({ before: null, changed_columns: expect.stringMatching(/^\["id","rank","symbol",/) });

      // The incremental state, committed with the history run.
      const state = (s: Session) => s.query(`SELECT connection_name, table_name, state, process_id FROM coinlake_meta.ingestion_state`);
      const refState = await state(ref);
      expect(refState).toHaveLength(1);
      expect(await state(bq)).toEqual(refState.map((r) => ({ ...r, process_id: runs[2].processId })));

      // Each run held its job's lease (BigQuery has no named locks) and gave it back when it committed.
      const leases = await bq.query<{ lock_key: string; holder: string | null }>(`SELECT lock_key, holder FROM coinlake_meta.lock_lease ORDER BY lock_key`);
      expect(leases.length).toBeGreaterThan(0);
      expect(leases.filter((l) => l.holder !== null)).toEqual([]);
    } finally {
      await bq.close();
      await ref.close();
    }
    // Everything lives in the URL's datasets: analytics (data) and analytics_meta (meta tables), nothing in coinlake*.
    const datasets = fake.queries.filter((q) => q.startsWith('CREATE SCHEMA')).map((q) => /`coinlake-demo\.([^`]+)`/.exec(q)?.[1]);
    expect([...new Set(datasets)].sort()).toEqual(['analytics', 'analytics_meta']);
  }, 240_000);

  it('backfill binance.klines in chunks: the candles and the committed chunk records DuckDB gets; a rerun skips every chunk', async () => {
    const duck = path.join(dir, 'backfill.duckdb');
    const args = ['backfill', '--job', 'binance.klines', '--symbols', 'BTCUSDT', '--from', '2024-01-01', '--to', '2024-01-02', '--chunk', '6h'];
    const first = await coinlake(BQ, args);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^binance\.klines: 4\/4 chunks \(0 already loaded, 4 now, \d+ commits\), 1,440 rows into coinlake\.ohlcv_1m \(1,440 inserted, 0 updated\) /);
    expect((await coinlake(BQ, args)).stdout).toMatch(/^binance\.klines: 4\/4 chunks \(4 already loaded, 0 now/);
    expect((await coinlake(duck, args)).code).toBe(0);
    const bq = await bigquery();
    const ref = await openWarehouse(duck);
    try {
      const candles = async (s: Session) =>
        (await s.query(`SELECT * FROM ${s.dialect.table('coinlake', 'ohlcv_1m')} ORDER BY 1, 2, 3, 4`)).map(({ _run_id, _loaded_at, ...c }) => c);
      const chunks = (s: Session) => s.query(`SELECT job, chunk_start, chunk_end, status, rows_loaded FROM coinlake_meta.backfill_chunk ORDER BY chunk_start`);
      const got = await candles(bq);
      expect(got).toHaveLength(1440);
      expect(got).toEqual(await candles(ref));
      expect(await chunks(bq)).toEqual(await chunks(ref));
      expect((await chunks(bq)).map((c) => c.rows_loaded)).toEqual([360, 360, 360, 360]);
    } finally {
      await bq.close();
      await ref.close();
    }
  }, 240_000);
});
