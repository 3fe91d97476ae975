// The BigQuery destination offline: the session's real client talks to a loopback fake of BigQuery's REST API
// (test/helpers/bigquery-fake-api.ts). Every statement and job configuration the destination sends is compared
// exactly with the expected text; and the shared conformance cases run with the fake executing the statements on
// DuckDB (a translation, not BigQuery); the cases BigQuery cannot pass are listed as skipped with the reason.
// test/bigquery-live.test.ts runs against BigQuery when credentials are set.
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoadContext, WriteMode } from '../../core/destination.ts';
import { ConfigError, TerminalError, TransientError } from '../../core/errors.ts';
import type { TableSpec } from '../../core/table.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { clientTableReference, openWarehouse } from '../registry.ts';
import { changeCases } from '../conformance/change-cases.ts';
import { destinationCases } from '../conformance/destination-cases.ts';
import { writeModeCases } from '../conformance/write-mode-cases.ts';
import { bigQueryDuckdbEngine, type BigQueryDuckdbEngine } from '../../../test/helpers/bigquery-duckdb-engine.ts';
import { fakeBigQuery, type FakeAnswer, type FakeBigQuery } from '../../../test/helpers/bigquery-fake-api.ts';
import { BigQuerySession, openBigQuerySession, parseBigQueryLocation } from './index.ts';

const LOCATION = 'bigquery://coinlake-demo/coinlake_ci?location=EU';
let fake: FakeBigQuery;
/** What the fake answers to a query job, set by each test (default: nothing). */
let answer: (sql: string) => FakeAnswer = () => ({});

beforeAll(async () => {
  fake = await fakeBigQuery((sql) => answer(sql));
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  fake.jobs.length = 0;
  answer = () => ({});
});

/** The real client, pointed at a fake, with a token that needs no Google sign-in. */
function client(url = fake.url): BigQuery {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'fake-token', expiry_date: Date.now() + 3_600_000 });
  // No automatic retries: a 503 is the session's TransientError at once, for the caller's retry policy.
  return new BigQuery({ projectId: 'coinlake-demo', location: 'EU', apiEndpoint: url, authClient: auth as never, autoRetry: false });
}

const open = () => openBigQuerySession(LOCATION, { client: client() });

/**
 * The shared cases, executed: the same client and session against the fake backed by an in-memory DuckDB that runs
 * the translated statements and scripts (test/helpers/bigquery-duckdb-engine.ts). The URL's dataset takes the place of
 * `coinlake` in every schema: coinlake_meta is coinlake_ci_meta, coinlake_conformance coinlake_ci_conformance.
 */
describe('shared conformance cases, executed by the DuckDB-backed fake', () => {
  let engine: BigQueryDuckdbEngine;
  let executing: FakeBigQuery;
  beforeAll(async () => {
    engine = await bigQueryDuckdbEngine();
    executing = await fakeBigQuery((sql, params) => engine.query(sql, params), (data, load) => engine.load(data, load));
  });
  afterAll(async () => {
    await executing?.close();
    await engine?.close();
  });
  const openExecuting = () => openBigQuerySession(LOCATION, { client: client(executing.url) });

  writeModeCases(openExecuting, {
    skip: {
      'a failing transaction leaves the table as it was':
        'BigQuery keeps no transaction across jobs (capabilities.transactions false; its session mode, which could, is not used): each write mode is one atomic script, which a later failure does not undo',
    },
  });

  // The cases' own portable SQL (the meta tables' DDL, VARCHAR casts, "quoted" names) reaches the fake in BigQuery's
  // spelling (bigquery-spelling.ts), and the fake refuses what BigQuery would refuse.
  destinationCases('bigquery', openExecuting, {
    skip: {
      stateWithData:
        'BigQuery keeps no transaction across jobs (capabilities.transactions false; its session mode, which could, is not used): the write-mode script commits on its own, before the state and the run row',
      killedMidLoad: 'a BigQuery job has no connection to kill',
    },
  });

  changeCases(openExecuting, {
    skip: {
      'events roll back with the data':
        'BigQuery keeps no transaction across jobs (capabilities.transactions false; its session mode, which could, is not used): the write-mode script commits its events with its rows, and a later failure of the caller does not undo them',
    },
  });
});

