// Jobs whose pages DuckDB types itself (CoinCap history and rates) end exactly as on the JavaScript path: the same
// rows, run figures, drift, quarantine file, change events and curated Parquet — with bad values in the payload too.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer, type ReplayServer } from '../src/replay/index.ts';
import { buildJob, type JobOptions } from '../src/runner/job-builder.ts';
import { runJob, type RunSummary } from '../src/runner/run-job.ts';

let replay: ReplayServer;
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-warehouse-typing-'));
  replay = await startReplayServer();
});
afterAll(async () => {
  await replay?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  summary: RunSummary;
  rows: Record<string, unknown>[];
  events: string[];
  parquetRows: number;
  quarantine: unknown[];
  log: string;
}

/** Runs a job into a fresh DuckDB warehouse and lake, typing in the warehouse or in JavaScript. */
async function runOnce(job: string, opts: JobOptions, stageInWarehouse: boolean): Promise<Outcome> {
  const i = ++n;
  const session: Session = await openWarehouse(path.join(dir, `w${i}.duckdb`));
  const lake = new LocalLake(path.join(dir, `lake${i}`));
  try {
    const asBuilt = buildJob(job, opts, { baseUrls: { coincap: replay.coincapV2Url }, rateLimitPerMinute: 0 });
    // Insert events too (a time series writes none by default): both paths must render the same images of every row.
    const built = { ...asBuilt, table: { ...asBuilt.table, changeEvents: 'all' as const } };
    const summary = await runJob(built, { session, lake, progress: false, stageInWarehouse, logLevel: 'debug' });
    const t = `${built.table.schema}.${built.table.name}`;
    const cols = built.table.columns.filter((c) => !c.volatile).map((c) => c.name);
    const rows = await session.query<Record<string, unknown>>(`SELECT ${cols.join(', ')} FROM ${t} ORDER BY ${built.table.primaryKey.join(', ')}`);
    // Event images without volatile columns (a snapshot's response time differs between two runs).
    const volatile = built.table.columns.filter((c) => c.volatile).map((c) => c.name);
    const events = (await session.query<{ op: string; pk: string; after: string }>(`SELECT operation AS op, primary_key AS pk, "after" FROM coinlake_meta.change_event ORDER BY primary_key`)).map(
      (r) => `${r.op} ${r.pk} ${JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(r.after) as object).filter(([k]) => !volatile.includes(k))))}`,
    );
    const curated = summary.lakePaths.filter((p) => p.startsWith('curated/')).map((p) => `'${path.join(lake.root, p)}'`);
    const [{ c }] = await session.query<{ c: number }>(`SELECT count(*) AS c FROM read_parquet([${curated.join(', ')}])`);
    const q = summary.lakePaths.find((p) => p.startsWith('quarantine/'));
    const quarantine = q ? (await readFile(path.join(lake.root, q), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)) : [];
    return { summary, rows, events, parquetRows: Number(c), quarantine, log: await readFile(summary.logPath, 'utf8') };
  } finally {
    await session.close();
  }
}

/** What must not depend on the path a run took. */
function comparable(o: Outcome) {
  const { summary: s } = o;
  return {
    figures: [s.status, s.pages, s.rowsExtracted, s.rowsLoaded, s.rowsQuarantined, s.load, s.state],
    drift: [[...s.unknownFields].sort(), [...s.missingFields].sort()],
    rows: o.rows,
    events: o.events,
    parquetRows: o.parquetRows,
    // The records carry the response's own timestamp, which differs between two runs.
    quarantine: o.quarantine.map((q) => ({ ...(q as object), record: { ...(q as { record: object }).record, timestamp: 'the response time' } })),
  };
}

const TYPED_IN_WAREHOUSE = 'pages are typed by the warehouse as they land';

describe('jobs typed by DuckDB itself', () => {
  it('asset history (m15, 40 days, 2 pages skipping nothing): the same rows, events, state and Parquet as the JavaScript path', async () => {
    const opts = { asset: 'ethereum', interval: 'm15', from: '2024-02-01', to: '2024-03-12' };
    const native = await runOnce('coincap.asset_history', opts, true);
    const js = await runOnce('coincap.asset_history', opts, false);
    expect(native.log).toContain(TYPED_IN_WAREHOUSE);
    expect(js.log).not.toContain(TYPED_IN_WAREHOUSE);
    expect(native.summary.rowsLoaded).toBe(40 * 96);
    expect(native.summary.pages).toBe(2);
    expect(native.summary.state).toEqual({ watermark: Date.parse('2024-03-11T23:45:00Z') });
    expect(native.summary.unknownFields).toEqual([]); // the envelope's timestamp is no field of a history point
    expect(native.events).toHaveLength(40 * 96);
    expect(native.rows[0]).toMatchObject({ asset_id: 'ethereum', interval: 'm15', time: new Date('2024-02-01T00:00:00Z'), date: new Date('2024-02-01T00:00:00Z') });
    expect(comparable(native)).toEqual(comparable(js));
  });

  it('rates with bad values: the same NULLs, quarantine file and drift as the JavaScript path', async () => {
    const recorded = replay.getData('rates');
    const bad = recorded.map((r, i) => {
      if (i === 0) return { ...r, rateUsd: 'n/a' };
      if (i === 1) return { ...r, rateUsd: '1e999', symbol: 42 };
      if (i === 2) {
        const { type: _type, ...rest } = r;
        return { ...rest, extra: true };
      }
      return r;
    });
    replay.setData('rates', bad);
    try {
      const native = await runOnce('coincap.rates', {}, true);
      const js = await runOnce('coincap.rates', {}, false);
      expect(native.log).toContain(TYPED_IN_WAREHOUSE);
      expect([native.summary.rowsLoaded, native.summary.rowsQuarantined]).toEqual([recorded.length, 2]);
      expect(native.quarantine.map((q) => [(q as { field: string }).field, (q as { reason: string }).reason])).toEqual([
        ['rateUsd', '"n/a" is not a number'],
        ['rateUsd', '"1e999" is not a finite number'],
      ]);
      expect([...native.summary.unknownFields].sort()).toEqual(['extra']);
      expect(native.summary.missingFields).toEqual(['type']);
      const row = (id: unknown) => native.rows.find((r) => r.id === id)!;
      expect(row(recorded[0].id)).toMatchObject({ rate_usd: null });
      expect(row(recorded[1].id)).toMatchObject({ rate_usd: null, symbol: '42' });
      expect(row(recorded[2].id)).toMatchObject({ type: null });
      expect(comparable(native)).toEqual(comparable(js));
    } finally {
      replay.setData('rates', recorded);
    }
  });
});
