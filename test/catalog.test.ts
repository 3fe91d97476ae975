// The metadata-driven catalog as users run it: CLI subprocesses in a temp dir, a real DuckDB file, the replay
// server (in the CLI with --replay, or in this process when a test needs to change data or see request headers).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { startReplayServer, type ReplayServer } from '../src/replay/index.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/coincap-v2/${name}.json`, import.meta.url), 'utf8'));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-catalog-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `dir` with a clean coinlake environment; `input` is piped to stdin. */
function coinlake(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', COINLAKE_SECRET_KEY: '', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Opens a warehouse file of the test dir for a few queries, then closes it (the CLI needs the lock back). */
async function inWarehouse<T>(file: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openWarehouse(path.join(dir, file));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Every row of every coinlake_meta table, and the sequences' positions. */
async function metaSnapshot(s: Session, tables?: string[]): Promise<Record<string, unknown[]>> {
  const names = tables ?? (await s.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'coinlake_meta' ORDER BY 1`)).map((r) => r.t);
  const out: Record<string, unknown[]> = {};
  for (const t of names) out[t] = await s.query(`SELECT * FROM coinlake_meta.${t} ORDER BY ALL`);
  if (!tables) out.sequences = await s.query(`SELECT sequence_name, last_value FROM duckdb_sequences() ORDER BY 1`);
  return out;
}

const CATALOG_TABLES = ['ingestion_connection_info', 'ingestion_config', 'ingestion_column_details'];

const SUMMARY = (job: string, n: number, table: string, extra = '') =>
  new RegExp(`^${job.replace('/', '\\/')}: ${n.toLocaleString('en-US')} rows into coinlake\\.${table} \\(${n} inserted, 0 updated, 0 deleted${extra}\\) from \\d+ page\\(s\\) in \\d+\\.\\d s — run \\S+ \\(process \\d+\\)\\n$`);

describe('the five classic commands', () => {
  it('each loads its table against the replay server, with run history and state keyed by connection and asset', async () => {
    const jobs: [string, string, string, number][] = [
      ['COINCAP_ASSET', 'EXTERNAL_COINCAP_ASSETS', 'coincap_assets', 100],
      ['COINCAP_BITCOIN_HISTORY', 'EXTERNAL_COINCAP_BITCOIN_HISTORY', 'coincap_asset_history', 744],
      ['COINCAP_EXCHANGES', 'EXTERNAL_COINCAP_EXCHANGES', 'coincap_exchanges', 100],
      ['COINCAP_RATES', 'EXTERNAL_COINCAP_RATES', 'coincap_rates', 192],
      ['COINCAP_MARKETS', 'EXTERNAL_COINCAP_MARKETS', 'coincap_markets', 100],
    ];
    for (const [connection, asset, table, rows] of jobs) {
      const r = await coinlake(['--replay', 'run', '-s', connection, '-a', asset]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(SUMMARY(`${connection}/${asset}`, rows, table));
    }
    await inWarehouse('warehouse.duckdb', async (s) => {
      for (const [, , table, rows] of jobs) {
        const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${table}`);
        expect([table, Number(n)]).toEqual([table, rows]);
      }
      const runs = await s.query(`SELECT connection_name, table_name, execution_status, rows_loaded, rows_quarantined FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
      expect(runs).toEqual(jobs.map(([connection_name, table_name, , rows]) => ({ connection_name, table_name, execution_status: 1, rows_loaded: rows, rows_quarantined: 0 })));
      // Column details renamed the source fields.
      const btc = fixture('assets').find((a: { id: string }) => a.id === 'bitcoin');
      const [row] = await s.query<Record<string, unknown>>(`SELECT volume_usd_24hr, max_supply, rank FROM coinlake.coincap_assets WHERE id = 'bitcoin'`);
      expect(row).toEqual({ volume_usd_24hr: Number(btc.volumeUsd24Hr), max_supply: Number(btc.maxSupply), rank: 1 });
      const state = await s.query<{ connection_name: string; table_name: string; state: string }>(`SELECT connection_name, table_name, state FROM coinlake_meta.ingestion_state`);
      expect(state.map((x) => [x.connection_name, x.table_name, JSON.parse(x.state)])).toEqual([
        ['COINCAP_BITCOIN_HISTORY', 'EXTERNAL_COINCAP_BITCOIN_HISTORY', { watermark: Date.parse('2024-12-31T23:00:00Z') }],
      ]);
    });
  });

  it('-l debug --print-log prints debug lines to the console; a rerun resumes from the watermark', async () => {
    const r = await coinlake(['--replay', 'run', '-s', 'COINCAP_BITCOIN_HISTORY', '-a', 'EXTERNAL_COINCAP_BITCOIN_HISTORY', '-l', 'debug', '--print-log']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(SUMMARY('COINCAP_BITCOIN_HISTORY/EXTERNAL_COINCAP_BITCOIN_HISTORY', 744, 'coincap_asset_history'));
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d info  run started job=COINCAP_BITCOIN_HISTORY\/EXTERNAL_COINCAP_BITCOIN_HISTORY /m);
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d debug GET url=http:\/\/127\.0\.0\.1:\d+\/v2\/assets\/bitcoin\/history\?interval=h1&start=1733011200000&end=\d+ /m);
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d debug page landed page=1 /m);
    const again = await coinlake(['--replay', 'run', '-s', 'COINCAP_BITCOIN_HISTORY', '-a', 'EXTERNAL_COINCAP_BITCOIN_HISTORY', '-l', 'info', '--print-log']);
    expect(again.stdout).toMatch(/: 0 rows into coinlake\.coincap_asset_history \(0 inserted, 0 updated, 0 deleted\)/);
    expect(again.stderr).toMatch(/ info  resuming from committed state state=\{"watermark":1735686000000\}$/m);
    expect(again.stderr).not.toMatch(/ debug /);
  });

  it('-s and -a go together; unknown names list what exists', async () => {
    const half = await coinlake(['run', '-s', 'COINCAP_ASSET']);
    expect([half.code, half.stderr]).toEqual([1, [
      'error: -s CONNECTION and -a ASSET go together, e.g. `coinlake run -s COINCAP_ASSET -a EXTERNAL_COINCAP_ASSETS`',
      'hint: `coinlake catalog list` shows the connections and their assets; `coinlake run --help` the options\n',
    ].join('\n')]);
    const wrong = await coinlake(['run', '-s', 'COINCAP_ASSET', '-a', 'EXTERNAL_COINCAP_RATES']);
    expect([wrong.code, wrong.stderr]).toEqual([
      1,
      'error: connection COINCAP_ASSET has no asset "EXTERNAL_COINCAP_RATES" (-a) in coinlake_meta.ingestion_config\n' +
        'hint: EXTERNAL_COINCAP_RATES belongs to COINCAP_RATES: coinlake run -s COINCAP_RATES -a EXTERNAL_COINCAP_RATES\n',
    ]);
  });
});

describe('setup and the catalog commands', () => {
  const SETUP = (added: boolean) =>
    [
      'setup complete on ./warehouse.duckdb: schemas coinlake, coinlake_meta',
      'catalog from the built-in catalog:',
      'table                      added  updated  unchanged  removed',
      '-------------------------  -----  -------  ---------  -------',
      added ? 'ingestion_connection_info  5      0        0          0' : 'ingestion_connection_info  0      0        5          0',
      added ? 'ingestion_config           5      0        0          0' : 'ingestion_config           0      0        5          0',
      added ? 'ingestion_column_details   47     0        0          0' : 'ingestion_column_details   0      0        47         0',
      '',
    ].join('\n');

  it('setup loads the built-in catalog; running it again changes nothing', async () => {
    const first = await coinlake(['setup']);
    expect(first).toEqual({ code: 0, stdout: SETUP(true), stderr: '' });
    const before = await inWarehouse('warehouse.duckdb', (s) => metaSnapshot(s));
    expect(Object.keys(before)).toEqual(expect.arrayContaining([...CATALOG_TABLES, 'change_event', 'ingestion_state', 'sequences', 'workflow_action_history', 'workflow_audit_details']));
    expect(before.ingestion_column_details).toHaveLength(47);
    const second = await coinlake(['setup']);
    expect(second).toEqual({ code: 0, stdout: SETUP(false), stderr: '' });
    expect(await inWarehouse('warehouse.duckdb', (s) => metaSnapshot(s))).toEqual(before);
  });

  it('list, show and validate read the catalog in coinlake_meta', async () => {
    const empty = await coinlake(['catalog', 'list']);
    expect(empty.stdout).toBe('(no rows)\nthe catalog in coinlake_meta is empty; `coinlake setup` loads the built-in catalog\n');
    await coinlake(['setup']);
    const list = await coinlake(['catalog', 'list']);
    expect(list.stdout.split('\n').slice(0, 3)).toEqual([
      'connection               asset                             target_table           source                 load  write_mode  columns  enabled  secret',
      '-----------------------  --------------------------------  ---------------------  ---------------------  ----  ----------  -------  -------  ------',
      'COINCAP_ASSET            EXTERNAL_COINCAP_ASSETS           coincap_assets         coincap.assets         FULL  replace     14       yes      no',
    ]);
    expect(list.stdout).toContain('COINCAP_BITCOIN_HISTORY  EXTERNAL_COINCAP_BITCOIN_HISTORY  coincap_asset_history  coincap.asset_history  INCR  merge       4        yes      no');
    const show = await coinlake(['catalog', 'show', 'EXTERNAL_COINCAP_ASSETS']);
    expect(show.stdout.split('\n')[0]).toBe('EXTERNAL_COINCAP_ASSETS — connection COINCAP_ASSET');
    expect(show.stdout).toMatch(/^write_mode +replace \(from FULL\)$/m);
    expect(show.stdout).toMatch(/^8 +volumeUsd24Hr +volume_usd_24hr +DOUBLE +true$/m);
    const validate = await coinlake(['catalog', 'validate']);
    expect(validate).toEqual({ code: 0, stdout: 'coinlake_meta on ./warehouse.duckdb: catalog OK — 5 connections, 5 ingestions, 47 column details\n', stderr: '' });
    await writeFile(path.join(dir, 'broken.yaml'), 'connections: [{ name: C }]\ningestions:\n  - { connection: C, asset: A, target_table: t, source: coincap.rates, load_type: INCR }\n');
    const broken = await coinlake(['catalog', 'validate', 'broken.yaml']);
    expect([broken.code, broken.stderr]).toEqual([1, 'error: broken.yaml: ingestions[0] (C/A): load_type INCR needs a stream that keeps a watermark, and coincap.rates keeps none; expected load_type FULL\n']);
  });

  it('validate, import and setup refuse a quality check on a column the table does not have, naming check, table and column', async () => {
    await writeFile(
      path.join(dir, 'checks.yaml'),
      `connections: [{ name: C }]
ingestions:
  - connection: C
    asset: RATES
    target_table: rates_x
    source: coincap.rates
    checks:
      - { type: not_null, columns: [id, nope] }
  - connection: C
    asset: TYPED
    target_table: typed_x
    source: coincap.rates
    primary_key: [rate_id]
    columns:
      - { column_name: id, mapping_column: rate_id, datatype: VARCHAR }
      - { column_name: rateUsd, mapping_column: rate_usd, datatype: "DECIMAL(30,16)" }
    checks:
      - { type: accepted_range, column: rate_usd, gt: 0 }
      - { type: freshness, column: rateUsd, max_age: 1h, name: fresh_rates }
`,
    );
    const expected =
      'error: checks.yaml: ingestions[0] (C/RATES): check not_null(id,nope) on coinlake.rates_x names unknown column(s) nope; ' +
      'columns of the table: id, symbol, currency_symbol, type, rate_usd, snapshot_time\n' +
      'checks.yaml: ingestions[1] (C/TYPED): check fresh_rates on coinlake.typed_x names unknown column(s) rateUsd; columns of the table: rate_id, rate_usd\n';
    expect(await coinlake(['catalog', 'validate', 'checks.yaml'])).toEqual({ code: 1, stdout: '', stderr: expected });
    for (const warehouse of ['warehouse.duckdb', 'postgres']) {
      const db = warehouse === 'postgres' ? await createTestDatabase() : undefined;
      try {
        const at = ['--warehouse', db ? db.url : warehouse];
        expect(await coinlake([...at, 'catalog', 'import', 'checks.yaml'])).toEqual({ code: 1, stdout: '', stderr: expected });
        expect(await coinlake([...at, '-p', 'checks.yaml', 'setup'])).toMatchObject({ code: 1, stderr: expected });
        expect((await coinlake([...at, 'catalog', 'list'])).stdout).toBe('(no rows)\nthe catalog in coinlake_meta is empty; `coinlake setup` loads the built-in catalog\n');
      } finally {
        await db?.drop();
      }
    }
  });

  it('checks declared in the catalog run with every load; an error-severity failure exits 1 and the run says so', async () => {
    await writeFile(
      path.join(dir, 'coinlake.yaml'),
      `connections:
  - { name: CHECKED }
ingestions:
  - connection: CHECKED
    asset: RATES_CHECKED
    target_table: rates_checked
    source: coincap.rates
    checks:
      - { type: not_null, columns: [id] }
      - { type: accepted_range, column: rate_usd, gt: 1, severity: error, name: rate_above_one }
`,
    );
    const r = await coinlake(['--replay', 'run', '-s', 'CHECKED', '-a', 'RATES_CHECKED']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^CHECKED\/RATES_CHECKED: 192 rows into coinlake\.rates_checked /);
    expect(r.stderr).toMatch(/^error: quality checks failed for coinlake\.rates_checked: .*rate_above_one.*\nhint: the data is committed; run `coinlake check` for details\n$/);
    const st = await coinlake(['status']);
    expect(st.stdout).toMatch(/CHECKED\s+RATES_CHECKED\s+FAILED-QUALITY/);
    const results = await inWarehouse('warehouse.duckdb', (s) =>
      s.query<{ check_name: string; status: string }>(`SELECT check_name, status FROM coinlake_meta.quality_result ORDER BY check_name`),
    );
    expect(results.map((x) => [x.check_name, x.status])).toEqual([['not_null(id)', 'pass'], ['rate_above_one', 'fail']]);
    expect(await inWarehouse('warehouse.duckdb', (s) => s.query(`SELECT count(*) AS n FROM coinlake.rates_checked`))).toEqual([{ n: 192 }]);
  });

  it('export then import into another warehouse gives identical tables', async () => {
    const key = randomBytes(32).toString('hex');
    await writeFile(
      path.join(dir, 'coinlake.yaml'),
      `connections:
  - { name: EXTRA, url: "http://127.0.0.1:9/v2", auth_type: bearer, user_name: me }
ingestions:
  - connection: EXTRA
    asset: RATES_COPY
    target_table: rates_copy
    source: coincap.rates
    params: { limit: 50 }
    load_type: FULL
    write_mode: merge
    on_missing: fail
    schedule: "*/15 * * * *"
    checks:
      - { type: accepted_range, column: rate_usd, gt: 0 }
    columns:
      - { column_name: id, mapping_column: id, datatype: VARCHAR }
      - { column_name: rateUsd, mapping_column: rate_usd, datatype: "DECIMAL(30,16)", is_nullable: false }
`,
    );
    expect((await coinlake(['--warehouse', 'a.duckdb', 'setup'])).code).toBe(0);
    const secret = await coinlake(['--warehouse', 'a.duckdb', 'catalog', 'set-secret', 'EXTRA'], { input: 'token-123456\n', env: { COINLAKE_SECRET_KEY: key } });
    expect(secret).toEqual({ code: 0, stdout: 'secret of connection EXTRA stored in coinlake_meta.ingestion_connection_info (AES-256-GCM)\n', stderr: '' });
    const exported = await coinlake(['--warehouse', 'a.duckdb', 'catalog', 'export', 'catalog.yaml']);
    expect(exported).toEqual({ code: 0, stdout: 'exported 1 connections, 1 ingestions, 2 column details from coinlake_meta on a.duckdb to catalog.yaml\n', stderr: '' });
    const text = await readFile(path.join(dir, 'catalog.yaml'), 'utf8');
    expect(text).toMatch(/^    secret_encrypted: v1:\S+$/m);
    expect(text).toContain('      - { column_name: rateUsd, mapping_column: rate_usd, datatype: "DECIMAL(30,16)", ordinal_position: 2, is_nullable: false }');
    const imported = await coinlake(['--warehouse', 'b.duckdb', 'catalog', 'import', 'catalog.yaml']);
    expect(imported.stdout).toBe(
      [
        'imported catalog.yaml into coinlake_meta on b.duckdb:',
        'table                      added  updated  unchanged  removed',
        '-------------------------  -----  -------  ---------  -------',
        'ingestion_connection_info  1      0        0          0',
        'ingestion_config           1      0        0          0',
        'ingestion_column_details   2      0        0          0',
        '',
      ].join('\n'),
    );
    const a = await inWarehouse('a.duckdb', (s) => metaSnapshot(s, CATALOG_TABLES));
    const b = await inWarehouse('b.duckdb', (s) => metaSnapshot(s, CATALOG_TABLES));
    expect(b).toEqual(a);
    expect(a.ingestion_connection_info).toHaveLength(1);
    await coinlake(['--warehouse', 'b.duckdb', 'catalog', 'export', 'again.yaml']);
    expect(await readFile(path.join(dir, 'again.yaml'), 'utf8')).toBe(text);
  });
});

describe('INI config files', () => {
  it('[COMMON] is merged into the -s section: its empty warehouse falls back, its own lake wins', async () => {
    await writeFile(
      path.join(dir, 'config.ini'),
      `; the classic form
[COMMON]
warehouse = ./wh/common.duckdb
lake = ./lake-common
log_level = info

[COINCAP_RATES]
warehouse =
lake = ./lake-rates
`,
    );
    await mkdir(path.join(dir, 'wh'));
    const r = await coinlake(['--replay', 'run', '-s', 'COINCAP_RATES', '-a', 'EXTERNAL_COINCAP_RATES']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(SUMMARY('COINCAP_RATES/EXTERNAL_COINCAP_RATES', 192, 'coincap_rates'));
    expect(await readdir(path.join(dir, 'lake-rates'))).toEqual(expect.arrayContaining(['logs', 'raw', 'curated']));
    const n = await inWarehouse('wh/common.duckdb', async (s) => Number((await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.coincap_rates`))[0].n));
    expect(n).toBe(192);
  });

  it('missing required keys are one error listing all of them', async () => {
    await writeFile(path.join(dir, 'classic.ini'), '[COMMON]\nlog_level = debug\n\n[COINCAP_RATES]\nwarehouse =\n');
    const r = await coinlake(['-p', 'classic.ini', 'run', '-s', 'COINCAP_RATES', '-a', 'EXTERNAL_COINCAP_RATES']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: classic.ini: [COINCAP_RATES] is missing required keys: warehouse, lake\n' +
        'hint: set them in [COINCAP_RATES] or in [COMMON] (an empty value in [COINCAP_RATES] falls back to [COMMON])\n',
    });
  });
});

