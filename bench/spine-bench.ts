// Spine benchmark: 1,000,000 generated asset-history rows through the whole path (replay HTTP → raw lake →
// normalize → stage → curated Parquet → merge, one transaction) vs DuckDB read_parquet of the same rows alone.
// The replay server runs in a child process behind a response cache, warmed by an untimed read of the same windows,
// so generating and gzipping the responses (a real API's work, on its own machines) does not take this machine's
// two cores from the timed run.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Job } from '../src/core/job.ts';
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

/** CPU seconds (user + system, every thread of this process) since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-spine-'));
  // m1 points: ROWS minutes from 2023-01-01.
  const start = Date.parse('2023-01-01T00:00:00Z');
  const end = start + ROWS * 60_000;
  const replay = await startReplayChild({ historyStart: new Date(start).toISOString(), historyEnd: new Date(end).toISOString() });
  const session = await openWarehouse(path.join(dir, 'bench.duckdb'));
  try {
    const lake = new LocalLake(path.join(dir, 'lake'));
    const job = buildJob('coincap.asset_history', { asset: 'bitcoin', interval: 'm1', from: new Date(start).toISOString(), to: new Date(end).toISOString() }, { baseUrls: { coincap: replay.coincapV2Url }, rateLimitPerMinute: 0 });
    const warmPages = await warmReplayCache(job);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const s = await runJob(job, { session, lake, progress: false });
    const coinlakeSec = (performance.now() - t0) / 1000;
    const coinlakeCpu = cpuSeconds(c0);
    if (s.rowsLoaded !== ROWS) throw new Error(`expected ${ROWS} rows, loaded ${s.rowsLoaded}`);
    const parquetGlob = path.join(lake.root, 'curated', 'coincap_asset_history', '*', '*.parquet');
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    await session.exec(`CREATE TABLE bench_raw AS SELECT * FROM read_parquet('${parquetGlob}')`);
    const rawSec = (performance.now() - t1) / 1000;
    const rawCpu = cpuSeconds(c1);
    const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM bench_raw`);
    const a = ROWS / coinlakeSec;
    const b = Number(n) / rawSec;
    console.log(`spine: ${ROWS.toLocaleString('en-US')} asset-history rows, ${s.pages} pages (replay cache warmed with ${warmPages} untimed requests)`);
    console.log(`  coinlake whole path (HTTP → lake → DuckDB merge): ${coinlakeSec.toFixed(2)} s, ${Math.round(a).toLocaleString('en-US')} rows/s (CPU ${coinlakeCpu.toFixed(2)} s)`);
    console.log(`  DuckDB read_parquet of the same rows alone:       ${rawSec.toFixed(2)} s, ${Math.round(b).toLocaleString('en-US')} rows/s (CPU ${rawCpu.toFixed(2)} s)`);
    console.log(`  where the time went (s): ${Object.entries(s.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ')}`);
    console.log(`  ratio: ${(a / b).toFixed(3)}x (target >= 0.5x)`);
  } finally {
    await session.close();
    await replay.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
