// A REST batch larger than the spill bound (#27): two cursor pages of 70,000 and 50,000 records — ids with quotes,
// backslashes and non-ASCII, 20,000 ids repeated on the second page, a bad price in every seventh record, null times —
// read a slice at a time (Page.slices) and spilled to a staging table past SPILL_ROWS (DuckDB's own; on PostgreSQL a
// scratch table of the file engine copied in as CSV). What lands must equal a plain computation in this test: the last
// record per id, the bad prices counted and set to NULL, the watermark the newest time, and every row in the curated
// Parquet.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogJob } from '../src/catalog/catalog-job.ts';
import { catalogOf, parseCatalogObject } from '../src/catalog/config-file.ts';
import { openFileEngine } from '../src/destinations/file-engine.ts';
import { SPILL_ROWS } from '../src/pipeline/run-steps.ts';
import { runJob } from '../src/runner/run-job.ts';
import { loopbackApi, type LoopbackApi } from './helpers/loopback-api.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const PAGE_1 = 70_000;
const TOTAL = 120_000;
const DISTINCT = 100_000;
const BASE = Date.UTC(2024, 0, 1);

const idOf = (k: number) => (k % 1000 === 0 ? `coin "${k}" \\ ✓` : `coin-${k}`);
/** Record i of the API: id i mod 100,000; a bad price every 7th; no time every 13th. */
const record = (i: number) => ({
  id: idOf(i % DISTINCT),
  current_price: i % 7 === 0 ? 'n/a' : 1000 + i / 8,
  market_cap_rank: i + 1,
  last_updated: i % 13 === 0 ? null : new Date(BASE + i * 1000).toISOString(),
  symbol: `c${i}`,
});

let env: SpineEnv | undefined;
let api: LoopbackApi | undefined;
afterEach(async () => {
  await api?.close();
  await env?.close();
  api = env = undefined;
});

describe.each(WAREHOUSES)('a REST batch of %s larger than the spill bound', (kind) => {
  it(`${TOTAL.toLocaleString('en-US')} records over two pages land exactly as a plain computation says`, async () => {
    expect(PAGE_1).toBeGreaterThan(SPILL_ROWS);
    api = await loopbackApi((url) => {
      const second = url.searchParams.get('cursor') === 'p2';
      const ids = second ? [PAGE_1, TOTAL] : [0, PAGE_1];
      const data = Array.from({ length: ids[1] - ids[0] }, (_, k) => record(ids[0] + k));
      return { body: { meta: { next: second ? null : 'p2', note: '{"data": [1, 2]}' }, data } };
    });
    env = await spineEnv(kind);
    const catalog = catalogOf(
      parseCatalogObject(
        {
          connections: [{ name: 'LOOP', url: api.url }],
          ingestions: [
            {
              connection: 'LOOP',
              asset: 'MARKETS',
              target_table: 'rest_big',
              source: 'rest.records',
              load_type: 'INCR',
              incremental_date_column: 'last_updated',
              params: { path: '/coins', pagination: 'cursor', records_path: 'data', cursor_path: 'meta.next', cursor_field: 'last_updated' },
              primary_key: ['id'],
              columns: [
                { column_name: 'id', mapping_column: 'id', datatype: 'VARCHAR' },
                { column_name: 'current_price', mapping_column: 'current_price', datatype: 'DOUBLE' },
                { column_name: 'market_cap_rank', mapping_column: 'market_cap_rank', datatype: 'INTEGER' },
                { column_name: 'last_updated', mapping_column: 'last_updated', datatype: 'TIMESTAMPTZ' },
              ],
            },
          ],
        },
        'test catalog',
      ),
    );
    const job = catalogJob(catalog.connections[0], catalog.ingestions[0], {}, { rateLimitPerMinute: 0 });
    const s = await runJob(job, { session: env.session, lake: env.lake, progress: false });

    // The plain computation: the last record per id wins; a bad price is one value set aside.
    const expected = new Map<string, [string, number | null, number, number | null]>();
    let bad = 0;
    let newest = 0;
    for (let i = 0; i < TOTAL; i++) {
      const r = record(i);
      if (typeof r.current_price !== 'number') bad++;
      const t = r.last_updated === null ? null : Date.parse(r.last_updated);
      if (t !== null) newest = Math.max(newest, t);
      expected.set(r.id, [r.id, typeof r.current_price === 'number' ? r.current_price : null, r.market_cap_rank, t]);
    }
    expect(api.paths).toEqual(['/coins', '/coins?cursor=p2']);
    expect([s.pages, s.rowsExtracted, s.rowsQuarantined]).toEqual([2, TOTAL, bad]);
    expect(s.state).toEqual({ watermark: newest });
    expect(await readFile(s.logPath, 'utf8')).toContain(`"rows":${SPILL_ROWS},"msg":"the batch is large: its rows wait in a staging table"`);

    const rows = await env.session.query<{ id: string; current_price: number | null; market_cap_rank: number; last_updated: Date | null }>(
      `SELECT id, current_price, market_cap_rank, last_updated FROM coinlake.rest_big`,
    );
    const got = rows.map((r) => [r.id, r.current_price === null ? null : Number(r.current_price), Number(r.market_cap_rank), r.last_updated === null ? null : new Date(r.last_updated).getTime()]);
    const byId = (a: unknown[], b: unknown[]) => ((a[0] as string) < (b[0] as string) ? -1 : 1);
    expect(got.length).toBe(DISTINCT);
    expect(got.sort(byId)).toEqual([...expected.values()].sort(byId));

    // Every typed row is in the run's curated Parquet, in record order.
    const curated = s.lakePaths.length > 0 ? path.join(env.lake.root, 'curated', 'rest_big') : '';
    const engine = await openFileEngine();
    try {
      // One file (the load day's); record i (rank i + 1) is its row i.
      const [c] = await engine.query<{ n: number; ids: number; ranks: number; files: number; misplaced: number }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(market_cap_rank) AS ranks, count(DISTINCT filename) AS files,
                count(*) FILTER (WHERE market_cap_rank <> file_row_number + 1) AS misplaced
           FROM read_parquet('${curated}/**/*.parquet', filename = true, file_row_number = true)`,
      );
      expect([Number(c.n), Number(c.ids), Number(c.ranks), Number(c.files), Number(c.misplaced)]).toEqual([TOTAL, DISTINCT, (TOTAL * (TOTAL + 1)) / 2, 1, 0]);
    } finally {
      await engine.close();
    }
  }, 180_000);
});
