// The catalog in coinlake_meta on every warehouse: idempotent sync, exact updates, export → import identity.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../core/destination.ts';
import { openWarehouse } from '../destinations/registry.ts';
import { createTestDatabase, type TestDatabase } from '../destinations/postgres/postgres-test-database.ts';
import type { Catalog } from './catalog-schema.ts';
import { readCatalog } from './catalog-read.ts';
import { syncCatalog } from './catalog-sync.ts';
import { catalogToYaml } from './catalog-yaml.ts';
import { catalogJob } from './catalog-job.ts';
import { catalogOf, loadBuiltinCatalog, parseCatalogText } from './config-file.ts';
import { ensureMetaTables } from './meta-tables.ts';

/** A fresh, empty warehouse of one engine. */
type Fresh = () => Promise<Session>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const engines: [string, Fresh][] = [
  [
    'duckdb',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-store-'));
      const s = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
      cleanups.push(async () => {
        await s.close();
        await rm(dir, { recursive: true, force: true });
      });
      return s;
    },
  ],
  [
    'postgres',
    async () => {
      const db: TestDatabase = await createTestDatabase();
      const s = await openWarehouse(db.url);
      cleanups.push(async () => {
        await s.close();
        await db.drop();
      });
      return s;
    },
  ],
];

const TABLES = ['ingestion_connection_info', 'ingestion_config', 'ingestion_column_details'];

/** Every row of the three catalog tables, in key order. */
async function snapshot(s: Session): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = await s.query(`SELECT * FROM coinlake_meta.${t} ORDER BY 1, 2, 3`);
  return out;
}

const at = (iso: string) => ({ now: new Date(iso), user: 'tester@host' });

