// End to end: change events of real CoinCap runs on every warehouse (the same JSON text on each), `coinlake changes`
// and `coinlake check` as functions and as the CLI.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { QualityCheck } from '../src/core/quality-check.ts';
import type { TableSpec } from '../src/core/table.ts';
import { describeChange, formatChanges, listChanges, qualifyTable } from '../src/cli/changes-command.ts';
import { checkTables, formatCheckReport } from '../src/cli/check-command.ts';
import { assetsTable } from '../src/sources/coincap/coincap-tables.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/coincap-v2/${name}.json`, import.meta.url), 'utf8'));

const envs: SpineEnv[] = [];
afterEach(async () => {
  for (const e of envs.splice(0)) await e.close();
});
async function open(kind: (typeof WAREHOUSES)[number]): Promise<SpineEnv> {
  const e = await spineEnv(kind);
  envs.push(e);
  return e;
}

describe.each(WAREHOUSES)('on %s', (kind) => {
  it('merge runs record inserts, then only the changed rows; `changes` reads them back', async () => {
    const env = await open(kind);
    const first = await env.run('coincap.assets');
    const again = await env.run('coincap.assets');
    const data = env.replay.getData('assets');
    const btc = fixture('assets').find((r: { id: string }) => r.id === 'bitcoin');
    expect(data[0].id).toBe('bitcoin');
    env.replay.setData('assets', [{ ...data[0], priceUsd: '1.5000000000000000' }, ...data.slice(1), { ...data[1], id: 'newcoin', rank: '101' }]);
    const third = await env.run('coincap.assets');
    const perRun = await env.session.query<{ process_id: number; operation: string; n: number }>(
      `SELECT process_id, operation, COUNT(*) AS n FROM coinlake_meta.change_event WHERE table_name = 'coinlake.coincap_assets' GROUP BY process_id, operation ORDER BY process_id, operation`,
    );
    expect(perRun.map((r) => [r.process_id, r.operation, Number(r.n)])).toEqual([
      [first.processId, 'insert', 100],
      [third.processId, 'insert', 1],
      [third.processId, 'update', 1],
    ]);
    expect(again.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });

    const events = await listChanges(env.session, qualifyTable('coincap_assets'), { key: 'bitcoin' });
    expect(events.map((e) => [e.processId, e.operation, e.key, e.changedColumns])).toEqual([
      [first.processId, 'insert', { id: 'bitcoin' }, assetsTable.columns.filter((c) => !c.volatile).map((c) => c.name)],
      [third.processId, 'update', { id: 'bitcoin' }, ['price_usd']],
    ]);
    const [inserted, updated] = events;
    expect(inserted.before).toBeNull();
    expect(inserted.after).toMatchObject({ id: 'bitcoin', symbol: 'BTC', rank: 1, price_usd: Number(btc.priceUsd), max_supply: Number(btc.maxSupply) });
    expect(updated.before).toEqual(inserted.after);
    expect(updated.after).toEqual({ ...inserted.after, price_usd: 1.5, snapshot_time: updated.after!.snapshot_time });
    expect(describeChange(updated)).toBe(`price_usd ${Number(btc.priceUsd)} → 1.5`);
    expect(formatChanges(events).split('\n').map((l) => l.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'TIME').replace(/^\d+ +/, 'N  '))).toEqual([
      'event  time                      process  operation  key         changes',
      `-----  ------------------------  -------  ---------  ----------  ${'-'.repeat(describeChange(updated).length)}`,
      `N  TIME  ${first.processId}        insert     id=bitcoin  (new)`,
      `N  TIME  ${third.processId}        update     id=bitcoin  price_usd ${Number(btc.priceUsd)} → 1.5`,
    ]);
    // Filters: composite form, time, limit.
    expect(await listChanges(env.session, 'coinlake.coincap_assets', { key: 'id=newcoin' })).toHaveLength(1);
    expect(await listChanges(env.session, 'coinlake.coincap_assets', { key: 'id=bitcoin,symbol=BTC' })).toEqual([]);
    expect(await listChanges(env.session, 'coinlake.coincap_assets', { key: 'bitco' })).toEqual([]);
    expect((await listChanges(env.session, 'coinlake.coincap_assets', { since: updated.eventTime })).map((e) => e.operation).sort()).toEqual(['insert', 'update']);
    expect(await listChanges(env.session, 'coinlake.coincap_assets', { limit: 3 })).toHaveLength(3);
  });

  it('`check` runs declared checks, records them without a process, and reports error failures', async () => {
    const env = await open(kind);
    await env.run('coincap.assets');
    const checks: QualityCheck[] = [
      { type: 'not_null', columns: ['id', 'symbol'] },
      { type: 'unique' },
      { type: 'accepted_range', column: 'price_usd', gt: 0 },
      { type: 'not_null', columns: ['max_supply'], severity: 'warn' },
    ];
    const table: TableSpec = { ...assetsTable, checks };
    const nullMax = fixture('assets').filter((r: { maxSupply: unknown }) => r.maxSupply === null).length;
    const ok = await checkTables(env.session, [table, { ...assetsTable, name: 'coincap_unchecked' }], new Date());
    expect(ok.results.map((r) => [r.result.name, r.result.passed, r.result.failing])).toEqual([
      ['not_null(id,symbol)', true, 0],
      ['unique(id)', true, 0],
      ['accepted_range(price_usd > 0)', true, 0],
      ['not_null(max_supply)', false, nullMax],
    ]);
    expect(ok.errors).toEqual([]);
    expect(ok.warnings).toEqual([`coinlake.coincap_assets: quality check not_null(max_supply) failed: ${nullMax} row(s) with a NULL (max_supply ${nullMax})`]);
    expect(ok.unchecked).toEqual(['coinlake.coincap_unchecked']);
    expect(formatCheckReport(ok).split('\n').at(-1)).toBe('no checks declared: coinlake.coincap_unchecked');

    await env.session.exec(`UPDATE coinlake.coincap_assets SET price_usd = -1 WHERE id IN ('bitcoin', 'ethereum')`);
    const bad = await checkTables(env.session, [table], new Date(), 'coinlake.coincap_assets');
    expect(bad.errors).toEqual(['coinlake.coincap_assets: quality check accepted_range(price_usd > 0) failed: 2 row(s) outside price_usd > 0 (min -1, max ' + bad.results[2].result.observed.max + ')']);
    const recorded = await env.session.query<{ process_id: number | null; status: string; n: number }>(
      `SELECT process_id, status, COUNT(*) AS n FROM coinlake_meta.quality_result GROUP BY process_id, status ORDER BY status`,
    );
    expect(recorded.map((r) => [r.process_id, r.status, Number(r.n)])).toEqual([
      [null, 'fail', 3],
      [null, 'pass', 5],
    ]);
    await expect(checkTables(env.session, [table], new Date(), 'coinlake.nope')).rejects.toThrow('unknown table "coinlake.nope"');
  });
});

