// The catalog name coinlake predicts for a file is the one DuckDB gives it when the file is opened directly, and the
// table reference it prints works there, for names that collide with a schema and names that do not.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collidingSchema, duckdbCatalogName, duckdbTableReference } from './duckdb-file-name.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-file-name-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const SCHEMAS = ['coinlake', 'coinlake_meta'];

describe('duckdb file names', () => {
  it.each([
    ['warehouse.duckdb', 'warehouse', undefined, 'coinlake.t'],
    ['coinlake.duckdb', 'coinlake', 'coinlake', '"coinlake"."coinlake".t'],
    ['Coinlake.DB', 'Coinlake', 'coinlake', '"Coinlake"."coinlake".t'],
    ['coinlake_meta.duckdb', 'coinlake_meta', 'coinlake_meta', 'coinlake.t'],
    ['coinlake.backup.duckdb', 'coinlake', 'coinlake', '"coinlake"."coinlake".t'],
    ['my.coinlake.duckdb', 'my', undefined, 'coinlake.t'],
    ['coinlake', 'coinlake', 'coinlake', '"coinlake"."coinlake".t'],
  ])('%s: catalog %s as DuckDB names it; the printed reference reads the table', async (name, catalog, colliding, reference) => {
    const file = path.join(dir, name);
    expect([duckdbCatalogName(file), collidingSchema(file, SCHEMAS), duckdbTableReference(file, 'coinlake', 't')]).toEqual([catalog, colliding, reference]);
    const instance = await DuckDBInstance.create(file);
    const c = await instance.connect();
    try {
      expect((await c.runAndReadAll('SELECT current_database() AS d')).getRowObjects()).toEqual([{ d: catalog }]);
      await c.run(`CREATE SCHEMA IF NOT EXISTS ${duckdbTableReference(file, 'coinlake', 't').split('.').slice(0, -1).join('.')}`);
      await c.run(`CREATE OR REPLACE TABLE ${reference} AS SELECT 1 AS x`);
      expect((await c.runAndReadAll(`SELECT x FROM ${reference}`)).getRowObjects()).toEqual([{ x: 1 }]);
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  });

  it(':memory: has no file catalog to collide', () => {
    expect([duckdbCatalogName(':memory:'), collidingSchema(':memory:', SCHEMAS), duckdbTableReference(':memory:', 'coinlake', 't')]).toEqual([undefined, undefined, 'coinlake.t']);
  });
});
