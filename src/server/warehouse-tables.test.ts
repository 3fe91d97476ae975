// readWarehouseTables on every warehouse: a partitioned table is listed once, by its parent, never by its partitions.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { openWarehouse } from '../destinations/registry.ts';
import { createTestDatabase, type TestDatabase } from '../destinations/postgres/postgres-test-database.ts';
import { applyWriteMode } from '../load/write-modes.ts';
import { readWarehouseTables } from './warehouse-tables.ts';

const TABLE: TableSpec = {
  schema: 'coinlake',
  name: 'wt_parted',
  columns: [
    { name: 'symbol', type: 'varchar', nullable: false },
    { name: 'ts', type: 'timestamptz', nullable: false },
    { name: 'close', type: 'double' },
  ],
  primaryKey: ['symbol', 'ts'],
  partitionBy: 'ts',
};
const CTX = { runId: 'r1', processId: 1, loadedAt: new Date('2024-03-01T00:00:00Z') };

describe.each(['duckdb', 'postgres'] as const)('readWarehouseTables on %s', (kind) => {
  let s: Session;
  let db: TestDatabase | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-wt-'));
    if (kind === 'postgres') db = await createTestDatabase();
    s = await openWarehouse(db ? db.url : path.join(dir, 'warehouse.duckdb'));
    await ensureMetaTables(s);
    await s.ensureTable(TABLE);
    const rows = [
      { symbol: 'BTC-USDT', ts: '2024-01-31T23:59:59Z', close: 1 },
      { symbol: 'BTC-USDT', ts: '2024-02-01T00:00:00Z', close: 2 },
    ];
    await s.transaction(async () => applyWriteMode(s, TABLE, await s.stage(TABLE, rows, CTX), 'append', CTX));
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the partitioned table with its columns and none of its partitions', async () => {
    const tables = await readWarehouseTables(s);
    expect(tables.tablesOf('coinlake')).toEqual(['wt_parted']);
    expect([...tables.columnsOf('coinlake', 'wt_parted')]).toEqual(['symbol', 'ts', 'close', '_run_id', '_loaded_at']);
    expect(tables.tablesOf('coinlake_meta')).toContain('workflow_action_history');
  });
});
