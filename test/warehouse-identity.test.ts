// The warehouse identity (coinlake_meta.warehouse_identity) on DuckDB and PostgreSQL: written once, the same id for
// every later session and process, and two processes creating it at once agree on one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import { warehouseId } from '../src/catalog/warehouse-identity.ts';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh warehouse of `kind`: where it is, and a session opener. */
async function fresh(kind: WarehouseKind): Promise<{ open: () => Promise<Session> }> {
  let location: string;
  if (kind === 'postgres') {
    const db: TestDatabase = await createTestDatabase();
    cleanups.push(() => db.drop());
    location = db.url;
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-identity-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    location = path.join(dir, 'coinlake.duckdb');
  }
  return {
    open: async () => {
      const s = await openWarehouse(location);
      cleanups.push(() => s.close());
      await ensureMetaTables(s);
      return s;
    },
  };
}

describe.each(WAREHOUSES)('warehouse identity on %s', (kind) => {
  it('is created once and read back by every later session', async () => {
    const w = await fresh(kind);
    const a = await w.open();
    const id = await warehouseId(a);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(await warehouseId(a)).toBe(id);
    const b = await w.open();
    expect(await warehouseId(b)).toBe(id);
    expect(await b.query(`SELECT id, warehouse_id FROM coinlake_meta.warehouse_identity`)).toEqual([{ id: 1, warehouse_id: id }]);
    // Another warehouse has another id.
    expect(await warehouseId(await (await fresh(kind)).open())).not.toBe(id);
  });

  it('sessions creating it at once agree on one id', async () => {
    const w = await fresh(kind);
    const sessions: Session[] = [];
    for (let i = 0; i < 4; i++) sessions.push(await w.open());
    const ids = await Promise.all(sessions.map((s) => warehouseId(s)));
    expect(new Set(ids).size).toBe(1);
    expect(await sessions[0].query(`SELECT count(*) AS n FROM coinlake_meta.warehouse_identity`)).toEqual([{ n: 1 }]);
  });

  it('a row that is not a warehouse id is refused, naming the table', async () => {
    const s = await (await fresh(kind)).open();
    await s.exec(`INSERT INTO coinlake_meta.warehouse_identity (id, warehouse_id, created_at) VALUES (1, 'nope', $1)`, [new Date()]);
    await expect(warehouseId(s)).rejects.toThrow('coinlake_meta.warehouse_identity holds no valid warehouse id (found "nope"; expected 12 hex digits)');
  });
});
