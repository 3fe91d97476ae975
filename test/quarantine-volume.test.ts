// Values set aside at volume stay cheap (#27): a page of bad values, a REST page of 50,000 records with four bad
// values each, is counted exactly in the run row while only the first MAX_QUARANTINE_ENTRIES entries are kept (in
// memory and in the quarantine file) — on the path where the warehouse types the landed page and on the plain path.
// (Before, every bad value was an entry holding its whole record, and 200,000 of them overflowed the stack.)
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogJob } from '../src/catalog/catalog-job.ts';
import { catalogOf, parseCatalogObject } from '../src/catalog/config-file.ts';
import type { Session } from '../src/core/destination.ts';
import type { TableSpec } from '../src/core/table.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { MAX_QUARANTINE_ENTRIES, normalizeRecords } from '../src/normalize/normalizer.ts';
import { runJob } from '../src/runner/run-job.ts';
import { loopbackApi, type LoopbackApi } from './helpers/loopback-api.ts';

const RECORDS = 50_000;
const COLUMNS = [
  { column_name: 'id', mapping_column: 'id', datatype: 'VARCHAR' },
  { column_name: 'current_price', mapping_column: 'current_price', datatype: 'DOUBLE' },
  { column_name: 'market_cap_rank', mapping_column: 'market_cap_rank', datatype: 'INTEGER' },
  { column_name: 'max_supply', mapping_column: 'max_supply', datatype: 'DOUBLE' },
  { column_name: 'last_updated', mapping_column: 'last_updated', datatype: 'TIMESTAMPTZ' },
];
/** Record i: every value but the id is bad. */
const badRecord = (i: number) => ({ id: `coin-${i}`, current_price: 'n/a', market_cap_rank: 'first', max_supply: 'lots', last_updated: 'yesterday' });

describe('normalizeRecords', () => {
  it(`counts every bad value and keeps the first ${MAX_QUARANTINE_ENTRIES.toLocaleString('en-US')} entries`, () => {
    const t: TableSpec = { schema: 'coinlake', name: 't', primaryKey: ['id'], columns: [{ name: 'id', type: 'varchar' }, { name: 'a', type: 'double' }, { name: 'b', type: 'integer' }] } as TableSpec;
    const records = Array.from({ length: 30_000 }, (_, i) => ({ id: String(i), a: 'x', b: i % 2 ? 'y' : 1 }));
    const n = normalizeRecords(t, records);
    expect(n.rows).toHaveLength(30_000);
    expect(n.quarantinedCount).toBe(45_000);
    expect(n.quarantined).toHaveLength(MAX_QUARANTINE_ENTRIES);
    expect(n.quarantined.slice(0, 3).map((q) => [(q.record as { id: string }).id, q.field, q.value])).toEqual([
      ['0', 'a', 'x'],
      ['1', 'a', 'x'],
      ['1', 'b', 'y'],
    ]);
  });
});

describe('a REST page of 50,000 records, every value bad', () => {
  let api: LoopbackApi | undefined;
  let dir: string | undefined;
  let session: Session | undefined;
  afterEach(async () => {
    await session?.close();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    api = dir = session = undefined;
  });

  it.each([
    ['typed by the warehouse as it lands', true],
    ['typed in JavaScript', false],
  ])('%s: 200,000 values counted', async (_label, stageInWarehouse) => {
    api = await loopbackApi(() => ({ body: Array.from({ length: RECORDS }, (_, i) => badRecord(i)) }));
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-quarantine-volume-'));
    session = await openWarehouse(path.join(dir, 'w.duckdb'));
    const catalog = catalogOf(
      parseCatalogObject(
        {
          connections: [{ name: 'LOOP', url: api.url }],
          ingestions: [{ connection: 'LOOP', asset: 'BAD', target_table: 'rest_bad', source: 'rest.records', params: { path: '/coins', pagination: 'none' }, primary_key: ['id'], columns: COLUMNS }],
        },
        'test catalog',
      ),
    );
    const job = catalogJob(catalog.connections[0], catalog.ingestions[0], {}, { rateLimitPerMinute: 0 });
    const s = await runJob(job, { session, lake: new LocalLake(path.join(dir, 'lake')), progress: false, stageInWarehouse });
    expect([s.rowsExtracted, s.rowsLoaded, s.rowsQuarantined]).toEqual([RECORDS, RECORDS, 4 * RECORDS]);
    const [run] = await session.query<{ rows_quarantined: number }>(`SELECT rows_quarantined FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [s.processId]);
    expect(Number(run.rows_quarantined)).toBe(4 * RECORDS);
    const qdir = path.join(dir, 'lake/quarantine/rest_bad');
    const [file] = await readdir(qdir);
    const entries = (await readFile(path.join(qdir, file), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { field: string; value: string; record: { id: string } });
    expect(entries).toHaveLength(MAX_QUARANTINE_ENTRIES);
    expect(entries.slice(0, 5).map((e) => [e.record.id, e.field, e.value])).toEqual([
      ['coin-0', 'current_price', 'n/a'],
      ['coin-0', 'market_cap_rank', 'first'],
      ['coin-0', 'max_supply', 'lots'],
      ['coin-0', 'last_updated', 'yesterday'],
      ['coin-1', 'current_price', 'n/a'],
    ]);
    const [{ n, nulls }] = await session.query<{ n: number; nulls: number }>(`SELECT count(*) AS n, count(*) FILTER (WHERE current_price IS NULL AND market_cap_rank IS NULL) AS nulls FROM coinlake.rest_bad`);
    expect([Number(n), Number(nulls)]).toEqual([RECORDS, RECORDS]);
  }, 120_000);
});
