// Destination conformance cases beyond the write modes: exact round trips of every column type, NULLs, time zones,
// state and run row committed with the data, a connection killed mid-load, and two concurrent runs of one job.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadContext, LoadResult, Session, WriteMode } from '../../core/destination.ts';
import { ConfigError, TerminalError, TransientError } from '../../core/errors.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { META_SCHEMA, PROCESS_ID_SEQ, ensureMetaTables } from '../../catalog/meta-tables.ts';
import { applyWriteMode } from '../../load/write-modes.ts';

const SCHEMA = 'coinlake_conformance';

/** The cases a destination may skip, each by this id, with a reason. */
export type DestinationCaseId = 'types' | 'nulls' | 'timeZones' | 'stateWithData' | 'killedMidLoad' | 'concurrentRuns';

/** How a destination runs the cases. */
export interface DestinationCaseOptions {
  /** Cases this destination skips, each with the reason shown in the test name. */
  skip?: Partial<Record<DestinationCaseId, string>>;
  /**
   * Ends `victim`'s connection from another connection, as an administrator or a crashed client would, and resolves
   * once the server has cleaned up after it. Required unless `killedMidLoad` is skipped.
   */
  killConnection?(victim: Session): Promise<void>;
  /** Staging tables of any session still present in the warehouse; checked after the killed load when given. */
  stagingTables?(s: Session): Promise<string[]>;
}

/** Every column type in use. */
const TYPES: TableSpec = {
  schema: SCHEMA,
  name: 'dc_types',
  columns: [
    { name: 'id', type: 'bigint' },
    { name: 'ts', type: 'timestamptz' },
    { name: 'price', type: 'double' },
    { name: 'amount', type: 'decimal(38,18)' },
    { name: 'label', type: 'varchar' },
    { name: 'qty', type: 'bigint' },
    { name: 'flag', type: 'boolean' },
    { name: 'meta', type: 'json' },
    { name: 'day', type: 'date' },
    { name: 'n', type: 'integer' },
  ],
  primaryKey: ['id'],
};
const TYPE_COLUMNS = TYPES.columns.map((c) => c.name);

/** Prices of one asset over time, partitioned by month where the destination partitions. */
function pricesSpec(name: string): TableSpec {
  return {
    schema: SCHEMA,
    name,
    columns: [
      { name: 'asset_id', type: 'varchar' },
      { name: 'time', type: 'timestamptz' },
      { name: 'price', type: 'double' },
    ],
    primaryKey: ['asset_id', 'time'],
    partitionBy: 'time',
  };
}

/** `count` price rows, one per asset and hour from 2024-01-30 on, so they span several months. */
function priceRows(count: number, assets = 5): Row[] {
  const start = Date.UTC(2024, 0, 30);
  return Array.from({ length: count }, (_, i) => ({
    asset_id: `asset-${i % assets}`,
    time: new Date(start + Math.floor(i / assets) * 3_600_000),
    price: i + 0.25,
  }));
}

function ctxOf(runId: string): LoadContext {
  return { runId, processId: 1, loadedAt: new Date('2024-06-01T12:00:00Z') };
}

/** Stages rows and applies the mode inside the caller's transaction (or its own), then drops the staging table. */
async function load(s: Session, t: TableSpec, rows: Row[], mode: WriteMode, runId: string): Promise<LoadResult> {
  return s.transaction(async () => {
    const staging = await s.stage(t, rows, ctxOf(runId));
    const result = await applyWriteMode(s, t, staging, mode, ctxOf(runId));
    await s.dropStaging(staging);
    return result;
  });
}

async function select(s: Session, t: TableSpec, columns: string[], orderBy: string[]): Promise<Row[]> {
  const d = s.dialect;
  return s.query(
    `SELECT ${columns.map((c) => d.ident(c)).join(', ')} FROM ${d.table(t.schema, t.name)} ORDER BY ${orderBy.map((c) => d.ident(c)).join(', ')}`,
  );
}