const spec: TableSpec = {
  schema: 'coinlake_conformance',
  name: 'wm',
  columns: [
    { name: 'asset_id', type: 'varchar' },
    { name: 'time', type: 'timestamptz' },
    { name: 'price', type: 'double' },
    { name: 'supply', type: 'decimal(20,8)' },
    { name: 'rank', type: 'integer', volatile: true },
  ],
  primaryKey: ['asset_id', 'time'],
  partitionBy: 'time',
};
const ctx: LoadContext = { runId: 'r1', processId: 1, loadedAt: new Date('2024-06-01T12:00:01Z') };
const TARGET = '`coinlake-demo.coinlake_ci_conformance.wm`';
const STAGING = '`coinlake-demo.coinlake_ci_conformance._stg_wm_r1_1`';
const COLS = '`asset_id`, `time`, `price`, `supply`, `rank`, `_run_id`, `_loaded_at`';
const S_COLS = 's.`asset_id`, s.`time`, s.`price`, s.`supply`, s.`rank`, s.`_run_id`, s.`_loaded_at`';
const MATCH = 't.`asset_id` = s.`asset_id` AND t.`time` = s.`time`';
const CHANGED = 't.`price` IS DISTINCT FROM s.`price` OR t.`supply` IS DISTINCT FROM s.`supply`';
const HEAD = [
  'DECLARE inserted, updated, deleted INT64 DEFAULT 0;',
  'CREATE TEMP TABLE _batch AS',
  `SELECT * EXCEPT (\`_ord\`) FROM ${STAGING}`,
  'WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY `asset_id`, `time` ORDER BY `_ord` DESC) = 1;',
];
const INSERT = [`INSERT INTO ${TARGET} (${COLS})`, `SELECT ${S_COLS} FROM _batch AS s;`];
/** merge and scd2 also keep the next change event's id in a script variable. */
const EVENTS_HEAD = [HEAD[0], 'DECLARE next_event_id INT64 DEFAULT 0;', ...HEAD.slice(1)];
const EVENTS = '`coinlake-demo.coinlake_ci_meta.change_event`';
/** Column i of the spec rendered to its JSON text from alias a (the dialect's jsonValue), as `<a>_j<i>`. */
const J = (a: string, i: number) =>
  [
    `COALESCE(TO_JSON_STRING(${a}.\`asset_id\`), 'null')`,
    `COALESCE(CONCAT('"', FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', ${a}.\`time\`, 'UTC'), '"'), 'null')`,
    `COALESCE(CASE WHEN IS_NAN(${a}.\`price\`) THEN '"NaN"' WHEN IS_INF(${a}.\`price\`) AND ${a}.\`price\` > 0 THEN '"Infinity"' WHEN IS_INF(${a}.\`price\`) THEN '"-Infinity"' ELSE CAST(${a}.\`price\` AS STRING) END, 'null')`,
    `COALESCE(CONCAT('"', FORMAT('%.8f', ${a}.\`supply\`), '"'), 'null')`,
    `COALESCE(CAST(${a}.\`rank\` AS STRING), 'null')`,
  ][i] + ` AS ${a}_j${i}`;
