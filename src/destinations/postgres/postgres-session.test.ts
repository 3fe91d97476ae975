// PostgreSQL-specific behaviour of the session: result shapes, monthly partitions, indexes, schema evolution,
// transactions and locks, staging errors, the registry and the metadata tables.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../../catalog/meta-tables.ts';
import { TerminalError } from '../../core/errors.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { DESTINATIONS, openWarehouse } from '../registry.ts';
import { postgresDestination } from './postgres-destination.ts';
import { advisoryLockId, PostgresSession } from './postgres-session.ts';
import { createTestDatabase, type TestDatabase } from './postgres-test-database.ts';

const CTX = { runId: 'r1', processId: 1, loadedAt: new Date('2024-06-01T00:00:00Z') };

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

let s: PostgresSession;
beforeEach(async () => {
  s = await postgresDestination.open(db.url);
});
afterEach(async () => {
  await s?.close();
});

function ohlcv(name: string, overrides: Partial<TableSpec> = {}): TableSpec {
  return {
    schema: 'coinlake',
    name,
    columns: [
      { name: 'symbol', type: 'varchar' },
      { name: 'ts', type: 'timestamptz' },
      { name: 'close', type: 'double' },
    ],
    primaryKey: ['symbol', 'ts'],
    partitionBy: 'ts',
    clusteredBy: ['symbol'],
    ...overrides,
  };
}

async function partitions(table: string): Promise<Row[]> {
  return s.query(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`,
    [`coinlake.${table}`],
  );
}

describe('registry and destination', () => {
  it('postgres:// and postgresql:// URLs open a PostgreSQL session; file paths stay with DuckDB', async () => {
    expect(DESTINATIONS[0]).toBe(postgresDestination);
    expect(postgresDestination.accepts('postgres://u@h/db')).toBe(true);
    expect(postgresDestination.accepts('POSTGRESQL://u@h:5433/db')).toBe(true);
    expect(postgresDestination.accepts('./coinlake.duckdb')).toBe(false);
    expect(postgresDestination.accepts('duckdb:warehouse.duckdb')).toBe(false);
    expect(DESTINATIONS.filter((d) => d.accepts(db.url)).map((d) => d.name)).toEqual(['postgres']);
    const w = await openWarehouse(db.url.replace(/^postgres:/, 'postgresql:'));
    try {
      expect(w).toBeInstanceOf(PostgresSession);
      expect(w.capabilities).toEqual({ exportsParquet: false, transactionalDdl: true, multiProcess: true });
      expect(await w.query(`SELECT current_setting('TimeZone') AS tz`)).toEqual([{ tz: 'UTC' }]);
    } finally {
      await w.close();
    }
  });

  it('setup creates coinlake and coinlake_meta with the metadata tables, and is idempotent', async () => {
    await ensureMetaTables(s);
    await ensureMetaTables(s);
    const tables = await s.query<{ t: string }>(
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema = 'coinlake_meta' ORDER BY 1`,
    );
    expect(tables.map((r) => r.t)).toEqual([
      'coinlake_meta.asset_alias',
      'coinlake_meta.backfill_chunk',
      'coinlake_meta.backfill_task',
      'coinlake_meta.candle_known_missing',
      'coinlake_meta.change_event',
      'coinlake_meta.exchange_alias',
      'coinlake_meta.ingestion_column_details',
      'coinlake_meta.ingestion_config',
      'coinlake_meta.ingestion_connection_info',
      'coinlake_meta.ingestion_state',
      'coinlake_meta.job_lease',
      'coinlake_meta.quality_result',
      'coinlake_meta.warehouse_identity',
      'coinlake_meta.workflow_action_history',
      'coinlake_meta.workflow_audit_details',
    ]);
    expect(await s.query(`SELECT nspname FROM pg_namespace WHERE nspname IN ('coinlake', 'coinlake_meta') ORDER BY 1`)).toEqual([
      { nspname: 'coinlake' },
      { nspname: 'coinlake_meta' },
    ]);
  });
});