it('change events of the same CoinCap payloads are the same JSON text on DuckDB and PostgreSQL', async () => {
  const [duck, pg] = [await open('duckdb'), await open('postgres')];
  const texts = async (env: SpineEnv) => {
    for (const job of ['coincap.exchanges', 'coincap.rates', 'coincap.markets']) await env.run(job);
    const rows = await env.session.query<{ table_name: string; primary_key: string; operation: string; after: string; changed_columns: string }>(
      `SELECT table_name, primary_key, operation, "after", changed_columns FROM coinlake_meta.change_event ORDER BY table_name, primary_key`,
    );
    // snapshot_time is the replay server's clock at each request: the one value that differs between the two runs.
    return rows.map((r) => ({ ...r, after: r.after.replace(/"snapshot_time":"[^"]*"/, '"snapshot_time":"T"') }));
  };
  const [a, b] = [await texts(duck), await texts(pg)];
  expect(a).toHaveLength(fixture('exchanges').length + fixture('rates').length + fixture('markets').length);
  expect(b).toEqual(a);
});

describe('coinlake changes / check as a user runs them', () => {
  const run = promisify(execFile);
  const BIN = path.resolve('bin/coinlake.mjs');
  let dir: string;
  afterEach(async () => rm(dir, { recursive: true, force: true }));
  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' } }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );

  it('changes lists the events of a key; check says what it checked and exits 1 on an unknown table', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-changes-'));
    expect((await coinlake(['--replay', 'run', 'coincap.rates'])).code).toBe(0);
    const changes = await coinlake(['changes', 'coincap_rates', '--key', 'bitcoin']);
    expect(changes.stderr).toBe('');
    expect(changes.code).toBe(0);
    const lines = changes.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^event\s+time\s+process\s+operation\s+key\s+changes$/);
    expect(lines.slice(2)).toHaveLength(1);
    expect(lines[2]).toMatch(/^\d+\s+\S+Z\s+1\s+insert\s+id=bitcoin\s+\(new\)$/);
    const json = await coinlake(['changes', 'coinlake.coincap_rates', '--key', 'bitcoin', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ processId: 1, operation: 'insert', key: { id: 'bitcoin' }, before: null, after: { id: 'bitcoin', symbol: 'BTC' } });
    expect((await coinlake(['changes', 'coincap_rates', '--key', 'nope'])).stdout).toBe('no change events for coinlake.coincap_rates with key nope\n');

    const check = await coinlake(['check', 'coincap_rates']);
    expect([check.code, check.stdout]).toEqual([0, 'no checks declared: coinlake.coincap_rates\n']);
    const unknown = await coinlake(['check', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: unknown table "coinlake\.nope"\nhint: known tables: coinlake\.coincap_assets, /);
  });
});

describe.each(WAREHOUSES)('`coinlake changes` on an unknown table, on %s', (kind) => {
  const run = promisify(execFile);
  const BIN = path.resolve('bin/coinlake.mjs');
  let dir: string;
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, COINLAKE_WAREHOUSE: db ? db.url : path.join(dir, 'warehouse.duckdb'), COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );

  it('is an error naming it, with the known tables, exit 1; a known table without events is not', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-changes-'));
    if (kind === 'postgres') db = await createTestDatabase();
    const nope = await coinlake(['changes', 'nope']);
    expect([nope.code, nope.stdout]).toEqual([1, '']);
    const [error, hint, ...rest] = nope.stderr.split('\n');
    expect([error, rest]).toEqual(['error: unknown table "coinlake.nope"', ['']]);
    expect(hint).toMatch(/^hint: known tables: coinlake\.coincap_assets, coinlake\.coincap_exchanges, /);
    expect(hint.split(', ')).toContain('coinlake.coincap_rates');
    const withKey = await coinlake(['changes', 'coinlake.nope', '--key', 'bitcoin']);
    expect([withKey.code, withKey.stderr.split('\n')[0]]).toEqual([1, 'error: unknown table "coinlake.nope"']);
    // Known to coinlake, not loaded yet: no events, exit 0.
    expect(await coinlake(['changes', 'coincap_rates'])).toEqual({ code: 0, stdout: 'no change events for coinlake.coincap_rates\n', stderr: '' });
    // A table of the user's own in the warehouse is known too.
    const s = await openWarehouse(db ? db.url : path.join(dir, 'warehouse.duckdb'));
    try {
      await s.exec('CREATE TABLE coinlake.my_own (id INTEGER)');
    } finally {
      await s.close();
    }
    expect(await coinlake(['changes', 'my_own'])).toEqual({ code: 0, stdout: 'no change events for coinlake.my_own\n', stderr: '' });
  }, 60_000);
});