const rendered = (a: string) => [0, 1, 2, 3, 4].map((i) => J(a, i)).join(', ');
const KEY_JSON = (a: string) => `concat('{"asset_id":', ${a}_j0, ',"time":', ${a}_j1, '}')`;
const IMAGE = (a: string) => `concat('{"asset_id":', ${a}_j0, ',"time":', ${a}_j1, ',"price":', ${a}_j2, ',"supply":', ${a}_j3, ',"rank":', ${a}_j4, '}')`;
const EVENT_INSERT = `INSERT INTO ${EVENTS} (event_id, process_id, table_name, primary_key, operation, \`before\`, \`after\`, changed_columns, event_time)`;
const EVENT_IDS = 'SELECT next_event_id + ROW_NUMBER() OVER (), CAST(@p1 AS INT64), CAST(@p2 AS STRING)';
const ALL_CHANGING = `'["asset_id","time","price","supply"]'`;
/** The change events of the spec in the script (as DuckDB and PostgreSQL write them), `current` for scd2. */
const events = (opts: { deletes: boolean; current?: string }) => {
  const filter = opts.current ? `${opts.current} AND ` : '';
  const update = [
    EVENT_INSERT,
    `     ${EVENT_IDS}, ${KEY_JSON('s')}, 'update', ${IMAGE('t')}, ${IMAGE('s')},`,
    '       changed, CAST(@p3 AS TIMESTAMP)',
    `       FROM (SELECT ${rendered('s')}, ${rendered('t')},`,
    `                    '[' || substr(COALESCE(CASE WHEN t.\`price\` IS DISTINCT FROM s.\`price\` THEN ',"price"' END, '') || COALESCE(CASE WHEN t.\`supply\` IS DISTINCT FROM s.\`supply\` THEN ',"supply"' END, ''), 2) || ']' AS changed`,
    `               FROM ${TARGET} AS t JOIN _batch AS s ON ${MATCH}`,
    `              WHERE ${filter}(${CHANGED})) AS j;`,
  ];
  const remove = [
    EVENT_INSERT,
    `     ${EVENT_IDS}, ${KEY_JSON('t')}, 'delete', ${IMAGE('t')}, NULL, ${ALL_CHANGING}, CAST(@p3 AS TIMESTAMP)`,
    `       FROM (SELECT ${rendered('t')} FROM ${TARGET} AS t`,
    `              WHERE ${filter}NOT EXISTS (SELECT 1 FROM _batch AS s WHERE ${MATCH})) AS j;`,
  ];
  const insert = [
    EVENT_INSERT,
    `     ${EVENT_IDS}, ${KEY_JSON('s')}, 'insert', NULL, ${IMAGE('s')}, ${ALL_CHANGING}, CAST(@p3 AS TIMESTAMP)`,
    `       FROM (SELECT ${rendered('s')} FROM _batch AS s WHERE NOT EXISTS (SELECT 1 FROM ${TARGET} AS t WHERE ${MATCH}${opts.current ? ` AND ${opts.current}` : ''})) AS j;`,
  ];
  const next = 'SET next_event_id = next_event_id + @@row_count;';
  return ['SET next_event_id = UNIX_MICROS(CURRENT_TIMESTAMP());', ...update, next, ...(opts.deletes ? [...remove, next] : []), ...insert, next];
};
const EVENT_PARAMS = [
  { name: 'p1', parameterType: { type: 'INT64' }, parameterValue: { value: '1' } },
  { name: 'p2', parameterType: { type: 'STRING' }, parameterValue: { value: 'coinlake_conformance.wm' } },
  { name: 'p3', parameterType: { type: 'TIMESTAMP' }, parameterValue: { value: '2024-06-01T12:00:01.000Z' } },
];
const nullKeys = (mode: string) => [
  'IF EXISTS (SELECT 1 FROM _batch WHERE `asset_id` IS NULL OR `time` IS NULL) THEN',
  `  RAISE USING MESSAGE = CONCAT(CAST((SELECT COUNT(*) FROM _batch WHERE \`asset_id\` IS NULL OR \`time\` IS NULL) AS STRING), ' staged row(s) for coinlake_conformance.wm have a NULL in the primary key (asset_id, time); ${mode} cannot match them');`,
  'END IF;',
];

/** Stages two rows and applies `mode` through the core; returns the counts and the script the core sent. */
async function applied(t: TableSpec, mode: WriteMode) {
  answer = (sql) => (sql.startsWith('DECLARE') ? { rows: [{ inserted: 3, updated: 2, deleted: 1 }] } : sql.includes('INFORMATION_SCHEMA') ? { rows: physical.map((c) => ({ column_name: c })) } : {});
  const physical = ['asset_id', 'time', 'price', 'supply', 'rank', '_run_id', '_loaded_at', 'valid_from', 'valid_to', 'is_current'];
  const s = await open();
  const staging = await s.stage(t, [{ asset_id: 'bitcoin', time: new Date('2024-01-01T00:00:00Z'), price: 100, supply: '19000000.5', rank: 1 }], ctx);
  const counts = await applyWriteMode(s, t, staging, mode, ctx);
  const script = fake.jobs.at(-1)!.configuration.query!;
  return { counts, script, staging };
}