describe('concurrent first runs', () => {
  it('sessions creating the same objects at once with IF NOT EXISTS all succeed', async () => {
    const others = await Promise.all([1, 2, 3].map(() => postgresDestination.open(db.url)));
    try {
      const ddl = Array.from({ length: 12 }, (_, i) => [
        `CREATE SCHEMA IF NOT EXISTS race_${i}`,
        `CREATE SEQUENCE IF NOT EXISTS race_${i}.seq START 1`,
        `CREATE TABLE IF NOT EXISTS race_${i}.t (id BIGINT PRIMARY KEY, v VARCHAR)`,
      ]).flat();
      await Promise.all([s, ...others].map(async (x) => {
        for (const sql of ddl) await x.exec(sql);
      }));
      expect(await s.query(`SELECT COUNT(*) AS n FROM pg_class WHERE relname = 't' AND relnamespace::regnamespace::text LIKE 'race\\_%'`)).toEqual([{ n: 12 }]);
    } finally {
      for (const x of others) await x.close();
    }
  });
});

describe('query results have the DuckDB session shapes', () => {
  it('timestamps → Date, numeric → exact string, int8 → number when safe, json → parsed, date → text', async () => {
    const [row] = await s.query(
      `SELECT TIMESTAMPTZ '2024-01-02 03:04:05.678912+02' AS tz,
              TIMESTAMP '2024-01-02 03:04:05.5' AS naive,
              TIMESTAMPTZ 'infinity' AS inf,
              NUMERIC(38,18) '12345678901234567890.123456789012345678' AS dec,
              CAST(9007199254740991 AS BIGINT) AS safe,
              CAST(9007199254740993 AS BIGINT) AS unsafe,
              COUNT(*) OVER () AS n,
              DATE '2024-02-29' AS day,
              '{"a":[1,"x",null]}'::jsonb AS jb,
              '[1,2]'::json AS j,
              CAST('NaN' AS DOUBLE PRECISION) AS nan,
              2147483647 AS i4,
              TRUE AS yes`,
    );
    expect(row).toEqual({
      tz: new Date('2024-01-02T01:04:05.678Z'),
      naive: new Date('2024-01-02T03:04:05.500Z'),
      inf: 'infinity',
      dec: '12345678901234567890.123456789012345678',
      safe: 9007199254740991,
      unsafe: '9007199254740993',
      n: 1,
      day: '2024-02-29',
      jb: { a: [1, 'x', null] },
      j: [1, 2],
      nan: Number.NaN,
      i4: 2147483647,
      yes: true,
    });
  });

  it('parameters bind like DuckDB: Date as the instant, objects as JSON, bigint exactly', async () => {
    const [row] = await s.query(`SELECT CAST($1 AS TIMESTAMPTZ) AS at, CAST($2 AS JSONB) AS obj, CAST($3 AS BIGINT) AS big, CAST($4 AS TEXT) AS nothing`, [
      new Date('2024-03-10T06:30:00.123Z'),
      { k: ['v', 1] },
      9223372036854775807n,
      undefined,
    ]);
    expect(row).toEqual({ at: new Date('2024-03-10T06:30:00.123Z'), obj: { k: ['v', 1] }, big: '9223372036854775807', nothing: null });
  });
});