async function count(s: Session, t: TableSpec): Promise<number> {
  const [row] = await s.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${s.dialect.table(t.schema, t.name)}`);
  return row.n;
}

/** A job's key in the meta tables. */
interface JobKey {
  connectionName: string;
  tableName: string;
}

// The cases' own rows in coinlake_meta, written through the Session alone (the contract under test), as a run writes
// them: the run row opened on its own with an id from the dialect's sequence, then state and the closed run row in
// the data's transaction.

/** Opens the job's run row in progress (status 0), committed on its own; returns its process id. */
async function openRunRow(s: Session, job: JobKey): Promise<number> {
  const [{ id }] = await s.query<{ id: number | string }>(`SELECT ${s.dialect.nextId(META_SCHEMA, PROCESS_ID_SEQ)} AS id`);
  const processId = Number(id);
  await s.exec(
    `INSERT INTO coinlake_meta.workflow_action_history
      (process_id, run_id, connection_name, table_name, execution_start_datetime, execution_status)
     VALUES ($1, $2, $3, $4, $5, 0)`,
    [processId, `conformance-${processId}`, job.connectionName, job.tableName, new Date()],
  );
  return processId;
}

/** Closes the run row as complete (status 1) with its row counts. */
async function completeRunRow(s: Session, processId: number, rows: number): Promise<void> {
  await s.exec(
    `UPDATE coinlake_meta.workflow_action_history
        SET execution_status = 1, execution_end_datetime = $2, rows_extracted = $3, rows_loaded = $3, rows_quarantined = 0
      WHERE process_id = $1`,
    [processId, new Date(), rows],
  );
}

/** Replaces the job's state row. */
async function writeStateRow(s: Session, job: JobKey, state: unknown, processId: number): Promise<void> {
  await s.exec(`DELETE FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`, [job.connectionName, job.tableName]);
  await s.exec(
    `INSERT INTO coinlake_meta.ingestion_state (connection_name, table_name, state, updated_at, process_id) VALUES ($1, $2, $3, $4, $5)`,
    [job.connectionName, job.tableName, JSON.stringify(state), new Date(), processId],
  );
}

/** The job's committed state, parsed; undefined when it has none. */
async function readStateRow(s: Session, job: JobKey): Promise<unknown> {
  const rows = await s.query<{ state: string }>(
    `SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`,
    [job.connectionName, job.tableName],
  );
  return rows.length ? JSON.parse(rows[0].state) : undefined;
}

/** Strings a COPY / CSV / appender path could get wrong. */
const HOSTILE = [
  '\\N',
  '\\.',
  '\\',
  '\t',
  '\n',
  '\r',
  '\r\n',
  'NULL',
  'null',
  ' leading and trailing ',
  'comma,separated;semi|pipe',
  `"double" 'single'`,
  '😀 emoji 𝄞 clef',
  'mixed\tZürich\n東京\\Україна\r',
  'C:\\path\\to\\file.csv',
  'x'.repeat(10_000),
];

/**
 * Registers the destination cases for one destination. `openSession` opens a new session on the same warehouse each
 * time where the destination can (the killed-load and concurrency cases need two sessions on one warehouse).
 */
export function destinationCases(name: string, openSession: () => Promise<Session>, options: DestinationCaseOptions = {}): void {
  const skip = options.skip ?? {};
  const test = (id: DestinationCaseId, title: string, fn: () => Promise<void>): void => {
    const reason = skip[id];
    if (reason) it.skip(`${title} — skipped on ${name}: ${reason}`, fn);
    else it(title, fn);
  };

  describe(`destination cases: ${name}`, () => {
    let s: Session;
    const extra: Session[] = [];

    beforeEach(async () => {
      s = await openSession();
      await ensureMetaTables(s); // merge writes change events
      await s.ensureSchema(SCHEMA);
    });
    afterEach(async () => {
      for (const x of extra.splice(0)) await x.close();
      await s?.close();
    });

    async function open(): Promise<Session> {
      const x = await openSession();
      extra.push(x);
      return x;
    }

    async function fresh(t: TableSpec): Promise<TableSpec> {
      await s.exec(`DROP TABLE IF EXISTS ${s.dialect.table(t.schema, t.name)}`);
      await s.ensureTable(t);
      return t;
    }

    test('types', 'every column type round-trips exactly (timestamptz, double, decimal, varchar, bigint, boolean, json, date, integer)', async () => {
      const t = await fresh(TYPES);
      const rows: Row[] = [
        {
          id: 1,
          ts: new Date('2024-01-02T03:04:05.678Z'),
          price: 0.1,
          amount: '12345678901234567890.123456789012345678',
          label: 'Zürich',
          qty: 9007199254740991,
          flag: true,
          meta: { a: 1, b: [true, null, 'x'], c: { d: 'Zürich' } },
          day: '2024-02-29',
          n: 2147483647,
        },
        {
          id: 2,
          ts: '2024-03-10T12:00:00.123+05:30',
          price: 1 / 3,
          amount: '-0.000000000000000001',
          label: '東京',
          qty: -9007199254740991,
          flag: false,
          meta: [1, 'two', { three: 3 }],
          day: new Date('2024-12-31T00:00:00Z'),
          n: -2147483648,
        },
        {
          id: 3,
          ts: 1704067200000,
          price: -1.5e300,
          amount: '1.5',
          label: 'Україна',
          qty: 4611686018427387904n,
          flag: true,
          meta: {},
          day: '1970-01-01',
          n: 0,
        },
        {
          id: 4,
          ts: new Date('1999-12-31T23:59:59.999Z'),
          price: 5e-324,
          amount: 0.1,
          label: '',
          qty: 0,
          flag: false,
          meta: { s: 'tab\t"quoted"\\ line\nend', u: '🚀', z: 'Zürich' },
          day: '2000-01-01',
          n: 42,
        },
        {
          id: 5,
          ts: '2024-06-30 23:59:59',
          price: Number.MAX_VALUE,
          amount: '-99999999999999999999.999999999999999999',
          label: 'Zürich, 東京, Україна',
          qty: '-4611686018427387904',
          flag: 'true',
          meta: '{"already":"json text","n":1.5}',
          day: '2024-06-30',
          n: '7',
        },
        ...HOSTILE.map((label, i) => ({ id: 100 + i, label })),
      ];
      expect(await load(s, t, rows, 'merge', 'r1')).toEqual({ inserted: rows.length, updated: 0, deleted: 0 });
      const nulls = { ts: null, price: null, amount: null, qty: null, flag: null, meta: null, day: null, n: null };
      expect(await select(s, t, TYPE_COLUMNS, ['id'])).toEqual([
        {
          id: 1,
          ts: new Date('2024-01-02T03:04:05.678Z'),
          price: 0.1,
          amount: '12345678901234567890.123456789012345678',
          label: 'Zürich',
          qty: 9007199254740991,
          flag: true,
          meta: { a: 1, b: [true, null, 'x'], c: { d: 'Zürich' } },
          day: '2024-02-29',
          n: 2147483647,
        },
        {
          id: 2,
          ts: new Date('2024-03-10T06:30:00.123Z'),
          price: 1 / 3,
          amount: '-0.000000000000000001',
          label: '東京',
          qty: -9007199254740991,
          flag: false,
          meta: [1, 'two', { three: 3 }],
          day: '2024-12-31',
          n: -2147483648,
        },
        {
          id: 3,
          ts: new Date('2024-01-01T00:00:00Z'),
          price: -1.5e300,
          amount: '1.500000000000000000',
          label: 'Україна',
          qty: '4611686018427387904',
          flag: true,
          meta: {},
          day: '1970-01-01',
          n: 0,
        },
        {
          id: 4,
          ts: new Date('1999-12-31T23:59:59.999Z'),
          price: 5e-324,
          amount: '0.100000000000000000',
          label: '',
          qty: 0,
          flag: false,
          meta: { s: 'tab\t"quoted"\\ line\nend', u: '🚀', z: 'Zürich' },
          day: '2000-01-01',
          n: 42,
        },
        {
          id: 5,
          ts: new Date('2024-06-30T23:59:59Z'),
          price: Number.MAX_VALUE,
          amount: '-99999999999999999999.999999999999999999',
          label: 'Zürich, 東京, Україна',
          qty: '-4611686018427387904',
          flag: true,
          meta: { already: 'json text', n: 1.5 },
          day: '2024-06-30',
          n: 7,
        },
        ...HOSTILE.map((label, i) => ({ id: 100 + i, label, ...nulls })),
      ]);
      // A rerun of the same batch changes nothing: every value compares equal to itself after the round trip.
      expect(await load(s, t, rows, 'merge', 'r2')).toEqual({ inserted: 0, updated: 0, deleted: 0 });
      const lengths = await s.query<{ id: number; len: number }>(
        `SELECT id, LENGTH(label) AS len FROM ${s.dialect.table(t.schema, t.name)} WHERE id IN (1, 2, 3, 113) ORDER BY id`,
      );
      expect(lengths).toEqual([
        { id: 1, len: 6 },
        { id: 2, len: 2 },
        { id: 3, len: 7 },
        { id: 113, len: 24 },
      ]);
    });

    test('nulls', 'NULL in every type stays NULL, distinct from empty and zero values', async () => {
      const t = await fresh({ ...TYPES, name: 'dc_nulls' });
      const allNull = Object.fromEntries(TYPE_COLUMNS.filter((c) => c !== 'id').map((c) => [c, null]));
      const rows: Row[] = [
        { id: 1, ...allNull },
        { id: 2 }, // missing fields load as NULL too
        { id: 3, ...allNull, label: '', price: 0, qty: 0, flag: false, meta: {}, n: 0, amount: '0' },
      ];
      expect(await load(s, t, rows, 'append', 'r1')).toEqual({ inserted: 3, updated: 0, deleted: 0 });
      expect(await select(s, t, TYPE_COLUMNS, ['id'])).toEqual([
        { id: 1, ...allNull },
        { id: 2, ...allNull },
        { id: 3, ...allNull, label: '', price: 0, qty: 0, flag: false, meta: {}, n: 0, amount: '0.000000000000000000' },
      ]);
      const d = s.dialect;
      const nullCounts = TYPE_COLUMNS.map((c) => `SUM(CASE WHEN ${d.ident(c)} IS NULL THEN 1 ELSE 0 END) AS ${d.ident(c)}`);
      const [counts] = await s.query(`SELECT ${nullCounts.join(', ')} FROM ${d.table(t.schema, t.name)}`);
      expect(counts).toEqual({ id: 0, ts: 3, price: 2, amount: 2, label: 2, qty: 2, flag: 2, meta: 2, day: 3, n: 2 });
    });

    test('timeZones', 'a UTC instant stays the same instant, whatever the process time zone', async () => {
      const savedTz = process.env.TZ;
      process.env.TZ = 'Pacific/Chatham'; // UTC+12:45 / +13:45: any local-time slip shows
      try {
        const t = await fresh({ ...TYPES, name: 'dc_time_zones' });
        const rows: Row[] = [
          { id: 1, ts: '2024-03-31T23:30:00-02:00', day: '2024-03-31' },
          { id: 2, ts: new Date('2024-04-01T00:00:00Z'), day: new Date('2024-04-01T00:00:00Z') },
          { id: 3, ts: '2024-03-31 23:59:59.999', day: '2024-03-31 23:59:59' },
          { id: 4, ts: Date.UTC(2024, 9, 27, 1, 0, 0) / 1000, day: null }, // epoch seconds
        ];
        await load(s, t, rows, 'append', 'r1');
        const d = s.dialect;
        const target = d.table(t.schema, t.name);
        expect(await s.query(`SELECT id, ts, CAST(ts AS DATE) AS utc_date, CAST(ts AS VARCHAR) AS text, day FROM ${target} ORDER BY id`)).toEqual([
          { id: 1, ts: new Date('2024-04-01T01:30:00Z'), utc_date: '2024-04-01', text: '2024-04-01 01:30:00+00', day: '2024-03-31' },
          { id: 2, ts: new Date('2024-04-01T00:00:00Z'), utc_date: '2024-04-01', text: '2024-04-01 00:00:00+00', day: '2024-04-01' },
          { id: 3, ts: new Date('2024-03-31T23:59:59.999Z'), utc_date: '2024-03-31', text: '2024-03-31 23:59:59.999+00', day: '2024-03-31' },
          { id: 4, ts: new Date('2024-10-27T01:00:00Z'), utc_date: '2024-10-27', text: '2024-10-27 01:00:00+00', day: null },
        ]);
        // Date parameters bind as the same instant, and come back as it.
        const at = new Date('2024-04-01T01:30:00Z');
        expect(await s.query(`SELECT id FROM ${target} WHERE ${d.ident('ts')} = $1`, [at])).toEqual([{ id: 1 }]);
        expect(await s.query(`SELECT CAST($1 AS TIMESTAMPTZ) AS echoed`, [at])).toEqual([{ echoed: at }]);
      } finally {
        if (savedTz === undefined) delete process.env.TZ;
        else process.env.TZ = savedTz;
      }
    });

    test('stateWithData', 'state and run row commit with the data, or not at all', async () => {
      await ensureMetaTables(s);
      const t = await fresh(pricesSpec('dc_state'));
      const job = { connectionName: 'conformance', tableName: `DC_STATE_${name.toUpperCase()}` };
      await s.exec(`DELETE FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`, [job.connectionName, job.tableName]);
      const rows = priceRows(6);
      const attempt = async (processId: number, crash: boolean): Promise<void> =>
        s.transaction(async () => {
          await s.lockKey(`${job.connectionName}/${job.tableName}`);
          await load(s, t, rows, 'merge', `run-${processId}`);
          await writeStateRow(s, job, { cursor: '2024-01-30T01:00:00Z' }, processId);
          await completeRunRow(s, processId, 6);
          if (crash) throw new TerminalError('crash before commit', { hint: 'thrown on purpose by the conformance case to roll the transaction back' });
        });
      const runRow = async (processId: number) =>
        s.query(`SELECT execution_status, rows_loaded FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);

      const failed = await openRunRow(s, job);
      await expect(attempt(failed, true)).rejects.toThrow('crash before commit');
      expect(await count(s, t)).toBe(0);
      expect(await readStateRow(s, job)).toBeUndefined();
      expect(await runRow(failed)).toEqual([{ execution_status: 0, rows_loaded: null }]);

      const ok = await openRunRow(s, job);
      await attempt(ok, false);
      expect(await count(s, t)).toBe(6);
      expect(await readStateRow(s, job)).toEqual({ cursor: '2024-01-30T01:00:00Z' });
      expect(await runRow(ok)).toEqual([{ execution_status: 1, rows_loaded: 6 }]);
    });

    test('killedMidLoad', 'a connection killed mid-load leaves nothing behind', async () => {
      if (!options.killConnection) {
        throw new ConfigError(`destinationCases(${name}): killConnection is required unless killedMidLoad is skipped`, {
          hint: 'pass killConnection (a function that ends the session\'s server connection), or list killedMidLoad in skip with a reason',
        });
      }
      await ensureMetaTables(s);
      const t = await fresh(pricesSpec('dc_killed'));
      const job = { connectionName: 'conformance', tableName: `DC_KILLED_${name.toUpperCase()}` };
      await s.exec(`DELETE FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`, [job.connectionName, job.tableName]);
      await s.transaction(async () => {
        await load(s, t, priceRows(2), 'merge', 'r0');
        await writeStateRow(s, job, { cursor: 'before' }, 0);
      });
      const before = await select(s, t, ['asset_id', 'time', 'price', '_run_id'], ['asset_id', 'time']);

      const victim = await open();
      const processId = await openRunRow(victim, job);
      const rows = priceRows(200_000);
      // Reading row 2000's price (while the COPY / append streams the batch) fires the kill from another connection.
      let killing: Promise<void> | undefined;
      Object.defineProperty(rows[2000], 'price', {
        enumerable: true,
        get: () => {
          killing ??= options.killConnection!(victim);
          return 1;
        },
      });
      let staged = false;
      const err = await victim
        .transaction(async () => {
          await victim.lockKey(`${job.connectionName}/${job.tableName}`);
          await victim.ensureTable(t);
          const staging = await victim.stage(t, rows, ctxOf('r1'));
          staged = true;
          await applyWriteMode(victim, t, staging, 'merge', ctxOf('r1'));
          await writeStateRow(victim, job, { cursor: 'after' }, processId);
          await completeRunRow(victim, processId, rows.length);
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      await killing;
      expect(killing).toBeDefined();
      expect(staged).toBe(false);
      expect(err).toBeInstanceOf(TransientError);

      const after = await open();
      expect(await select(after, t, ['asset_id', 'time', 'price', '_run_id'], ['asset_id', 'time'])).toEqual(before);
      expect(await readStateRow(after, job)).toEqual({ cursor: 'before' });
      expect(await after.query(`SELECT execution_status FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId])).toEqual([
        { execution_status: 0 },
      ]);
      if (options.stagingTables) expect(await options.stagingTables(after)).toEqual([]);
      // The same load on a healthy connection then goes through.
      expect(await load(after, t, priceRows(10), 'merge', 'r2')).toEqual({ inserted: 8, updated: 0, deleted: 0 });
    });

    test('concurrentRuns', 'two concurrent runs of one job serialize on lockKey and never duplicate rows', async () => {
      const t = pricesSpec('dc_concurrent');
      await s.exec(`DROP TABLE IF EXISTS ${s.dialect.table(t.schema, t.name)}`);
      const a = await open();
      const b = await open();
      const batch = priceRows(3_000); // 25 days: two months, so both runs want the same new partitions
      const events: string[] = [];
      const run = (x: Session, label: string): Promise<LoadResult> =>
        x.transaction(async () => {
          await x.lockKey(`conformance/DC_CONCURRENT_${name}`);
          events.push(`${label} locked`);
          await x.ensureTable(t);
          const result = await load(x, t, batch, 'merge', `run-${label}`);
          await sleep(200); // keep the transaction open so the other run surely waits on the lock
          events.push(`${label} committing`);
          return result;
        });
      const results = await Promise.all([run(a, 'a'), run(b, 'b')]);
      const first = events[0].slice(0, 1);
      const second = first === 'a' ? 'b' : 'a';
      expect(events.indexOf(`${second} locked`)).toBeGreaterThan(events.indexOf(`${first} committing`));
      const byInserted = [...results].sort((x, y) => x.inserted - y.inserted);
      expect(byInserted).toEqual([
        { inserted: 0, updated: 0, deleted: 0 },
        { inserted: 3_000, updated: 0, deleted: 0 },
      ]);
      const d = s.dialect;
      const [keys] = await s.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT DISTINCT ${d.ident('asset_id')}, ${d.ident('time')} FROM ${d.table(t.schema, t.name)}) AS k`,
      );
      expect(await count(s, t)).toBe(3_000);
      expect(keys.n).toBe(3_000);
      expect(await s.query(`SELECT DISTINCT ${d.ident('_run_id')} AS run FROM ${d.table(t.schema, t.name)}`)).toEqual([{ run: `run-${first}` }]);
    });
  });
}
