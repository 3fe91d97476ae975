// The DuckDB session against a real DuckDB: types, schema evolution, transactions, the file lock, Parquet export.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoadContext } from '../../core/destination.ts';
import { ConfigError, TerminalError } from '../../core/errors.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { DuckdbDestination, duckdbPath, openDuckdbSession } from './duckdb-destination.ts';
import { duckdbDialect } from './duckdb-dialect.ts';
import type { DuckdbSession } from './duckdb-session.ts';

const ctx: LoadContext = { runId: 'run-1', processId: 7, loadedAt: new Date('2024-06-01T12:00:00.123Z') };

const typed: TableSpec = {
  schema: 'coinlake',
  name: 'typed',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'name', type: 'varchar' },
    { name: 'price', type: 'double' },
    { name: 'amount', type: 'decimal(38,18)' },
    { name: 'big', type: 'bigint' },
    { name: 'flag', type: 'boolean' },
    { name: 'at', type: 'timestamptz' },
    { name: 'day', type: 'date' },
    { name: 'meta', type: 'json' },
  ],
  primaryKey: ['id'],
  partitionBy: 'at',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'coinlake-duckdb-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DuckdbSession', () => {
  let s: DuckdbSession;
  beforeEach(async () => {
    s = await openDuckdbSession(':memory:');
  });
  afterEach(async () => {
    await s.close();
  });

  it('round-trips every column type through stage()', async () => {
    const rows: Row[] = [
      {
        id: 1,
        name: 'Zürich',
        price: 0.1,
        amount: '12345678901234567890.123456789012345678',
        big: 9_007_199_254_740_993n,
        flag: true,
        at: new Date('2024-03-10T23:59:59.999Z'),
        day: '2024-02-29',
        meta: { a: 1, b: [1, 2], c: '東京', d: null },
      },
      {
        id: 2,
        name: 'Bitfinex – Україна',
        price: -1.5e-7,
        amount: 0.1,
        big: 42,
        flag: false,
        at: '2024-03-11 00:00:00',
        day: new Date('2024-03-11T22:00:00Z'),
        meta: '[1,"x"]',
      },
      { id: 3, name: null, price: null, amount: null, big: null, flag: null, at: null, day: null, meta: null },
      { id: 4 },
    ];
    const staging = await s.stage(typed, rows, ctx);
    const got = await s.query(`SELECT * FROM ${staging} ORDER BY _ord`);
    const nulls = { name: null, price: null, amount: null, big: null, flag: null, at: null, day: null, meta: null };
    const lineage = (ord: number) => ({ _run_id: 'run-1', _loaded_at: ctx.loadedAt, _ord: ord });
    expect(got).toEqual([
      {
        id: 1,
        name: 'Zürich',
        price: 0.1,
        amount: '12345678901234567890.123456789012345678',
        big: '9007199254740993',
        flag: true,
        at: new Date('2024-03-10T23:59:59.999Z'),
        day: '2024-02-29',
        meta: { a: 1, b: [1, 2], c: '東京', d: null },
        ...lineage(0),
      },
      {
        id: 2,
        name: 'Bitfinex – Україна',
        price: -1.5e-7,
        amount: '0.100000000000000000',
        big: 42,
        flag: false,
        at: new Date('2024-03-11T00:00:00Z'),
        day: '2024-03-11',
        meta: [1, 'x'],
        ...lineage(1),
      },
      { id: 3, ...nulls, ...lineage(2) },
      { id: 4, ...nulls, ...lineage(3) },
    ]);
    // The instant is stored as UTC whatever the process time zone is.
    const [utc] = await s.query(`SELECT strftime("at", '%Y-%m-%d %H:%M:%S') AS text, CAST("at" AS DATE) AS d FROM ${staging} WHERE id = 1`);
    expect(utc).toEqual({ text: '2024-03-10 23:59:59', d: '2024-03-10' });
  });

  it('rounds decimals exactly and names the row and column of a value it cannot load', async () => {
    const t: TableSpec = { schema: 'coinlake', name: 'dec', columns: [{ name: 'v', type: 'decimal(10,2)' }], primaryKey: [] };
    const staging = await s.stage(t, [{ v: '1.005' }, { v: '-1.005' }, { v: 2.675 }, { v: '1e2' }, { v: 12345678n }, { v: '.5' }, { v: '-0.004' }, { v: 1.5e-7 }, { v: ' 1.25E+1 ' }], ctx);
    expect((await s.query(`SELECT v FROM ${staging} ORDER BY _ord`)).map((r) => r.v)).toEqual([
      '1.01', '-1.01', '2.68', '100.00', '12345678.00', '0.50', '0.00', '0.00', '12.50',
    ]);
    // The same texts through DuckDB's own cast agree.
    const cast = await s.query(`SELECT CAST(v AS DECIMAL(10,2)) AS v FROM (VALUES ('1.005', 1), ('-1.005', 2), ('2.675', 3), ('-0.004', 4)) AS x(v, o) ORDER BY o`);
    expect(cast.map((r) => r.v)).toEqual(['1.01', '-1.01', '2.68', '0.00']);
    await expect(s.stage(t, [{ v: '123456789.5' }], ctx)).rejects.toThrow('does not fit decimal(10,2)');
    const bad = await s.stage(t, [{ v: '1' }, { v: 'abc' }], ctx).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TerminalError);
    expect((bad as TerminalError).message).toBe('cannot load "abc" into coinlake.dec.v (decimal(10,2)), row 2 of the batch: not a decimal number');
    expect((bad as TerminalError).context).toMatchObject({ field: 'v', row: 2 });
    const tables = await s.query(`SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'stg_dec_%'`);
    expect(tables).toHaveLength(1); // only the first, good staging table is left
  });

  it('binds parameters and converts results to plain JS', async () => {
    const at = new Date('2024-01-02T03:04:05.678Z');
    const [row] = await s.query('SELECT $1 AS s, $2 AS n, $3 AS ts, $4 AS b, $5 AS z, $6::JSON AS j, $7 AS big, CAST($3 AS DATE) AS d, 12345678901234567890::HUGEINT AS huge, COUNT(*) OVER () AS c', [
      '東京',
      1.5,
      at,
      true,
      null,
      { k: ['Zürich'] },
      2n ** 40n,
    ]);
    expect(row).toEqual({ s: '東京', n: 1.5, ts: at, b: true, z: null, j: { k: ['Zürich'] }, big: 2 ** 40, d: '2024-01-02', huge: '12345678901234567890', c: 1 });
  });

  it('exec returns the rows changed', async () => {
    await s.exec('CREATE TABLE t (a INTEGER)');
    expect(await s.exec('INSERT INTO t VALUES (1), (2), (3)')).toBe(3);
    expect(await s.exec('UPDATE t SET a = a + $1 WHERE a >= $2', [10, 2])).toBe(2);
    expect(await s.exec('DELETE FROM t')).toBe(3);
  });

  it('ensureTable creates the table with lineage columns and adds columns new in the spec', async () => {
    const v1: TableSpec = { schema: 'coinlake', name: 'evolving', columns: [{ name: 'id', type: 'varchar', nullable: false }, { name: 'price', type: 'double' }], primaryKey: ['id'] };
    await s.ensureTable(v1);
    await s.exec(`INSERT INTO coinlake.evolving VALUES ('a', 1.5, 'r0', NULL)`);
    const v2: TableSpec = { ...v1, columns: [...v1.columns, { name: 'supply', type: 'decimal(20,8)' }] };
    await s.ensureTable(v2);
    await s.ensureTable(v2); // idempotent
    const cols = await s.query(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'coinlake' AND table_name = 'evolving' ORDER BY ordinal_position`,
    );
    expect(cols).toEqual([
      { column_name: 'id', data_type: 'VARCHAR', is_nullable: 'NO' },
      { column_name: 'price', data_type: 'DOUBLE', is_nullable: 'YES' },
      { column_name: '_run_id', data_type: 'VARCHAR', is_nullable: 'YES' },
      { column_name: '_loaded_at', data_type: 'TIMESTAMP WITH TIME ZONE', is_nullable: 'YES' },
      { column_name: 'supply', data_type: 'DECIMAL(20,8)', is_nullable: 'YES' },
    ]);
    expect(await s.query('SELECT id, price, supply FROM coinlake.evolving')).toEqual([{ id: 'a', price: 1.5, supply: null }]);
  });

  it('rolls back a transaction that throws, nested calls included', async () => {
    const t: TableSpec = { schema: 'coinlake', name: 'tx', columns: [{ name: 'id', type: 'integer' }], primaryKey: [] };
    await expect(
      s.transaction(async () => {
        await s.ensureTable(t);
        await s.transaction(() => s.exec('INSERT INTO coinlake.tx (id) VALUES (1)'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await s.query(`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'tx'`)).toEqual([{ n: 0 }]);
    await s.transaction(async () => {
      await s.ensureTable(t);
      await s.transaction(() => s.exec('INSERT INTO coinlake.tx (id) VALUES (2)'));
    });
    expect(await s.query('SELECT id FROM coinlake.tx')).toEqual([{ id: 2 }]);
  });

  it('exports a staging table as Parquet partitioned by UTC date', async () => {
    const rows: Row[] = [
      { id: 1, name: 'a', amount: '1.5', at: new Date('2024-03-10T23:59:59Z'), meta: { x: 1 } },
      { id: 2, name: 'Zürich', amount: '2.25', at: new Date('2024-03-11T00:00:00Z') },
      { id: 3, name: 'c', amount: null, at: new Date('2024-03-11T08:00:00Z') },
      { id: 4, name: 'no time' },
    ];
    const staging = await s.stage(typed, rows, ctx);
    const out = path.join(dir, 'export', 'coinlake_typed');
    await s.exportParquet(staging, out, { partitionColumn: 'at', day: '2024-06-01', fileStem: 'run-1', orderBy: ['id'] });
    const files = (await readdir(out, { recursive: true })).filter((f) => f.endsWith('.parquet')).sort();
    expect(files).toEqual([
      path.join('dt=2024-03-10', 'run-1_0.parquet'),
      path.join('dt=2024-03-11', 'run-1_0.parquet'),
      path.join('dt=2024-06-01', 'run-1_0.parquet'),
    ]);
    const glob = path.join(out, '**', '*.parquet').replaceAll("'", "''");
    const back = await s.query(`SELECT id, name, amount, "at", meta, _run_id, _loaded_at, dt FROM read_parquet('${glob}', hive_partitioning = true) ORDER BY id`);
    expect(back).toEqual([
      { id: 1, name: 'a', amount: '1.500000000000000000', at: rows[0].at, meta: { x: 1 }, _run_id: 'run-1', _loaded_at: ctx.loadedAt, dt: '2024-03-10' },
      { id: 2, name: 'Zürich', amount: '2.250000000000000000', at: rows[1].at, meta: null, _run_id: 'run-1', _loaded_at: ctx.loadedAt, dt: '2024-03-11' },
      { id: 3, name: 'c', amount: null, at: rows[2].at, meta: null, _run_id: 'run-1', _loaded_at: ctx.loadedAt, dt: '2024-03-11' },
      { id: 4, name: 'no time', amount: null, at: null, meta: null, _run_id: 'run-1', _loaded_at: ctx.loadedAt, dt: '2024-06-01' },
    ]);
    const cols = await s.query(`SELECT name FROM parquet_schema('${path.join(out, 'dt=2024-03-10', 'run-1_0.parquet')}') WHERE name IN ('_ord', 'dt')`);
    expect(cols).toEqual([]);
    await s.dropStaging(staging);
    expect(await s.query(`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = '${staging}'`)).toEqual([{ n: 0 }]);
  });
});

describe('duckdbDialect', () => {
  it('quotes validated identifiers and maps logical types', () => {
    expect(duckdbDialect.table('coinlake', 'coincap_assets')).toBe('"coinlake"."coincap_assets"');
    expect(() => duckdbDialect.ident('x"; DROP TABLE y; --')).toThrow(ConfigError);
    const types = ['varchar', 'double', 'bigint', 'integer', 'boolean', 'timestamptz', 'date', 'json', 'decimal(38,18)'];
    expect(types.map((t) => duckdbDialect.sqlType(t))).toEqual([
      'VARCHAR', 'DOUBLE', 'BIGINT', 'INTEGER', 'BOOLEAN', 'TIMESTAMPTZ', 'DATE', 'JSON', 'DECIMAL(38,18)',
    ]);
    expect(() => duckdbDialect.sqlType('decimal(40,2)')).toThrow(ConfigError);
    expect(() => duckdbDialect.sqlType('text')).toThrow(ConfigError);
    expect(duckdbDialect.param(3)).toBe('$3');
  });

  it('rowToJson builds a JSON object of the named columns', async () => {
    const s = await openDuckdbSession(':memory:');
    const json = duckdbDialect.rowToJson('r', ['id', 'name', 'at']);
    const rows = await s.query(`SELECT ${json} AS j FROM (SELECT 1 AS id, 'Zürich' AS name, NULL AS "at") AS r`);
    expect(rows).toEqual([{ j: { id: 1, name: 'Zürich', at: null } }]);
    await s.close();
  });
});

describe('DuckdbDestination', () => {
  it('accepts file paths, :memory: and duckdb: locations but not other URLs', () => {
    const d = new DuckdbDestination();
    for (const ok of ['./coinlake.duckdb', '/var/lib/x.duckdb', ':memory:', 'duckdb:./a.duckdb', 'duckdb:///tmp/a.duckdb', 'C:\\data\\w.duckdb']) {
      expect(d.accepts(ok), ok).toBe(true);
    }
    for (const no of ['postgres://u@h/db', 'postgresql://h/db', 'bigquery://project']) {
      expect(d.accepts(no), no).toBe(false);
    }
    expect(duckdbPath('duckdb:///tmp/a.duckdb')).toBe('/tmp/a.duckdb');
    expect(duckdbPath('duckdb:./a.duckdb')).toBe('./a.duckdb');
    expect(duckdbPath('duckdb:')).toBe(':memory:');
  });

  it('creates the parent folder and keeps data across sessions on a file', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'w.duckdb');
    const a = await new DuckdbDestination().open(`duckdb:${file}`);
    await a.exec('CREATE TABLE kept (v VARCHAR)');
    await a.exec('INSERT INTO kept VALUES ($1)', ['東京']);
    await a.close();
    const b = await openDuckdbSession(file);
    expect(await b.query('SELECT v FROM kept')).toEqual([{ v: '東京' }]);
    expect(await b.query(`SELECT current_setting('TimeZone') AS tz`)).toEqual([{ tz: 'UTC' }]);
    await b.close();
  });

  it('shares one database between the sessions of this process on the same file', async () => {
    const file = path.join(dir, 'shared.duckdb');
    const a = await openDuckdbSession(file);
    const b = await openDuckdbSession(path.join(dir, '.', 'shared.duckdb'));
    await a.exec('CREATE TABLE shared (v INTEGER)');
    await a.exec('INSERT INTO shared VALUES (1)');
    expect(await b.query('SELECT v FROM shared')).toEqual([{ v: 1 }]);
    await a.close();
    await b.exec('INSERT INTO shared VALUES (2)');
    await b.close();
    const c = await openDuckdbSession(file);
    expect(await c.query('SELECT v FROM shared ORDER BY v')).toEqual([{ v: 1 }, { v: 2 }]);
    await c.close();
  });

  describe('a file held by another process', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      child?.kill();
      child = undefined;
    });

    it('waits up to lockTimeoutMs, then fails with a clear error', async () => {
      const file = path.join(dir, 'locked.duckdb');
      const script = path.join(dir, 'hold-lock.mjs');
      const destination = new URL('./duckdb-destination.ts', import.meta.url).href;
      await writeFile(
        script,
        `import { openDuckdbSession } from ${JSON.stringify(destination)};
const s = await openDuckdbSession(process.argv[2]);
await s.exec('CREATE TABLE IF NOT EXISTS held (v INTEGER)');
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
      );
      child = spawn(process.execPath, ['--import', 'tsx', script, file], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        let err = '';
        child!.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
        child!.stderr!.on('data', (b: Buffer) => (err += b.toString()));
        child!.on('exit', (code) => reject(new Error(`holder exited with ${code}: ${err}`)));
      });
      let waited = 0;
      const started = Date.now();
      const err = await openDuckdbSession(file, { lockTimeoutMs: 600, lockRetryMs: 100, onLockWait: () => waited++ }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      expect(waited).toBe(1);
      expect(err).toBeInstanceOf(TerminalError);
      expect((err as TerminalError).message).toBe(`warehouse ${file} is locked by another process`);
      expect((err as TerminalError).hint).toBe(
        'stop the other coinlake process (or send the job to `coinlake serve`), or set COINLAKE_WAREHOUSE to another file',
      );
      // Once the holder is gone the file opens.
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child!.kill();
      await exited;
      const s = await openDuckdbSession(file, { lockTimeoutMs: 5000 });
      expect(await s.query('SELECT COUNT(*) AS n FROM held')).toEqual([{ n: 0 }]);
      await s.close();
    });
  });
});