describe('tables', () => {
  it('partitionBy → range partitions by month, created for the months of each batch; NULLs in DEFAULT', async () => {
    const t = ohlcv('part_ts');
    await s.ensureTable(t);
    expect(await s.query(`SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('coinlake.part_ts')`)).toEqual([{ kind: 'p' }]);
    expect(await partitions('part_ts')).toEqual([{ name: 'part_ts_default', bound: 'DEFAULT' }]);
    const rows = [
      { symbol: 'BTC-USDT', ts: '2024-01-31T23:59:59.999Z', close: 1 },
      { symbol: 'BTC-USDT', ts: '2024-02-01T00:00:00Z', close: 2 },
      { symbol: 'BTC-USDT', ts: '2023-12-31T23:30:00-01:00', close: 3 }, // 2024-01-01 00:30 UTC
      { symbol: 'BTC-USDT', ts: '2024-12-15T00:00:00Z', close: 4 },
      { symbol: 'ETH-USDT', ts: null, close: 5 },
    ];
    await s.transaction(async () => {
      const staging = await s.stage(t, rows, CTX);
      await applyWriteMode(s, t, staging, 'append', CTX);
    });
    expect(await partitions('part_ts')).toEqual([
      { name: 'part_ts_default', bound: 'DEFAULT' },
      { name: 'part_ts_p202401', bound: "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')" },
      { name: 'part_ts_p202402', bound: "FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')" },
      { name: 'part_ts_p202412', bound: "FOR VALUES FROM ('2024-12-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')" },
    ]);
    expect(await s.query(`SELECT tableoid::regclass::text AS part, close FROM coinlake.part_ts ORDER BY close`)).toEqual([
      { part: 'coinlake.part_ts_p202401', close: 1 },
      { part: 'coinlake.part_ts_p202402', close: 2 },
      { part: 'coinlake.part_ts_p202401', close: 3 },
      { part: 'coinlake.part_ts_p202412', close: 4 },
      { part: 'coinlake.part_ts_default', close: 5 },
    ]);
    // delete_insert across partitions, rerun: same rows, no new partitions.
    for (const _run of ['first', 'rerun']) {
      const result = await s.transaction(async () => applyWriteMode(s, t, await s.stage(t, rows.slice(0, 2), CTX), 'delete_insert', CTX));
      expect(result).toEqual({ inserted: 2, updated: 0, deleted: 2 });
    }
    expect(await s.query(`SELECT COUNT(*) AS n FROM coinlake.part_ts`)).toEqual([{ n: 5 }]);
    expect((await partitions('part_ts')).length).toBe(4);
  });

  it('a date partition column gets date bounds', async () => {
    const t: TableSpec = {
      schema: 'coinlake',
      name: 'part_date',
      columns: [
        { name: 'day', type: 'date' },
        { name: 'v', type: 'bigint' },
      ],
      primaryKey: ['day'],
      partitionBy: 'day',
    };
    await s.ensureTable(t);
    await s.transaction(async () => applyWriteMode(s, t, await s.stage(t, [{ day: '2024-12-31', v: 1 }], CTX), 'merge', CTX));
    expect(await partitions('part_date')).toEqual([
      { name: 'part_date_default', bound: 'DEFAULT' },
      { name: 'part_date_p202412', bound: "FOR VALUES FROM ('2024-12-01') TO ('2025-01-01')" },
    ]);
  });

  it('primaryKey and clusteredBy → b-tree indexes; a clustering prefix of the key reuses the key index', async () => {
    await s.ensureTable(ohlcv('idx_a', { clusteredBy: ['ts'] }));
    await s.ensureTable(ohlcv('idx_b', { clusteredBy: ['symbol'] }));
    const defs = await s.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'coinlake' AND tablename IN ('idx_a', 'idx_b') ORDER BY indexname`,
    );
    expect(defs).toEqual([
      { indexname: 'idx_a_clustered_idx', indexdef: 'CREATE INDEX idx_a_clustered_idx ON ONLY coinlake.idx_a USING btree (ts)' },
      { indexname: 'idx_a_key_idx', indexdef: 'CREATE INDEX idx_a_key_idx ON ONLY coinlake.idx_a USING btree (symbol, ts)' },
      { indexname: 'idx_b_key_idx', indexdef: 'CREATE INDEX idx_b_key_idx ON ONLY coinlake.idx_b USING btree (symbol, ts)' },
    ]);
  });

  it('ensureTable adds the columns that are new in the spec and keeps the rows', async () => {
    const v1 = ohlcv('evolve', { partitionBy: undefined });
    await s.ensureTable(v1);
    await s.transaction(async () => applyWriteMode(s, v1, await s.stage(v1, [{ symbol: 'A', ts: '2024-01-01', close: 1 }], CTX), 'append', CTX));
    const v2: TableSpec = { ...v1, columns: [...v1.columns, { name: 'volume', type: 'double' }, { name: 'meta', type: 'json' }] };
    await s.ensureTable(v2);
    await s.ensureTable(v2);
    expect(await s.query(`SELECT symbol, close, volume, meta FROM coinlake.evolve`)).toEqual([{ symbol: 'A', close: 1, volume: null, meta: null }]);
    const cols = await s.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'coinlake' AND table_name = 'evolve' ORDER BY ordinal_position`,
    );
    expect(cols.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      'symbol character varying',
      'ts timestamp with time zone',
      'close double precision',
      '_run_id character varying',
      '_loaded_at timestamp with time zone',
      'volume double precision',
      'meta jsonb',
    ]);
  });

  it('a table name too long for derived partition names is refused, not truncated', async () => {
    const long = 'x'.repeat(60);
    await expect(s.ensureTable(ohlcv(long))).rejects.toThrow(/too long/);
  });
});

