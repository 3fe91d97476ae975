// Spine benchmark: 1,000,000 generated asset-history rows through the whole path (replay HTTP → raw lake →
// normalize → stage → curated Parquet → merge, one transaction) vs DuckDB read_parquet of the same rows alone; the
// path runs twice, with the time series' default change_events (changes: no insert events) and with `all`.
// The replay server runs in a child process behind a response cache, warmed by an untimed read of the same windows,
// so generating and gzipping the responses (a real API's work, on its own machines) does not take this machine's
// two cores from the timed run.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { TerminalError } from '../src/core/errors.ts';
import { recordInserts } from '../src/load/change-events.ts';
import { assetHistoryTable } from '../src/sources/coincap/coincap-tables.ts';
import os from 'node:os';
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Job } from '../src/core/job.ts';
import type { ChangeEventsPolicy, TableSpec } from '../src/core/table.ts';
import { HttpClient } from '../src/http/http-client.ts';
import { buildJob } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';

/** Starts the replay server in a child process (its CPU is not coinlake's). */
async function startReplayChild(opts: object): Promise<{ coincapV2Url: string; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./replay-child.ts', import.meta.url).pathname, JSON.stringify(opts), '--cache'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { coincapV2Url } = JSON.parse(line) as { coincapV2Url: string };
  return {
    coincapV2Url,
    close: async () => {
      child.stdin!.end();
      await once(child, 'exit');
    },
  };
}

const ROWS = Number(process.env.BENCH_SPINE_ROWS ?? 1_000_000);

/** Requests every page the job will request (untimed), so the replay child's cache holds them. */
async function warmReplayCache(job: Job): Promise<number> {
  const http = new HttpClient({ rateLimitPerMinute: 0 });
  let pages = 0;
  const read = job.stream.read({ http, baseUrl: job.baseUrl, params: job.params, window: job.window, signal: new AbortController().signal });
  for await (const _page of read) pages++;
  return pages;
}

/** Runs fn in a transaction that is then rolled back (work timed for the ceiling, not kept). */
async function rolledBack(session: Awaited<ReturnType<typeof openWarehouse>>, fn: () => Promise<unknown>): Promise<void> {
  const marker = new Error('rolled back on purpose');
  await session
    .transaction(async () => {
      await fn();
      throw marker;
    })
    .catch((e: unknown) => {
      if (e !== marker) throw e;
    });
}

/** CPU seconds (user + system, every thread of this process) since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

/**
 * The best ratio this path could reach on this machine, measured in the same run. The whole path must at least do
 * what the spine and its sibling issues require: parse the pages the API sends, land them in the raw lake (as the
 * gzip received: a file write), fill a table with the typed rows (timed as a copy of the baseline's table), write the curated Parquet, and — with
 * change_events `all` — write one change event per new row (the time series' default, `changes`, writes none for new rows). Each is timed here alone (parsing both ways it can be done: JavaScript gunzip + JSON.parse, or DuckDB
 * read_json into typed columns; the cheaper counts). With N cores used perfectly the sum of their CPU takes at least
 * sum / N seconds; the ceiling is the baseline's wall time over that.
 */
