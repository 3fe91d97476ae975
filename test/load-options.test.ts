// End to end: an ingestion's load options — delete_missing (merge), close_missing (scd2), audit: { k, min_runs } and
// change_events (all | changes | none) —
// from a YAML catalog through the coinlake_meta tables (ingestion_config.extra_parameters) to the rows, change events
// and audit warnings of real runs, on DuckDB and PostgreSQL. The source is a JSON API on loopback whose snapshot the
// test changes between runs (rest.records).
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalogJob } from '../src/catalog/catalog-job.ts';
import { readCatalog } from '../src/catalog/catalog-read.ts';
import { syncCatalog } from '../src/catalog/catalog-sync.ts';
import { catalogToYaml } from '../src/catalog/catalog-yaml.ts';
import { catalogOf, parseCatalogText } from '../src/catalog/config-file.ts';
import type { Catalog } from '../src/catalog/catalog-schema.ts';
import { runJob, type RunSummary } from '../src/runner/run-job.ts';
import { assetHistoryTable, assetsTable, ratesTable } from '../src/sources/coincap/coincap-tables.ts';
import { erc20TransfersTable } from '../src/sources/evm/evm-tables.ts';
import { ohlcvTable } from '../src/sources/ohlcv-table.ts';
import { streamPricesTable, streamTradesTable } from '../src/streaming/stream-tables.ts';
import { jsonSite, type JsonSite } from './helpers/json-site.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

let env: SpineEnv | undefined;
let site: JsonSite | undefined;
afterEach(async () => {
  await site?.close();
  await env?.close();
  site = undefined;
  env = undefined;
});

type Coin = { id: string; price: number };
let snapshot: Coin[] = [];

/** A one-ingestion catalog (YAML, as a user writes it) over the loopback site, with `extra` lines in the ingestion. */
function catalogYaml(url: string, extra: string): Catalog {
  const text = `
connections:
  - { name: SNAP, url: "${url}" }
ingestions:
  - connection: SNAP
    asset: COINS
    target_table: snap_coins
    source: rest.records
    params: { path: /coins, pagination: none }
    primary_key: [id]
${extra
  .trim()
  .split('\n')
  .map((l) => `    ${l.trim()}`)
  .join('\n')}
    columns:
      - { column_name: id, mapping_column: id, datatype: VARCHAR }
      - { column_name: price, mapping_column: price, datatype: DOUBLE }
`;
  return catalogOf(parseCatalogText(text, 'coinlake.yaml'));
}

/** Starts the site and a warehouse, loads the catalog into the meta tables (as `coinlake setup` does). */
async function setUp(kind: (typeof WAREHOUSES)[number], extra: string): Promise<Catalog> {
  env = await spineEnv(kind);
  site = await jsonSite(() => snapshot);
  const catalog = catalogYaml(site.url, extra);
  await syncCatalog(env.session, catalog);
  return catalog;
}

/** Runs COINS over `coins`, the job read back from the meta tables. */
async function runSnapshot(catalog: Catalog, coins: Coin[]): Promise<RunSummary> {
  snapshot = coins;
  const job = await loadCatalogJob(env!.session, { connection: 'SNAP', asset: 'COINS', seed: catalog, seedLabel: 'coinlake.yaml' }, {}, { rateLimitPerMinute: 0 });
  return runJob(job, { session: env!.session, lake: env!.lake, progress: false });
}

const extraParameters = async () =>
  (await env!.session.query<{ e: string }>(`SELECT extra_parameters AS e FROM coinlake_meta.ingestion_config WHERE table_name = 'COINS'`))[0].e;