describe('staging', () => {
  const t = ohlcv('stage_t', { partitionBy: undefined, clusteredBy: undefined });

  it('an empty batch stages an empty table', async () => {
    await s.ensureTable(t);
    const staging = await s.stage(t, [], CTX);
    expect(await s.query(`SELECT COUNT(*) AS n FROM ${staging}`)).toEqual([{ n: 0 }]);
    await s.dropStaging(staging);
  });

  it('a bad value names its row and column, leaves no staging table, and the session stays usable', async () => {
    const rows = [
      { symbol: 'A', ts: '2024-01-01', close: 1 },
      { symbol: 'B', ts: '2024-01-01', close: 'not a price' },
    ];
    const err = await s.stage(t, rows, CTX).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toBe('cannot load "not a price" into coinlake.stage_t.close (double), row 2 of the batch: not a number');
    expect(await s.query(`SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'stg\\_%'`)).toEqual([]);
    expect(await s.query(`SELECT 1 AS ok`)).toEqual([{ ok: 1 }]);
  });

  it('a value PostgreSQL rejects during COPY names the batch row and column', async () => {
    const dec: TableSpec = { schema: 'coinlake', name: 'stage_dec', columns: [{ name: 'amount', type: 'decimal(5,2)' }], primaryKey: [] };
    const err = await s.stage(dec, [{ amount: '1.5' }, { amount: '123456.7' }], CTX).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toBe('PostgreSQL rejected row 2 of the batch for coinlake.stage_dec.amount: numeric field overflow');
    expect(await s.query(`SELECT 1 AS ok`)).toEqual([{ ok: 1 }]);
  });

  it('inside a transaction a failed stage rolls the transaction back and the session recovers', async () => {
    await s.ensureTable(t);
    const before = await s.query(`SELECT COUNT(*) AS n FROM coinlake.stage_t`);
    await expect(
      s.transaction(async () => {
        await s.exec(`INSERT INTO coinlake.stage_t (symbol, ts, close) VALUES ('Z', now(), 1)`);
        await s.stage(t, [{ symbol: 'A', ts: 'yesterday-ish', close: 1 }], CTX);
      }),
    ).rejects.toThrow(/row 1 of the batch/);
    expect(await s.query(`SELECT COUNT(*) AS n FROM coinlake.stage_t`)).toEqual(before);
  });
});