async function printCeiling(session: Awaited<ReturnType<typeof openWarehouse>>, lakeRoot: string, base: { rawSec: number; rawCpu: number; rows: number }): Promise<{ changes: number; all: number }> {
  const pages = (await filesUnder(path.join(lakeRoot, 'raw'))).filter((f) => f.endsWith('.json.gz'));
  const bodies = await Promise.all(pages.map((f) => readFile(f)));
  let c = process.cpuUsage();
  let parsed = 0;
  const plain = bodies.map((b) => gunzipSync(b));
  for (const b of plain) parsed += (JSON.parse(b.toString('utf8')) as { data: unknown[] }).data.length;
  const jsCpu = cpuSeconds(c);
  if (parsed !== base.rows) throw new Error(`the landed pages hold ${parsed} records, expected ${base.rows}`);
  c = process.cpuUsage();
  for (const b of plain) gzipSync(b, { level: zlibConstants.Z_BEST_SPEED });
  const gzipCpu = cpuSeconds(c);
  const list = `[${pages.map((f) => `'${f}'`).join(', ')}]`;
  // The table as change_events `all` has it: one insert event per row (its default, `changes`, writes none).
  const everyEvent: TableSpec = { ...assetHistoryTable, changeEvents: 'all' };
  c = process.cpuUsage();
  await session.exec(
    `CREATE TEMP TABLE bench_json AS SELECT r.time, CAST(r.priceUsd AS DOUBLE) AS price_usd, CAST(r.circulatingSupply AS DOUBLE) AS circulating_supply, r.date
       FROM (SELECT unnest(data) AS r FROM read_json(${list}, columns = {data: 'STRUCT(priceUsd VARCHAR, time BIGINT, circulatingSupply VARCHAR, date VARCHAR)[]'}, maximum_object_size = 2147483647))`,
  );
  const duckCpu = cpuSeconds(c);
  c = process.cpuUsage();
  await session.exec(`COPY bench_raw TO '${path.join(lakeRoot, 'bench-ceiling.parquet')}' (FORMAT parquet)`);
  const parquetCpu = cpuSeconds(c);
  c = process.cpuUsage();
  await session.exec(`CREATE TEMP TABLE bench_fill AS SELECT * FROM bench_raw`);
  const fillCpu = cpuSeconds(c);
  c = process.cpuUsage();
  await rolledBack(session, () => recordInserts({ s: session, t: everyEvent, target: 'bench_raw', staging: 'bench_raw', ctx: { runId: 'bench', processId: 0, loadedAt: new Date() } }, { allNew: true }));
  const eventsCpu = cpuSeconds(c);
  // The same events stored without compression: the cheapest way to keep them (DuckDB compresses the JSON texts as
  // it writes them, about a third of their cost), at 5.4 times the disk (398 MB instead of 74 MB per 1M events after a
  // CHECKPOINT) — a lower bound of that work that coinlake does not take.
  await session.exec(`SET force_compression = 'uncompressed'`);
  c = process.cpuUsage();
  try {
    await rolledBack(session, () => recordInserts({ s: session, t: everyEvent, target: 'bench_raw', staging: 'bench_raw', ctx: { runId: 'bench', processId: 0, loadedAt: new Date() } }, { allNew: true }));
  } finally {
    await session.exec(`RESET force_compression`);
  }
  const plainEventsCpu = cpuSeconds(c);
  const cores = os.availableParallelism();
  const parseCpu = Math.min(jsCpu, duckCpu);
  // The replay server answers gzipped, and the raw lake stores such a page as received: compressing it is no longer
  // work the path must do (timed and shown for reference only).
  const floorCpu = parseCpu + fillCpu + parquetCpu + eventsCpu;
  console.log(
    `  the required work alone, same run (CPU s): parse pages ${parseCpu.toFixed(2)} (JS gunzip+JSON.parse ${jsCpu.toFixed(2)}, DuckDB read_json ${duckCpu.toFixed(2)}), ` +
      `fill a table from typed rows ${fillCpu.toFixed(2)}, write Parquet ${parquetCpu.toFixed(2)}, one change event per row ${eventsCpu.toFixed(2)}; sum ${floorCpu.toFixed(2)} ` +
      `(landing the pages is a file write: they arrive gzipped and are stored as received; gzipping them here would add ${gzipCpu.toFixed(2)})`,
  );
  const ceiling = { changes: base.rawSec / ((floorCpu - eventsCpu) / cores), all: base.rawSec / (floorCpu / cores) };
  // A fresh range of a time series has no updates or deletes: under change_events `changes` it writes no event at all.
  console.log(
    `  ceiling on this machine (that work only, ${cores} cores used perfectly): change_events changes (the time-series default, no insert events) ` +
      `${ceiling.changes.toFixed(3)}x; change_events all (one event per row) ${ceiling.all.toFixed(3)}x`,
  );
  console.log(
    `  the same change events stored uncompressed (the cheapest way to keep them, 5.4x the disk): ${plainEventsCpu.toFixed(2)} CPU s; ` +
      `the ceiling with those: ${(base.rawSec / ((floorCpu - eventsCpu + plainEventsCpu) / cores)).toFixed(3)}x`,
  );
  return ceiling;
}