/** Events of snap_coins (by process, then update, insert, delete, then key): process, operation, key, before and after images. */
async function events(): Promise<[number, string, string, unknown, unknown][]> {
  const rows = await env!.session.query<{ p: number; op: string; k: string; b: string | null; a: string | null }>(
    `SELECT process_id AS p, operation AS op, primary_key AS k, "before" AS b, "after" AS a FROM coinlake_meta.change_event
      WHERE table_name = 'coinlake.snap_coins' ORDER BY process_id, operation DESC, primary_key`,
  );
  return rows.map((r) => [Number(r.p), r.op, r.k, r.b && JSON.parse(r.b), r.a && JSON.parse(r.a)]);
}

describe.each(WAREHOUSES)('load options from the catalog on %s', (kind) => {
  it('merge with delete_missing: a key absent from the next snapshot is deleted, with a delete event', async () => {
    const catalog = await setUp(kind, 'write_mode: merge\ndelete_missing: true');
    expect(JSON.parse(await extraParameters())).toEqual({ delete_missing: true, pagination: 'none', path: '/coins' });
    expect(catalogToYaml(await readCatalog(env!.session))).toContain('\n    delete_missing: true\n');
    const first = await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'b', price: 2 }, { id: 'c', price: 3 }]);
    expect(first.load).toEqual({ inserted: 3, updated: 0, deleted: 0 });
    const second = await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'c', price: 3.5 }]);
    expect(second.load).toEqual({ inserted: 0, updated: 1, deleted: 1 });
    const rows = await env!.session.query(`SELECT id, price, _run_id FROM coinlake.snap_coins ORDER BY id`);
    expect(rows).toEqual([
      { id: 'a', price: 1, _run_id: first.runId },
      { id: 'c', price: 3.5, _run_id: second.runId },
    ]);
    const [p1, p2] = [first.processId, second.processId];
    expect(await events()).toEqual([
      [p1, 'insert', '{"id":"a"}', null, { id: 'a', price: 1 }],
      [p1, 'insert', '{"id":"b"}', null, { id: 'b', price: 2 }],
      [p1, 'insert', '{"id":"c"}', null, { id: 'c', price: 3 }],
      [p2, 'update', '{"id":"c"}', { id: 'c', price: 3 }, { id: 'c', price: 3.5 }],
      [p2, 'delete', '{"id":"b"}', { id: 'b', price: 2 }, null],
    ]);
    // An empty snapshot deletes nothing.
    expect((await runSnapshot(catalog, [])).load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
    expect(await env!.session.query(`SELECT id FROM coinlake.snap_coins ORDER BY id`)).toEqual([{ id: 'a' }, { id: 'c' }]);
  });

  it('scd2 with close_missing: the current version of a key absent from the next snapshot is closed, with a delete event', async () => {
    // Set in the meta table by hand, as a user of the framework's tables would: extra_parameters is JSON.
    const catalog = await setUp(kind, 'write_mode: scd2');
    await env!.session.exec(`UPDATE coinlake_meta.ingestion_config SET extra_parameters = $1 WHERE table_name = 'COINS'`, ['{"path": "/coins", "pagination": "none", "close_missing": true}']);
    expect((await readCatalog(env!.session)).ingestions[0]).toMatchObject({ close_missing: true, params: { path: '/coins', pagination: 'none' } });
    const first = await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'b', price: 2 }]);
    const second = await runSnapshot(catalog, [{ id: 'a', price: 1.5 }]);
    expect(second.load).toEqual({ inserted: 0, updated: 1, deleted: 1 });
    const [at1, at2] = await Promise.all(
      [first, second].map(async (s) => (await env!.session.query<{ t: Date }>(`SELECT MAX(_loaded_at) AS t FROM coinlake.snap_coins WHERE _run_id = $1`, [s.runId]))[0].t),
    );
    const rows = await env!.session.query(`SELECT id, price, valid_from, valid_to, is_current, _run_id FROM coinlake.snap_coins ORDER BY id, valid_from`);
    expect(rows).toEqual([
      { id: 'a', price: 1, valid_from: at1, valid_to: at2, is_current: false, _run_id: first.runId },
      { id: 'a', price: 1.5, valid_from: at2, valid_to: null, is_current: true, _run_id: second.runId },
      { id: 'b', price: 2, valid_from: at1, valid_to: at2, is_current: false, _run_id: first.runId },
    ]);
    const [p1, p2] = [first.processId, second.processId];
    expect(await events()).toEqual([
      [p1, 'insert', '{"id":"a"}', null, { id: 'a', price: 1 }],
      [p1, 'insert', '{"id":"b"}', null, { id: 'b', price: 2 }],
      [p2, 'update', '{"id":"a"}', { id: 'a', price: 1 }, { id: 'a', price: 1.5 }],
      [p2, 'delete', '{"id":"b"}', { id: 'b', price: 2 }, null],
    ]);
  });

  it('audit: { k, min_runs } sets the k·σ rule: a delta 2.1 sd from the mean is flagged with k 1 after 2 runs, not with the defaults', async () => {
    const sizes = [2, 3, 6]; // deltas +2, +1, +3: the third is |3 - 1.5| / 0.71 = 2.1 sd from the mean of the first two
    const coins = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, price: i }));
    const warnings = async (extra: string) => {
      const catalog = await setUp(kind, `write_mode: merge\n${extra}`);
      const out: string[][] = [];
      for (const n of sizes) {
        const s = await runSnapshot(catalog, coins(n));
        const [row] = await env!.session.query<{ details: string }>(`SELECT details FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [s.processId]);
        out.push((JSON.parse(row.details) as { warnings: string[] }).warnings);
      }
      const text = await extraParameters();
      await env!.close();
      await site!.close();
      env = undefined;
      site = undefined;
      return { out, text };
    };
    const tuned = await warnings('audit: { k: 1, min_runs: 2 }');
    expect(JSON.parse(tuned.text)).toEqual({ audit: { k: 1, min_runs: 2 }, pagination: 'none', path: '/coins' });
    expect(tuned.out).toEqual([
      [],
      [],
      ['row-count delta +3 on coinlake.snap_coins is 2.1 standard deviations from the mean 1.50 of the 2 earlier runs (sd 0.71, k = 1)'],
    ]);
    expect((await warnings('')).out).toEqual([[], [], []]);
  });
});

describe.each(WAREHOUSES)('change_events on %s', (kind) => {
  const counts = async () =>
    (await env!.session.query<{ op: string; n: number }>(`SELECT operation AS op, COUNT(*) AS n FROM coinlake_meta.change_event GROUP BY operation ORDER BY operation`)).map(
      (r) => [r.op, Number(r.n)],
    );

  // Two snapshots: 3 new keys; then 1 changed, 1 unchanged, 1 dropped (delete_missing), 1 new.
  for (const [policy, expected] of [
    ['all', [['delete', 1], ['insert', 4], ['update', 1]]],
    ['changes', [['delete', 1], ['update', 1]]],
    ['none', []],
  ] as const) {
    it(`change_events: ${policy} — exact events of two merges`, async () => {
      const catalog = await setUp(kind, `write_mode: merge\ndelete_missing: true\nchange_events: ${policy}`);
      expect(JSON.parse(await extraParameters())).toEqual({ change_events: policy, delete_missing: true, pagination: 'none', path: '/coins' });
      await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'b', price: 2 }, { id: 'c', price: 3 }]);
      const second = await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'b', price: 2.5 }, { id: 'd', price: 4 }]);
      expect(second.load).toEqual({ inserted: 1, updated: 1, deleted: 1 });
      expect(await counts()).toEqual(expected);
    });
  }

  it('scd2 follows the policy too: changes writes the update and the close, no insert', async () => {
    const catalog = await setUp(kind, 'write_mode: scd2\nclose_missing: true\nchange_events: changes');
    await runSnapshot(catalog, [{ id: 'a', price: 1 }, { id: 'b', price: 2 }]);
    await runSnapshot(catalog, [{ id: 'a', price: 1.5 }, { id: 'c', price: 3 }]);
    expect(await counts()).toEqual([['delete', 1], ['update', 1]]);
  });

  it('defaults: a time series (asset history) writes no insert event, unless its ingestion says all; a snapshot table writes them', async () => {
    env = await spineEnv(kind);
    const window = { asset: 'bitcoin', interval: 'h1', from: '2024-01-01', to: '2024-01-03' };
    expect((await env.run('coincap.asset_history', window)).rowsLoaded).toBe(48);
    expect(await counts()).toEqual([]);
    const all = catalogOf(
      parseCatalogText(
        `connections: [{ name: HIST, url: "${env.replay.coincapV2Url}" }]
ingestions:
  - { connection: HIST, asset: BTC_H1, target_table: btc_history, source: coincap.asset_history, params: { asset: bitcoin, interval: h1 }, write_mode: merge, change_events: all }`,
        'coinlake.yaml',
      ),
    );
    await syncCatalog(env.session, all);
    const job = await loadCatalogJob(env.session, { connection: 'HIST', asset: 'BTC_H1', seed: all, seedLabel: 'coinlake.yaml' }, { from: '2024-01-01', to: '2024-01-03' }, { rateLimitPerMinute: 0 });
    expect(job.table.changeEvents).toBe('all');
    await runJob(job, { session: env.session, lake: env.lake, progress: false });
    expect(await counts()).toEqual([['insert', 48]]);
    await env.run('coincap.rates');
    const [{ n }] = await env.session.query<{ n: number }>(`SELECT COUNT(*) AS n FROM coinlake_meta.change_event WHERE table_name = 'coinlake.coincap_rates' AND operation = 'insert'`);
    const [{ rows }] = await env.session.query<{ rows: number }>(`SELECT COUNT(*) AS rows FROM coinlake.coincap_rates`);
    expect(Number(n)).toBe(Number(rows));
    expect(Number(rows)).toBeGreaterThan(0);
  });
});

describe('change_events defaults of the built-in tables', () => {
  it('time series default to changes; snapshot tables to all', () => {
    const series = [assetHistoryTable, ohlcvTable('1m'), ohlcvTable('1h'), streamTradesTable, streamPricesTable, erc20TransfersTable];
    expect(series.map((t) => [t.name, t.changeEvents])).toEqual(series.map((t) => [t.name, 'changes']));
    expect([assetsTable, ratesTable].map((t) => t.changeEvents ?? 'all')).toEqual(['all', 'all']);
  });
});

describe('load options: checks', () => {
  const bad = (extra: string) => () => catalogYaml('http://127.0.0.1:1', extra);

  it('each option is checked against its write mode and form, naming the asset and key', async () => {
    const { validateCatalog } = await import('../src/catalog/catalog-job.ts');
    expect(validateCatalog(catalogYaml('http://127.0.0.1:1', 'delete_missing: true'))).toEqual([
      'ingestions[0] (SNAP/COINS): delete_missing applies to write mode merge, and this ingestion writes with replace; expected write_mode: merge (or no delete_missing)',
    ]);
    expect(validateCatalog(catalogYaml('http://127.0.0.1:1', 'write_mode: merge\nclose_missing: true'))).toEqual([
      'ingestions[0] (SNAP/COINS): close_missing applies to write mode scd2, and this ingestion writes with merge; expected write_mode: scd2 (or no close_missing)',
    ]);
    expect(bad('audit: { k: 0 }')).toThrow('coinlake.yaml: ingestions[0] (COINS).audit.k: expected k > 0');
    expect(bad('audit: { sigma: 2 }')).toThrow('coinlake.yaml: ingestions[0] (COINS).audit');
    expect(bad('change_events: inserts')).toThrow('coinlake.yaml: ingestions[0] (COINS).change_events: expected one of all, changes, none, got "inserts"');
  });
});