describe('appendRows: an append straight into the table (no staging)', () => {
  it('creates the months the rows need first, so each row lands in its own partition, with the lineage of ctx', async () => {
    const t = ohlcv('append_direct');
    await s.ensureTable(t);
    const rows = [
      { symbol: 'BTC-USDT', ts: '2024-01-31T23:59:59.999Z', close: 1 },
      { symbol: 'BTC-USDT', ts: '2023-12-31T23:30:00-01:00', close: 2 }, // 2024-01-01 00:30 UTC
      { symbol: 'ETH-USDT', ts: new Date('2024-03-01T00:00:00Z'), close: 3 },
      { symbol: 'ETH-USDT', ts: null, close: 4 },
    ];
    expect(await s.transaction(() => s.appendRows(t, rows, CTX))).toBe(4);
    expect(await s.transaction(() => s.appendRows(t, [], CTX))).toBe(0);
    expect((await partitions('append_direct')).map((p) => p.name)).toEqual(['append_direct_default', 'append_direct_p202401', 'append_direct_p202403']);
    expect(await s.query(`SELECT tableoid::regclass::text AS part, symbol, ts, close, _run_id, _loaded_at FROM coinlake.append_direct ORDER BY close`)).toEqual([
      { part: 'coinlake.append_direct_p202401', symbol: 'BTC-USDT', ts: new Date('2024-01-31T23:59:59.999Z'), close: 1, _run_id: 'r1', _loaded_at: CTX.loadedAt },
      { part: 'coinlake.append_direct_p202401', symbol: 'BTC-USDT', ts: new Date('2024-01-01T00:30:00Z'), close: 2, _run_id: 'r1', _loaded_at: CTX.loadedAt },
      { part: 'coinlake.append_direct_p202403', symbol: 'ETH-USDT', ts: new Date('2024-03-01T00:00:00Z'), close: 3, _run_id: 'r1', _loaded_at: CTX.loadedAt },
      { part: 'coinlake.append_direct_default', symbol: 'ETH-USDT', ts: null, close: 4, _run_id: 'r1', _loaded_at: CTX.loadedAt },
    ]);
    // It wrote no temporary table.
    expect(await s.query(`SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'stg\\_%'`)).toEqual([]);
  });

  it('a bad value names its row and column and the transaction keeps nothing', async () => {
    const t = ohlcv('append_bad', { partitionBy: undefined, clusteredBy: undefined });
    await s.ensureTable(t);
    const rows = [
      { symbol: 'A', ts: '2024-01-01', close: 1 },
      { symbol: 'B', ts: 'not a time', close: 2 },
    ];
    await expect(s.transaction(() => s.appendRows(t, rows, CTX))).rejects.toThrow('cannot load "not a time" into coinlake.append_bad.ts (timestamptz), row 2 of the batch');
    const dec: TableSpec = { schema: 'coinlake', name: 'append_dec', columns: [{ name: 'amount', type: 'decimal(5,2)' }], primaryKey: [] };
    await s.ensureTable(dec);
    await expect(s.transaction(() => s.appendRows(dec, [{ amount: '1.5' }, { amount: '123456.7' }], CTX))).rejects.toThrow(
      'PostgreSQL rejected row 2 of the batch for coinlake.append_dec.amount: numeric field overflow',
    );
    expect(await s.query(`SELECT (SELECT COUNT(*) FROM coinlake.append_bad) AS a, (SELECT COUNT(*) FROM coinlake.append_dec) AS d`)).toEqual([{ a: 0, d: 0 }]);
  });
});

describe('transactions and locks', () => {
  it('nested transactions join the outer one', async () => {
    await s.exec(`CREATE TABLE IF NOT EXISTS coinlake.tx_nested (v INTEGER)`);
    await expect(
      s.transaction(async () => {
        await s.transaction(async () => s.exec(`INSERT INTO coinlake.tx_nested VALUES (1)`));
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await s.query(`SELECT COUNT(*) AS n FROM coinlake.tx_nested`)).toEqual([{ n: 0 }]);
  });

  it('a statement error swallowed inside a transaction does not pass for a commit', async () => {
    await s.exec(`CREATE TABLE IF NOT EXISTS coinlake.tx_swallow (v INTEGER)`);
    await expect(
      s.transaction(async () => {
        await s.exec(`INSERT INTO coinlake.tx_swallow VALUES (1)`);
        await s.exec(`SELECT no_such_column FROM coinlake.tx_swallow`).catch(() => undefined);
      }),
    ).rejects.toThrow('the transaction was rolled back: a statement inside it failed earlier');
    expect(await s.query(`SELECT COUNT(*) AS n FROM coinlake.tx_swallow`)).toEqual([{ n: 0 }]);
  });

  it('lockKey holds a transaction-scoped advisory lock on a stable 64-bit id', async () => {
    expect(advisoryLockId('COINCAP/ASSETS')).toBe(advisoryLockId('COINCAP/ASSETS'));
    expect(advisoryLockId('coincap/assets')).toBe('-1124844913255823878');
    await expect(s.lockKey('outside')).rejects.toThrow(/must run inside transaction/);
    const other = await postgresDestination.open(db.url);
    try {
      await s.transaction(async () => {
        await s.lockKey('coincap/assets');
        const [held] = await other.query<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock($1::bigint) AS got`, [advisoryLockId('coincap/assets')]);
        expect(held.got).toBe(false);
      });
      const [free] = await other.query<{ got: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS got`, [advisoryLockId('coincap/assets')]);
      expect(free.got).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('close() is safe twice and after the server ended the connection', async () => {
    const victim = await postgresDestination.open(db.url);
    await s.query(`SELECT pg_terminate_backend($1, 10000)`, [victim.backendPid]);
    await expect(victim.query(`SELECT 1`)).rejects.toThrow(/lost the connection to PostgreSQL at 127\.0\.0\.1:5432/);
    expect(victim.isLost).toBe(true);
    await victim.close();
    await victim.close();
  });
});