describe.each(engines)('catalog store on %s', (_name, fresh) => {
  it('syncing the same catalog twice changes nothing', async () => {
    const s = await fresh();
    const c = await loadBuiltinCatalog();
    expect(await syncCatalog(s, c, at('2025-01-01T00:00:00Z'))).toEqual({
      connections: { added: 5, updated: 0, unchanged: 0, removed: 0 },
      ingestions: { added: 5, updated: 0, unchanged: 0, removed: 0 },
      columnDetails: { added: 47, updated: 0, unchanged: 0, removed: 0 },
    });
    const before = await snapshot(s);
    expect(await syncCatalog(s, c, at('2025-02-01T00:00:00Z'))).toEqual({
      connections: { added: 0, updated: 0, unchanged: 5, removed: 0 },
      ingestions: { added: 0, updated: 0, unchanged: 5, removed: 0 },
      columnDetails: { added: 0, updated: 0, unchanged: 47, removed: 0 },
    });
    expect(await snapshot(s)).toEqual(before);
  });

  it('a change updates only its row and modified_at; an asset listed with columns gets exactly those; prune removes the rest', async () => {
    const s = await fresh();
    const c = await loadBuiltinCatalog();
    await syncCatalog(s, c, at('2025-01-01T00:00:00Z'));
    const rates = c.ingestions.find((i) => i.asset === 'EXTERNAL_COINCAP_RATES')!;
    const changed: Catalog = {
      connections: c.connections,
      ingestions: c.ingestions.map((i) => (i === rates ? { ...i, write_mode: 'merge' as const, columns: i.columns!.slice(0, 5) } : i)),
    };
    expect(await syncCatalog(s, changed, at('2025-02-01T00:00:00Z'))).toEqual({
      connections: { added: 0, updated: 0, unchanged: 5, removed: 0 },
      ingestions: { added: 0, updated: 1, unchanged: 4, removed: 0 },
      columnDetails: { added: 0, updated: 0, unchanged: 46, removed: 1 },
    });
    const rows = await s.query<{ table_name: string; write_mode: string | null; created_at: Date; modified_at: Date; modified_by: string }>(
      `SELECT table_name, write_mode, created_at, modified_at, modified_by FROM coinlake_meta.ingestion_config ORDER BY ingestion_config_id`,
    );
    expect(rows.find((r) => r.table_name === 'EXTERNAL_COINCAP_RATES')).toEqual({
      table_name: 'EXTERNAL_COINCAP_RATES',
      write_mode: 'merge',
      created_at: new Date('2025-01-01T00:00:00Z'),
      modified_at: new Date('2025-02-01T00:00:00Z'),
      modified_by: 'tester@host',
    });
    expect(rows.filter((r) => r.modified_at.getTime() === Date.parse('2025-01-01T00:00:00Z'))).toHaveLength(4);
    const pruned: Catalog = { connections: c.connections.slice(0, 1), ingestions: c.ingestions.slice(0, 1) };
    expect(await syncCatalog(s, pruned, { ...at('2025-03-01T00:00:00Z'), prune: true })).toEqual({
      connections: { added: 0, updated: 0, unchanged: 1, removed: 4 },
      ingestions: { added: 0, updated: 0, unchanged: 1, removed: 4 },
      columnDetails: { added: 0, updated: 0, unchanged: 14, removed: 32 },
    });
    expect((await readCatalog(s)).ingestions.map((i) => i.asset)).toEqual(['EXTERNAL_COINCAP_ASSETS']);
  });

  it('rate_limit_shared: YAML → coinlake_meta → the catalog read back, its export, and the job (absent stays absent)', async () => {
    const s = await fresh();
    const c = catalogOf(
      parseCatalogText(
        `connections:
  - { name: SHARED_KEY, url: 'http://127.0.0.1:9/api', rate_limit_per_minute: 600, rate_limit_shared: true }
  - { name: OWN_KEY, url: 'http://127.0.0.1:9/api', rate_limit_per_minute: 600 }
ingestions:
  - { connection: SHARED_KEY, asset: A, target_table: rest_a, source: rest.records, params: { path: /a }, primary_key: [id], columns: [{ column_name: id, mapping_column: id, datatype: VARCHAR }] }
  - { connection: OWN_KEY, asset: B, target_table: rest_b, source: rest.records, params: { path: /b }, primary_key: [id], columns: [{ column_name: id, mapping_column: id, datatype: VARCHAR }] }
`,
        'shared.yaml',
      ),
    );
    await syncCatalog(s, c, at('2025-01-01T00:00:00Z'));
    expect(await s.query(`SELECT connection_name, rate_limit_shared FROM coinlake_meta.ingestion_connection_info ORDER BY 1`)).toEqual([
      { connection_name: 'OWN_KEY', rate_limit_shared: null },
      { connection_name: 'SHARED_KEY', rate_limit_shared: true },
    ]);
    const back = await readCatalog(s);
    expect(back.connections.map((x) => [x.name, x.rate_limit_shared])).toEqual([
      ['SHARED_KEY', true],
      ['OWN_KEY', undefined],
    ]);
    expect(catalogToYaml(back)).toContain('rate_limit_shared: true');
    expect(catalogToYaml(back).match(/rate_limit_shared/g)).toHaveLength(1);
    const jobs = back.ingestions.map((i) => catalogJob(back.connections.find((x) => x.name === i.connection)!, i));
    expect(jobs.map((j) => [j.name, j.rateLimitPerMinute, j.rateLimitShared])).toEqual([
      ['SHARED_KEY/A', 600, true],
      ['OWN_KEY/B', 600, undefined],
    ]);
    expect(() => parseCatalogText(`connections: [{ name: X, rate_limit_shared: sometimes }]\ningestions: []\n`, 'bad.yaml')).toThrow(/rate_limit_shared/);
  });

  it('export then import into an empty warehouse gives identical tables, and the same export', async () => {
    const a = await fresh();
    const b = await fresh();
    const c = await loadBuiltinCatalog();
    await syncCatalog(a, c, at('2025-01-01T00:00:00.123Z'));
    await a.exec(`UPDATE coinlake_meta.ingestion_connection_info SET secret_encrypted = 'v1:aaaa:bbbb:cccc' WHERE connection_name = 'COINCAP_RATES'`);
    const custom = catalogOf(
      parseCatalogText(
        `connections: [{ name: EXTRA, url: "http://127.0.0.1:1/v2", auth_type: basic, user_name: me, sandbox: true }]
ingestions:
  - { connection: EXTRA, asset: RATES_COPY, target_table: rates_copy, source: coincap.rates, params: { limit: 50, verbose: true }, write_mode: append, on_missing: fail, schedule: "*/5 * * * *", enabled: false, is_external: true, lake_destination: s3://bucket/x, file_format: json, delimiter: "|" }`,
        'custom.yaml',
      ),
    );
    await syncCatalog(a, custom, at('2025-01-02T00:00:00Z'));
    const yaml = catalogToYaml(await readCatalog(a));
    await syncCatalog(b, catalogOf(parseCatalogText(yaml, 'export.yaml')), at('2030-01-01T00:00:00Z'));
    expect(await snapshot(b)).toEqual(await snapshot(a));
    expect(catalogToYaml(await readCatalog(b))).toBe(yaml);
    // The same file again changes nothing.
    const again = await syncCatalog(b, catalogOf(parseCatalogText(yaml, 'export.yaml')), at('2031-01-01T00:00:00Z'));
    expect([again.connections.unchanged, again.ingestions.unchanged, again.columnDetails.unchanged]).toEqual([6, 6, 47]);
  });

  it('a warehouse set up before on_missing existed gets the column, then setup is a no-op', async () => {
    const s = await fresh();
    await ensureMetaTables(s);
    await s.exec(`ALTER TABLE coinlake_meta.ingestion_config DROP COLUMN on_missing`);
    await ensureMetaTables(s);
    await syncCatalog(s, await loadBuiltinCatalog(), at('2025-01-01T00:00:00Z'));
    const before = await snapshot(s);
    await ensureMetaTables(s);
    expect(await snapshot(s)).toEqual(before);
    expect((await readCatalog(s)).ingestions.every((i) => i.on_missing === 'null')).toBe(true);
  });

  it('rows read back are validated like a file', async () => {
    const s = await fresh();
    await syncCatalog(s, await loadBuiltinCatalog(), at('2025-01-01T00:00:00Z'));
    await s.exec(`UPDATE coinlake_meta.ingestion_config SET load_type = 'DELTA' WHERE table_name = 'EXTERNAL_COINCAP_RATES'`);
    await expect(readCatalog(s)).rejects.toThrow('coinlake_meta: ingestions[3] (EXTERNAL_COINCAP_RATES).load_type: expected one of FULL, INCR, got "DELTA"');
    // A lookup of another entry still works.
    expect((await readCatalog(s, { connection: 'COINCAP_ASSET', asset: 'EXTERNAL_COINCAP_ASSETS' })).ingestions).toHaveLength(1);
  });
});