/** One timed run of the whole path into a fresh warehouse and lake under `dir`, writing change events per `policy`. */
async function timedPath(dir: string, coincapV2Url: string, policy: ChangeEventsPolicy, window: { start: number; end: number }) {
  const session = await openWarehouse(path.join(dir, `bench-${policy}.duckdb`));
  const lake = new LocalLake(path.join(dir, `lake-${policy}`));
  const built = buildJob('coincap.asset_history', { asset: 'bitcoin', interval: 'm1', from: new Date(window.start).toISOString(), to: new Date(window.end).toISOString() }, { baseUrls: { coincap: coincapV2Url }, rateLimitPerMinute: 0 });
  const job: Job = { ...built, table: { ...built.table, changeEvents: policy } };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const s = await runJob(job, { session, lake, progress: false, stageInWarehouse: process.env.BENCH_SPINE_STAGE !== '0' });
  const sec = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c0);
  if (s.rowsLoaded !== ROWS) {
    throw new TerminalError(`spine bench (change_events ${policy}): expected ${ROWS} rows, loaded ${s.rowsLoaded}`, { hint: `the path lost or added rows: rerun with BENCH_SPINE_ROWS=${ROWS} and read the run's log (${s.logPath})` });
  }
  const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.change_event`);
  return { session, lake, s, sec, cpu, events: Number(n) };
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-spine-'));
  // m1 points: ROWS minutes from 2023-01-01.
  const start = Date.parse('2023-01-01T00:00:00Z');
  const end = start + ROWS * 60_000;
  const replay = await startReplayChild({ historyStart: new Date(start).toISOString(), historyEnd: new Date(end).toISOString() });
  const opened: Awaited<ReturnType<typeof openWarehouse>>[] = [];
  try {
    const warmJob = buildJob('coincap.asset_history', { asset: 'bitcoin', interval: 'm1', from: new Date(start).toISOString(), to: new Date(end).toISOString() }, { baseUrls: { coincap: replay.coincapV2Url }, rateLimitPerMinute: 0 });
    const warmPages = await warmReplayCache(warmJob);
    // The time series' default first (its warehouse keeps the baseline and the ceiling's work), then `all`.
    const changes = await timedPath(dir, replay.coincapV2Url, 'changes', { start, end });
    opened.push(changes.session);
    const all = await timedPath(dir, replay.coincapV2Url, 'all', { start, end });
    opened.push(all.session);
    const { session, lake, s } = changes;
    const parquetGlob = path.join(lake.root, 'curated', 'coincap_asset_history', '*', '*.parquet');
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    await session.exec(`CREATE TABLE bench_raw AS SELECT * FROM read_parquet('${parquetGlob}')`);
    const rawSec = (performance.now() - t1) / 1000;
    const rawCpu = cpuSeconds(c1);
    const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM bench_raw`);
    const b = Number(n) / rawSec;
    const ratio = (sec: number) => ROWS / sec / b;
    console.log(`spine: ${ROWS.toLocaleString('en-US')} asset-history rows, ${s.pages} pages (replay cache warmed with ${warmPages} untimed requests)`);
    for (const [policy, r] of [['changes', changes], ['all', all]] as const) {
      console.log(
        `  coinlake whole path, change_events ${policy.padEnd(7)} (HTTP → lake → DuckDB merge): ${r.sec.toFixed(2)} s, ${Math.round(ROWS / r.sec).toLocaleString('en-US')} rows/s ` +
          `(CPU ${r.cpu.toFixed(2)} s), ${r.events.toLocaleString('en-US')} change events`,
      );
      console.log(`    where the time went (s): ${Object.entries(r.s.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ')}`);
    }
    console.log(`  DuckDB read_parquet of the same rows alone:       ${rawSec.toFixed(2)} s, ${Math.round(b).toLocaleString('en-US')} rows/s (CPU ${rawCpu.toFixed(2)} s)`);
    const ceiling = await printCeiling(session, lake.root, { rawSec, rawCpu, rows: Number(n) });
    console.log(
      `  ratio: change_events changes (the time-series default) ${ratio(changes.sec).toFixed(3)}x (ceiling ${ceiling.changes.toFixed(3)}x); ` +
        `change_events all ${ratio(all.sec).toFixed(3)}x (ceiling ${ceiling.all.toFixed(3)}x) (target >= 0.5x)`,
    );
  } finally {
    for (const o of opened) await o.close();
    await replay.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
