// A run's warnings (the k·σ row-count audit, failed `warn` checks) are in the console summary, not only in the log:
// `coinlake run` through the binary against a loopback replay server whose snapshot grows, on DuckDB and PostgreSQL.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { dailyLine } from '../src/cli/daily-command.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { startReplayServer, type ReplayServer } from '../src/replay/index.ts';
import type { RunSummary } from '../src/runner/run-job.ts';
import { WAREHOUSES } from './helpers/spine-env.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');

describe.each(WAREHOUSES)('run warnings on %s', (kind) => {
  let dir: string | undefined;
  let db: TestDatabase | undefined;
  let replay: ReplayServer | undefined;
  afterEach(async () => {
    await replay?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
    [dir, db, replay] = [undefined, undefined, undefined];
  });

  it('the k·σ audit warning is printed under the run summary', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-run-warn-'));
    if (kind === 'postgres') db = await createTestDatabase();
    replay = await startReplayServer();
    const env = {
      ...process.env,
      COINLAKE_WAREHOUSE: db ? db.url : path.join(dir, 'warehouse.duckdb'),
      COINLAKE_LAKE: '',
      COINLAKE_REPLAY: '',
      COINCAP_API_KEY: '',
      COINLAKE_COINCAP_URL: replay.coincapV2Url,
    };
    const assets = replay.getData('assets');
    const outputs: string[] = [];
    // Snapshots of 1..5 assets (replace: delta +1 five times, sd 0), then all 100: delta +95 is flagged.
    for (const n of [1, 2, 3, 4, 5, 100]) {
      replay.setData('assets', assets.slice(0, n));
      const r = await run(process.execPath, [BIN, 'run', 'coincap.assets'], { cwd: dir, env });
      expect(r.stderr).toBe('');
      outputs.push(r.stdout);
    }
    for (const out of outputs.slice(0, 5)) expect(out).toMatch(/^coincap\.assets: \d rows? into coinlake\.coincap_assets .*\(process \d\)\n$/);
    const lines = outputs[5].split('\n');
    expect(lines[0]).toMatch(/^coincap\.assets: 100 rows into coinlake\.coincap_assets \(95 inserted, 0 updated, 0 deleted\) .* \(process 6\)$/);
    expect(lines.slice(1)).toEqual([
      '  warning: row-count delta +95 on coinlake.coincap_assets is a change (standard deviation 0) from the mean 1 of the 5 earlier runs (sd 0, k = 3)',
      '',
    ]);
  }, 120_000);
});

it('daily prints a run warning under its job line', () => {
  const summary = {
    processId: 7,
    runId: 'r7',
    table: 'coinlake.coincap_asset_history',
    pages: 1,
    rowsLoaded: 24,
    load: { inserted: 24, updated: 0, deleted: 0 },
    warnings: ['row-count delta +24 on coinlake.coincap_asset_history is 9.0 standard deviations from the mean 1 of the 5 earlier runs (sd 2.56, k = 3)'],
  } as unknown as RunSummary;
  const job = { job: 'coincap.asset_history', connectionName: 'COINCAP', tableName: 'BTC_H1', watermark: Date.parse('2025-01-01T00:00:00Z') };
  expect(dailyLine({ kind: 'ran', job, summary } as Parameters<typeof dailyLine>[0]).split('\n')).toEqual([
    'coincap.asset_history COINCAP/BTC_H1: 24 rows since 2025-01-01T00:00:00.000Z into coinlake.coincap_asset_history (24 inserted, 0 updated) from 1 page(s) — run r7 (process 7)',
    '  warning: row-count delta +24 on coinlake.coincap_asset_history is 9.0 standard deviations from the mean 1 of the 5 earlier runs (sd 2.56, k = 3)',
  ]);
});