describe('column details against changed source data', () => {
  let replay: ReplayServer;
  beforeAll(async () => {
    replay = await startReplayServer();
    const rates = replay.getData('rates');
    rates[0] = { ...rates[0], rateUsd: 'n/a' };
    delete rates[1].rateUsd;
    rates[2] = { ...rates[2], listedAt: '2025-01-01' };
    replay.setData('rates', rates);
  });
  afterAll(async () => replay?.close());

  const yaml = () => `warehouse: ./warehouse.duckdb
lake: ./lake
connections:
  - { name: TEST_RATES, url: "${replay.coincapV2Url}", auth_type: bearer }
ingestions:
  - connection: TEST_RATES
    asset: RATES_TYPED
    target_table: typed_rates
    source: coincap.rates
    primary_key: [rate_id]
    columns:
      - { column_name: id, mapping_column: rate_id, datatype: VARCHAR, ordinal_position: 1 }
      - { column_name: rateUsd, mapping_column: rate_usd, datatype: "DECIMAL(30,16)", ordinal_position: 2 }
      - { column_name: symbol, mapping_column: symbol, datatype: VARCHAR, ordinal_position: 3 }
      - { column_name: currencySymbol, mapping_column: currency_symbol, datatype: VARCHAR, ordinal_position: 4 }
      - { column_name: type, mapping_column: rate_type, datatype: VARCHAR, ordinal_position: 5 }
      - { column_name: timestamp, mapping_column: snapshot_time, datatype: TIMESTAMPTZ, ordinal_position: 6 }
  - connection: TEST_RATES
    asset: RATES_STRICT
    target_table: strict_rates
    source: coincap.rates
    on_missing: fail
`;

  it('a value that fails its cast is NULL, quarantined with its raw value and reason, counted in the run row; drift is reported', async () => {
    await writeFile(path.join(dir, 'coinlake.yaml'), yaml());
    const r = await coinlake(['run', '-s', 'TEST_RATES', '-a', 'RATES_TYPED']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(SUMMARY('TEST_RATES/RATES_TYPED', 192, 'typed_rates', ', 1 quarantined'));
    const recorded = fixture('rates');
    const { run, rows, columns } = await inWarehouse('warehouse.duckdb', async (s) => ({
      run: (await s.query<Record<string, unknown>>(`SELECT * FROM coinlake_meta.workflow_action_history`))[0],
      rows: await s.query<Record<string, unknown>>(`SELECT rate_id, rate_usd, rate_type FROM coinlake.typed_rates`),
      columns: await s.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'coinlake' AND table_name = 'typed_rates' ORDER BY ordinal_position`),
    }));
    expect(columns).toEqual([
      { column_name: 'rate_id', data_type: 'VARCHAR' },
      { column_name: 'rate_usd', data_type: 'DECIMAL(30,16)' },
      { column_name: 'symbol', data_type: 'VARCHAR' },
      { column_name: 'currency_symbol', data_type: 'VARCHAR' },
      { column_name: 'rate_type', data_type: 'VARCHAR' },
      { column_name: 'snapshot_time', data_type: 'TIMESTAMP WITH TIME ZONE' },
      { column_name: '_run_id', data_type: 'VARCHAR' },
      { column_name: '_loaded_at', data_type: 'TIMESTAMP WITH TIME ZONE' },
    ]);
    const byId = new Map(rows.map((x) => [x.rate_id, x]));
    expect(byId.get(recorded[0].id)).toEqual({ rate_id: recorded[0].id, rate_usd: null, rate_type: recorded[0].type });
    expect(byId.get(recorded[1].id)?.rate_usd).toBeNull();
    // Every other value is exact: the DECIMAL holds the source text.
    expect(recorded.slice(2).every((x: { id: string; rateUsd: string }) => byId.get(x.id)?.rate_usd === x.rateUsd)).toBe(true);
    expect(run).toMatchObject({ connection_name: 'TEST_RATES', table_name: 'RATES_TYPED', execution_status: 1, rows_extracted: 192, rows_loaded: 192, rows_quarantined: 1 });
    const details = JSON.parse(String(run.details));
    expect([details.unknownFields, details.missingFields]).toEqual([['listedAt'], ['rateUsd']]);
    const quarantine = JSON.parse(String(run.lake_paths)).filter((p: string) => p.startsWith('quarantine/'));
    expect(quarantine).toEqual([`quarantine/typed_rates/${run.run_id}.jsonl`]);
    const lines = (await readFile(path.join(dir, 'lake', quarantine[0]), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { table: 'typed_rates', field: 'rateUsd', value: 'n/a', reason: '"n/a" is not a decimal', record: { ...recorded[0], rateUsd: 'n/a', timestamp: expect.any(Number) }, origin: `${replay.coincapV2Url}/rates` },
    ]);
    const log = await readFile(String(run.log_path), 'utf8');
    expect(log).toContain('"fields":["listedAt"],"msg":"source sent fields the table does not map (kept in the raw lake)"');
    expect(log).toContain('"fields":["rateUsd"],"msg":"expected fields were missing; loaded as NULL"');
    // The raw lake keeps the unknown field as received.
    const raw = JSON.parse(String(run.lake_paths)).find((p: string) => p.startsWith('raw/'));
    expect(JSON.parse(gunzipSync(await readFile(path.join(dir, 'lake', raw))).toString()).data[2].listedAt).toBe('2025-01-01');
  });

  it('a missing field under on_missing: fail fails the run cleanly', async () => {
    await writeFile(path.join(dir, 'coinlake.yaml'), yaml());
    const r = await coinlake(['run', '-s', 'TEST_RATES', '-a', 'RATES_STRICT']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const message = `field "rateUsd" is missing from a record of strict_rates (${replay.coincapV2Url}/rates)`;
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: ${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\nhint: the source changed its schema; update the column details or set on_missing: null\\nrun \\S+ \\(process 1\\) failed; log: \\S+\\.log\\n$`,
      ),
    );
    await inWarehouse('warehouse.duckdb', async (s) => {
      const runs = await s.query(`SELECT table_name, execution_status, rows_loaded, error_message FROM coinlake_meta.workflow_action_history`);
      expect(runs).toEqual([{ table_name: 'RATES_STRICT', execution_status: -1, rows_loaded: 0, error_message: message }]);
      const tables = await s.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'coinlake'`);
      expect(tables).toEqual([]);
    });
  });
});

describe('connection secrets', () => {
  const SECRET = `cl-live-${randomBytes(12).toString('hex')}`;
  const WRONG = `cl-wrong-${randomBytes(12).toString('hex')}`;
  const KEY = randomBytes(32).toString('hex');
  let replay: ReplayServer;
  beforeAll(async () => {
    replay = await startReplayServer({ apiKey: SECRET });
  });
  afterAll(async () => replay?.close());

  async function allFiles(root: string): Promise<string[]> {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  }

  it('is sent as the Bearer token the server sees, and appears in no log, lake file, output or error', async () => {
    await writeFile(
      path.join(dir, 'coinlake.yaml'),
      `connections:
  - { name: SECURE_RATES, url: "${replay.coincapV3Url}", auth_type: bearer }
ingestions:
  - { connection: SECURE_RATES, asset: RATES, target_table: secure_rates, source: coincap.rates }
`,
    );
    const env = { COINLAKE_SECRET_KEY: KEY };
    const outputs: Result[] = [];
    const cli = async (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) => {
      const r = await coinlake(args, opts);
      outputs.push(r);
      return r;
    };
    expect((await cli(['setup'])).code).toBe(0);
    const noKey = await cli(['catalog', 'set-secret', 'SECURE_RATES'], { input: SECRET });
    expect([noKey.code, noKey.stderr.split('\n')[0]]).toEqual([1, 'error: COINLAKE_SECRET_KEY is not set']);
    const badKey = await cli(['catalog', 'set-secret', 'SECURE_RATES'], { input: SECRET, env: { COINLAKE_SECRET_KEY: 'abc123' } });
    expect([badKey.code, badKey.stderr.split('\n')[0]]).toEqual([1, 'error: COINLAKE_SECRET_KEY must be 32 bytes (64 hex characters or base64)']);
    const set = await cli(['catalog', 'set-secret', 'SECURE_RATES'], { input: `${SECRET}\n`, env });
    expect(set).toEqual({ code: 0, stdout: 'secret of connection SECURE_RATES stored in coinlake_meta.ingestion_connection_info (AES-256-GCM)\n', stderr: '' });

    const run = await cli(['run', '-s', 'SECURE_RATES', '-a', 'RATES', '-l', 'debug', '--print-log'], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(SUMMARY('SECURE_RATES/RATES', 192, 'secure_rates'));
    expect(run.stderr).toMatch(/debug GET url=http:\/\/127\.0\.0\.1:\d+\/v3\/rates headers=\{[^}]*"authorization":"\*\*\*"/);
    expect(replay.requests.map((q) => [q.path, q.headers.authorization, q.status])).toEqual([['/v3/rates', `Bearer ${SECRET}`, 200]]);

    // Without the key, with another key, or with a changed ciphertext: a clear error, no run.
    const missing = await cli(['run', '-s', 'SECURE_RATES', '-a', 'RATES']);
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([1, 'error: COINLAKE_SECRET_KEY is not set']);
    const other = await cli(['run', '-s', 'SECURE_RATES', '-a', 'RATES'], { env: { COINLAKE_SECRET_KEY: randomBytes(32).toString('base64') } });
    expect([other.code, other.stderr]).toEqual([
      1,
      'error: cannot decrypt the secret of connection SECURE_RATES: wrong COINLAKE_SECRET_KEY or tampered ciphertext\n' +
        'hint: set the key the secret was stored with, or store it again: coinlake catalog set-secret SECURE_RATES\n',
    ]);
    await inWarehouse('warehouse.duckdb', (s) =>
      s.exec(`UPDATE coinlake_meta.ingestion_connection_info SET secret_encrypted = regexp_replace(secret_encrypted, '.$', CASE WHEN right(secret_encrypted, 1) = 'A' THEN 'B' ELSE 'A' END)`),
    );
    const tampered = await cli(['run', '-s', 'SECURE_RATES', '-a', 'RATES'], { env });
    expect([tampered.code, tampered.stderr.split('\n')[0]]).toEqual([1, 'error: cannot decrypt the secret of connection SECURE_RATES: wrong COINLAKE_SECRET_KEY or tampered ciphertext']);

    // A wrong secret: the server refuses it, and the error does not repeat it.
    await cli(['catalog', 'set-secret', 'SECURE_RATES'], { input: WRONG, env });
    const refused = await cli(['run', '-s', 'SECURE_RATES', '-a', 'RATES', '-l', 'debug', '--print-log'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v3\/rates: \{"error":"Unauthorized"\}\nhint: check the API key of this connection\nrun /m);
    expect(replay.requests.at(-1)?.headers.authorization).toBe(`Bearer ${WRONG}`);
    expect((await cli(['catalog', 'export', 'catalog.yaml'])).code).toBe(0);

    // Nothing the project wrote or printed holds either secret.
    const texts = outputs.flatMap((o) => [o.stdout, o.stderr]);
    for (const file of await allFiles(dir)) {
      if (file.endsWith('coinlake.yaml')) continue;
      const bytes = await readFile(file);
      texts.push(file.endsWith('.gz') ? gunzipSync(bytes).toString('latin1') : bytes.toString('latin1'));
    }
    const files = await allFiles(dir);
    expect(files.some((f) => f.endsWith('.log'))).toBe(true);
    expect(files.some((f) => /raw\/coincap\/rates\/.*\.json\.gz$/.test(f))).toBe(true);
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    for (const t of texts) {
      expect(t.includes(SECRET)).toBe(false);
      expect(t.includes(WRONG)).toBe(false);
    }
    expect(texts.join('\n')).toContain('***');
  }, 180_000); // ten CLI processes in a row: a hang guard, generous for a loaded machine
});