describe('BigQuery destination: the exact statements and jobs, offline', () => {
  it('bigquery:// locations open through the registry; bad ones are refused naming the part', async () => {
    const s = await openWarehouse('bigquery://coinlake-demo/analytics?location=EU');
    expect(s).toBeInstanceOf(BigQuerySession);
    expect(s.capabilities).toEqual({ exportsParquet: false, transactionalDdl: false, multiProcess: true, transactions: false });
    expect(s.dialect.table('coinlake', 'coincap_assets')).toBe('`coinlake-demo.analytics.coincap_assets`');
    expect(s.dialect.table('coinlake_meta', 'run')).toBe('`coinlake-demo.analytics_meta.run`');
    await s.close();
    // SQL printed for users (the demo's hints) names tables as the BigQuery console must.
    expect(clientTableReference('bigquery://coinlake-demo/analytics', 'coinlake', 'coincap_assets')).toBe('`coinlake-demo.analytics.coincap_assets`');
    expect(parseBigQueryLocation('bigquery://coinlake-demo')).toEqual({ projectId: 'coinlake-demo', dataset: undefined, location: 'US' });
    expect(() => parseBigQueryLocation('bigquery://My Project/x')).toThrow('BigQuery project "My Project" in bigquery://My Project/x is not a project id; expected 6–30 lower-case letters, digits and hyphens, starting with a letter');
    expect(() => parseBigQueryLocation('bigquery://coinlake-demo/x?region=EU')).toThrow('unknown parameter "region" in bigquery://coinlake-demo/x?region=EU');
    expect(() => parseBigQueryLocation('bigquery://coinlake-demo/my-data')).toThrow('invalid BigQuery dataset "my-data"');
  });

  it('ensureSchema and ensureTable: the dataset in its location, the table partitioned and clustered, only missing columns added', async () => {
    answer = (sql) => (sql.includes('INFORMATION_SCHEMA') ? { rows: [{ column_name: 'asset_id' }, { column_name: 'time' }, { column_name: 'price' }, { column_name: '_run_id' }, { column_name: '_loaded_at' }] } : {});
    const s = await open();
    await s.ensureSchema('coinlake_conformance');
    await s.ensureTable(spec);
    expect(fake.jobs).toEqual([
      { projectId: 'coinlake-demo', location: 'EU', configuration: { query: { useLegacySql: false, query: "CREATE SCHEMA IF NOT EXISTS `coinlake-demo.coinlake_ci_conformance` OPTIONS (location = 'EU')" } } },
      {
        projectId: 'coinlake-demo',
        location: 'EU',
        configuration: {
          query: {
            useLegacySql: false,
            query: [
              `CREATE TABLE IF NOT EXISTS ${TARGET} (`,
              '  `asset_id` STRING,',
              '  `time` TIMESTAMP,',
              '  `price` FLOAT64,',
              '  `supply` NUMERIC(20, 8),',
              '  `rank` INT64,',
              '  `_run_id` STRING,',
              '  `_loaded_at` TIMESTAMP',
              ')',
              'PARTITION BY DATE(`time`)',
              'CLUSTER BY `asset_id`, `time`',
            ].join('\n'),
          },
        },
      },
      {
        projectId: 'coinlake-demo',
        location: 'EU',
        configuration: {
          query: {
            useLegacySql: false,
            query: 'SELECT column_name FROM `coinlake-demo.coinlake_ci_conformance`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = @p1',
            parameterMode: 'NAMED',
            queryParameters: [{ name: 'p1', parameterType: { type: 'STRING' }, parameterValue: { value: 'wm' } }],
          },
        },
      },
      { projectId: 'coinlake-demo', location: 'EU', configuration: { query: { useLegacySql: false, query: `ALTER TABLE ${TARGET} ADD COLUMN IF NOT EXISTS \`supply\` NUMERIC(20, 8), ADD COLUMN IF NOT EXISTS \`rank\` INT64` } } },
    ]);
  });

  it('stage: one load job of NDJSON with the schema, lineage from the load, the ordinal last', async () => {
    const s = await open();
    const rows = [
      { asset_id: 'bitcoin', time: new Date('2024-01-01T00:00:00Z'), price: 100, supply: '19000000.5', rank: 1 },
      { asset_id: 'ether "classic"', time: null, price: Number.NaN, supply: null, rank: null },
    ];
    expect(await s.stage(spec, rows, ctx)).toBe('coinlake_ci_conformance._stg_wm_r1_1');
    expect(await s.stage(spec, [], { ...ctx, runId: '2026-01-01T00:00Z/x' })).toBe('coinlake_ci_conformance._stg_wm_2026_01_01T00_00Z_x_2');
    const field = (name: string, type: string, extra = {}) => ({ name, type, mode: 'NULLABLE', ...extra });
    expect(fake.jobs[0]).toEqual({
      projectId: 'coinlake-demo',
      location: 'EU',
      configuration: {
        load: {
          destinationTable: { projectId: 'coinlake-demo', datasetId: 'coinlake_ci_conformance', tableId: '_stg_wm_r1_1' },
          sourceFormat: 'NEWLINE_DELIMITED_JSON',
          schema: {
            fields: [
              field('asset_id', 'STRING'),
              field('time', 'TIMESTAMP'),
              field('price', 'FLOAT'),
              field('supply', 'NUMERIC', { precision: '20', scale: '8' }),
              field('rank', 'INTEGER'),
              field('_run_id', 'STRING'),
              field('_loaded_at', 'TIMESTAMP'),
              { name: '_ord', type: 'INTEGER', mode: 'REQUIRED' },
            ],
          },
          writeDisposition: 'WRITE_TRUNCATE',
          createDisposition: 'CREATE_IF_NEEDED',
          // The client library copies its location into the load configuration as well as the job reference.
          location: 'EU',
        },
      },
      data: [
        '{"asset_id":"bitcoin","time":"2024-01-01T00:00:00.000Z","price":100,"supply":"19000000.5","rank":1,"_run_id":"r1","_loaded_at":"2024-06-01T12:00:01.000Z","_ord":0}',
        '{"asset_id":"ether \\"classic\\"","time":null,"price":"NaN","supply":null,"rank":null,"_run_id":"r1","_loaded_at":"2024-06-01T12:00:01.000Z","_ord":1}',
        '',
      ].join('\n'),
    });
    expect(fake.jobs[1].data).toBe('');
  });

  it('append: one INSERT, counted', async () => {
    const { counts, script } = await applied(spec, 'append');
    expect(counts).toEqual({ inserted: 3, updated: 2, deleted: 1 });
    expect(script).toEqual({ useLegacySql: false, query: [...HEAD, ...INSERT, 'SET inserted = @@row_count;', 'SELECT inserted, updated, deleted;'].join('\n') });
  });

  it('replace: DELETE … WHERE TRUE and INSERT in one transaction', async () => {
    const { script } = await applied(spec, 'replace');
    expect(script.query).toBe(
      [...HEAD, 'BEGIN TRANSACTION;', `DELETE FROM ${TARGET} WHERE TRUE;`, 'SET deleted = @@row_count;', ...INSERT, 'SET inserted = @@row_count;', 'COMMIT TRANSACTION;', 'SELECT inserted, updated, deleted;'].join('\n'),
    );
  });

  it('delete_insert: DELETE … WHERE the UTC dates of the batch (NULL its own partition), then INSERT, in one transaction', async () => {
    const { script } = await applied(spec, 'delete_insert');
    expect(script.query).toBe(
      [
        ...HEAD,
        'BEGIN TRANSACTION;',
        `DELETE FROM ${TARGET} AS t`,
        'WHERE DATE(t.`time`) IN (SELECT DISTINCT DATE(s.`time`) FROM _batch AS s WHERE s.`time` IS NOT NULL)',
        '   OR (t.`time` IS NULL AND EXISTS (SELECT 1 FROM _batch AS s WHERE s.`time` IS NULL));',
        'SET deleted = @@row_count;',
        ...INSERT,
        'SET inserted = @@row_count;',
        'COMMIT TRANSACTION;',
        'SELECT inserted, updated, deleted;',
      ].join('\n'),
    );
  });

  it('merge: counts and change events taken in the transaction, then one MERGE; volatile columns never make a change; deleteMissing deletes by source', async () => {
    const merge = (deleteMissing: boolean) => [
      ...EVENTS_HEAD,
      ...nullKeys('merge'),
      'BEGIN TRANSACTION;',
      'IF EXISTS (SELECT 1 FROM _batch) THEN',
      `SET updated = (SELECT COUNT(*) FROM ${TARGET} AS t JOIN _batch AS s ON ${MATCH} WHERE ${CHANGED});`,
      `SET inserted = (SELECT COUNT(*) FROM _batch AS s WHERE NOT EXISTS (SELECT 1 FROM ${TARGET} AS t WHERE ${MATCH}));`,
      ...(deleteMissing ? [`SET deleted = (SELECT COUNT(*) FROM ${TARGET} AS t WHERE NOT EXISTS (SELECT 1 FROM _batch AS s WHERE ${MATCH}));`] : []),
      ...events({ deletes: deleteMissing }),
      `MERGE ${TARGET} AS t`,
      'USING _batch AS s',
      `ON ${MATCH}`,
      `WHEN MATCHED AND (${CHANGED}) THEN`,
      '  UPDATE SET `price` = s.`price`, `supply` = s.`supply`, `rank` = s.`rank`, `_run_id` = s.`_run_id`, `_loaded_at` = s.`_loaded_at`',
      'WHEN NOT MATCHED THEN',
      `  INSERT (${COLS}) VALUES (${S_COLS})${deleteMissing ? '' : ';'}`,
      ...(deleteMissing ? ['WHEN NOT MATCHED BY SOURCE THEN', '  DELETE;'] : []),
      'END IF;',
      'COMMIT TRANSACTION;',
      'SELECT inserted, updated, deleted;',
    ].join('\n');
    const { script } = await applied(spec, 'merge');
    expect(script.query).toBe(merge(false));
    expect(script.queryParameters).toEqual(EVENT_PARAMS);
    expect((await applied({ ...spec, deleteMissing: true }, 'merge')).script.query).toBe(merge(true));
    // changeEvents none: no event statement, the same MERGE.
    const quiet = (await applied({ ...spec, changeEvents: 'none' }, 'merge')).script.query.split('\n');
    expect(quiet.filter((l) => l.includes('next_event_id') || l.includes(EVENTS))).toEqual(['DECLARE next_event_id INT64 DEFAULT 0;']);
  });

  it('scd2: the physical table ensured, change events of current versions, changed versions closed by MERGE, new versions inserted at the load time (@p3)', async () => {
    const { script } = await applied({ ...spec, scd2: { closeMissing: true } }, 'scd2');
    const [create, columns] = fake.queries;
    expect(create.split('\n').slice(5, 9)).toEqual(['  `rank` INT64,', '  `valid_from` TIMESTAMP NOT NULL,', '  `valid_to` TIMESTAMP,', '  `is_current` BOOL NOT NULL,']);
    expect(create.split('\n').at(-1)).toBe('CLUSTER BY `asset_id`, `time`, `valid_from`');
    expect(columns).toBe('SELECT column_name FROM `coinlake-demo.coinlake_ci_conformance`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = @p1');
    expect(fake.queries).toHaveLength(3); // every physical column present: no ALTER
    expect(script).toEqual({
      useLegacySql: false,
      parameterMode: 'NAMED',
      queryParameters: EVENT_PARAMS,
      query: [
        ...EVENTS_HEAD,
        ...nullKeys('scd2'),
        'BEGIN TRANSACTION;',
        'IF EXISTS (SELECT 1 FROM _batch) THEN',
        `SET updated = (SELECT COUNT(*) FROM ${TARGET} AS t JOIN _batch AS s ON ${MATCH} WHERE t.\`is_current\` AND (${CHANGED}));`,
        `SET deleted = (SELECT COUNT(*) FROM ${TARGET} AS t WHERE t.\`is_current\` AND NOT EXISTS (SELECT 1 FROM _batch AS s WHERE ${MATCH}));`,
        ...events({ deletes: true, current: 't.`is_current`' }),
        `MERGE ${TARGET} AS t`,
        'USING _batch AS s',
        `ON ${MATCH} AND t.\`is_current\``,
        `WHEN MATCHED AND (${CHANGED}) THEN`,
        '  UPDATE SET `valid_to` = @p3, `is_current` = FALSE',
        'WHEN NOT MATCHED BY SOURCE AND t.`is_current` THEN',
        '  UPDATE SET `valid_to` = @p3, `is_current` = FALSE;',
        `INSERT INTO ${TARGET} (${COLS}, \`valid_from\`, \`valid_to\`, \`is_current\`)`,
        `SELECT ${S_COLS}, @p3, CAST(NULL AS TIMESTAMP), TRUE FROM _batch AS s`,
        `WHERE NOT EXISTS (SELECT 1 FROM ${TARGET} AS t WHERE ${MATCH} AND t.\`is_current\`);`,
        'SET inserted = @@row_count - updated;',
        'END IF;',
        'COMMIT TRANSACTION;',
        'SELECT inserted, updated, deleted;',
      ].join('\n'),
    });
  });

  it("the core's statements run with named parameters, NULLs as NULL literals; dropStaging drops the table", async () => {
    const s = await open();
    await s.exec("DELETE FROM x WHERE a = $1 AND b = '$2' AND c = $2", ['v', null]);
    await s.dropStaging('coinlake_ci_conformance._stg_wm_r1_1');
    expect(fake.jobs.map((j) => j.configuration.query)).toEqual([
      {
        useLegacySql: false,
        query: "DELETE FROM x WHERE a = @p1 AND b = '$2' AND c = NULL",
        parameterMode: 'NAMED',
        queryParameters: [{ name: 'p1', parameterType: { type: 'STRING' }, parameterValue: { value: 'v' } }],
      },
      { useLegacySql: false, query: `DROP TABLE IF EXISTS ${STAGING}` },
    ]);
  });

  it('query rows as the contract gives them; DML counts; failed jobs name the project and the statement; 5xx and 429 are transient', async () => {
    answer = (sql) =>
      sql.startsWith('SELECT') ? { rows: [{ n: 7, name: 'x', none: null }] } : sql.startsWith('UPDATE') ? { affected: 4 } : sql.startsWith('BAD') ? { error: { code: 400, message: 'Syntax error: Unexpected identifier "BAD" at [1:1]' } } : { error: { code: 503, message: 'backend unavailable' } };
    const s = await open();
    expect(await s.query('SELECT 7 AS n')).toEqual([{ n: 7, name: 'x', none: null }]);
    expect(await s.exec('UPDATE t SET a = 1 WHERE TRUE')).toBe(4);
    const bad = await s.exec('BAD SQL\nsecond line').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TerminalError);
    expect((bad as Error).message).toBe('BigQuery (coinlake-demo, EU) failed on BAD SQL: Syntax error: Unexpected identifier "BAD" at [1:1]');
    const busy = await s.exec('MERGE x').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(TransientError);
    expect((busy as Error).message).toBe('BigQuery (coinlake-demo, EU) failed on MERGE x: backend unavailable');
  });

  it('the configuration errors are thrown before any script is sent', async () => {
    const s = await open();
    const staging = await s.stage(spec, [], ctx);
    const sent = fake.jobs.length;
    const noKey = await applyWriteMode(s, { ...spec, primaryKey: [] }, staging, 'merge', ctx).catch((e: unknown) => e);
    expect(noKey).toBeInstanceOf(ConfigError);
    expect((noKey as Error).message).toBe('write mode merge needs a primary key on coinlake_conformance.wm');
    const noPartition = await applyWriteMode(s, { ...spec, partitionBy: undefined }, staging, 'delete_insert', ctx).catch((e: unknown) => e);
    expect(noPartition).toBeInstanceOf(ConfigError);
    expect((noPartition as Error).message).toBe('write mode delete_insert needs a partition column on coinlake_conformance.wm');
    expect(fake.jobs.length).toBe(sent);
  });
});
