// Distributed backfill, 1, 2 and 4 `coinlake worker` processes (BENCH_DIST_WORKERS): the same klines backfill
// (BENCH_DIST_SYMBOLS symbols × BENCH_DIST_DAYS daily chunks of 1m candles) published to the NATS JetStream work queue
// and loaded into a fresh PostgreSQL database, with a replay server in a child process that answers every request after
// BENCH_DIST_LATENCY_MS (default 200 ms; `100-300` draws per request; 0 for none), as an API across a network does, and
// without rate limits. Workers are started and ready before the clock starts; the time is publish → run closed. The
// single-process `runBackfill` of the same range is measured too, as the baseline the distributed runs compare with.
// Targets (#26): with the latency, speed-ups of at least 1.8× and 3.4× for 2 and 4 workers, and a 1-worker run at
// least 0.9× as fast as the single process. Then two workers sharing one budget (BENCH_DIST_SHARED, `10/1000`: R
// requests per window in ms; `none` skips it) against an API limiting them to R: target ≥ 0.95 R, never above. BENCH_DIST_KEEP keeps the lakes (the workers' logs time every chunk's steps).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { runDistributedBackfill } from '../src/distributed/distributed-backfill.ts';
import { taskQueueNames, type TaskQueueNames } from '../src/distributed/task-queue.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { REPLAY_BINANCE_SYMBOLS, parseLatency, startReplayServer } from '../src/replay/index.ts';
import { runBackfill, type BackfillRequest } from '../src/runner/backfill.ts';
import { connectNats } from '../src/streaming/jetstream-streams.ts';

const SYMBOLS = REPLAY_BINANCE_SYMBOLS.slice(0, Number(process.env.BENCH_DIST_SYMBOLS ?? 4));
const DAYS = Number(process.env.BENCH_DIST_DAYS ?? 30);
/** Tasks each worker works on at once (the same for one and two workers). */
const CONCURRENCY = Number(process.env.BENCH_DIST_CONCURRENCY ?? 2);
const DAY = 86_400_000;
const LATENCY = process.env.BENCH_DIST_LATENCY_MS ?? '200';
const WORKERS = (process.env.BENCH_DIST_WORKERS ?? '1,2,4').split(',').map(Number);
const BIN = path.resolve('bin/coinlake.mjs');

/** Starts the replay server in a child process (unlimited Binance weight, the bench's latency); resolves with its URL. */
async function replayChild(): Promise<{ url: string; child: ChildProcess }> {
  const latencyMs = LATENCY === '0' ? undefined : parseLatency(LATENCY, 'BENCH_DIST_LATENCY_MS');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bench/replay-child.ts'), JSON.stringify({ binanceWeightPerMinute: 1e9, latencyMs })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`replay child exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, child };
}

/** A `coinlake worker` subprocess, resolved once it pulls. */
async function startWorker(name: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--name', name, '--concurrency', String(CONCURRENCY)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => l.startsWith(`worker ${name} ready`) && resolve());
    child.once('exit', (code) => reject(new Error(`worker ${name} exited with ${code}`)));
  });
  return child;
}

function request(binanceUrl: string): BackfillRequest {
  const from = Date.UTC(2023, 0, 1);
  return {
    job: 'binance.klines',
    from: new Date(from),
    to: new Date(from + DAYS * DAY),
    symbols: [...SYMBOLS],
    // No client-side weight budget either: the server has no limit to respect.
    params: { interval: '1m', weightLimit: 1e9 },
    concurrency: CONCURRENCY,
    endpoints: { baseUrls: { binance: binanceUrl }, rateLimitPerMinute: 0 },
  };
}

/** The single-process backfill into a fresh database: seconds and rows. */
async function single(binanceUrl: string, dir: string): Promise<{ s: number; rows: number }> {
  const db = await createTestDatabase();
  const session = await openWarehouse(db.url);
  try {
    const t0 = Date.now();
    const r = await runBackfill(request(binanceUrl), { session, lake: new LocalLake(path.join(dir, 'lake-single')), progress: false });
    return { s: (Date.now() - t0) / 1000, rows: r.rowsLoaded };
  } finally {
    await session.close();
    await db.drop();
  }
}

/** Stops the workers (SIGTERM, waits for their exit), closes the session and NATS, deletes the queue and the database. */
async function teardown(workers: ChildProcess[], session: Session, nc: NatsConnection, queue: TaskQueueNames, db: TestDatabase): Promise<void> {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
  await session.close();
  await (await jetstreamManager(nc)).streams.delete(queue.stream).catch(() => undefined);
  await nc.close();
  await db.drop();
}

/** The distributed backfill with `n` worker processes into a fresh database: seconds and rows. */
async function distributed(n: number, binanceUrl: string, dir: string): Promise<{ s: number; rows: number }> {
  const db = await createTestDatabase();
  const queue = taskQueueNames(`bench${randomBytes(3).toString('hex')}`);
  const lake = path.join(dir, `lake-${n}`);
  const env = { ...process.env, COINLAKE_WAREHOUSE: db.url, COINLAKE_LAKE: lake, COINLAKE_BINANCE_URL: binanceUrl, COINLAKE_QUEUE: queue.queue, COINLAKE_REPLAY: '' };
  const nc = await connectNats();
  const session = await openWarehouse(db.url);
  const workers: ChildProcess[] = [];
  try {
    for (let i = 1; i <= n; i++) workers.push(await startWorker(`bench${i}`, env));
    const t0 = Date.now();
    const out = await runDistributedBackfill(request(binanceUrl), { session, lake: new LocalLake(lake), nc, queue, progress: false, pollMs: 100 });
    const s = (Date.now() - t0) / 1000;
    if (out.summary?.status !== 1) throw new Error(`distributed run ended with status ${out.summary?.status}`);
    return { s, rows: out.summary.rowsLoaded };
  } finally {
    await teardown(workers, session, nc, queue, db);
  }
}

/** The shared budget of BENCH_DIST_SHARED (`10/1000`: 10 requests per 1,000 ms), the API limiting the same. */
const SHARED = /^(\d+)\/(\d+)$/.exec(process.env.BENCH_DIST_SHARED ?? '10/1000');

/**
 * Two workers of a `--rate-shared` backfill against an API (the replay server, in this process, 50 ms latency) that
 * allows R requests per window from their address: the klines requests' arrivals give the aggregate rate (requests
 * after the first over the time to the last) against R, the busiest window, and the 429s.
 */
async function sharedBudget(dir: string): Promise<void> {
  if (!SHARED) throw new Error('BENCH_DIST_SHARED must read like 10/1000 (requests / window in ms)');
  const [limit, windowMs] = [Number(SHARED[1]), Number(SHARED[2])];
  const replay = await startReplayServer({ binanceWeightPerMinute: 1e9, latencyMs: 50, clientLimit: { limit, windowMs, by: 'address' } });
  const db = await createTestDatabase();
  const queue = taskQueueNames(`bench${randomBytes(3).toString('hex')}`);
  const lake = path.join(dir, 'lake-shared');
  const env = { ...process.env, COINLAKE_WAREHOUSE: db.url, COINLAKE_LAKE: lake, COINLAKE_BINANCE_URL: replay.binanceUrl, COINLAKE_QUEUE: queue.queue, COINLAKE_REPLAY: '', COINLAKE_RATE_WINDOW_MS: String(windowMs) };
  const nc = await connectNats();
  const session = await openWarehouse(db.url);
  const workers: ChildProcess[] = [];
  try {
    for (let i = 1; i <= 2; i++) workers.push(await startWorker(`shared${i}`, env));
    const req = request(replay.binanceUrl);
    const out = await runDistributedBackfill(
      { ...req, endpoints: { ...req.endpoints, rateLimitPerMinute: limit, rateLimitShared: true } },
      { session, lake: new LocalLake(lake), nc, queue, progress: false, pollMs: 100 },
    );
    if (out.summary?.status !== 1) throw new Error(`the shared-budget run ended with status ${out.summary?.status}`);
    const klines = replay.requests.filter((r) => r.path === '/binance/api/v3/klines');
    const at = klines.map((r) => r.at).sort((a, b) => a - b);
    let busiest = 0;
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i] - at[j] >= windowMs) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    const span = at.at(-1)! - at[0];
    const ratio = ((at.length - 1) / span) * (windowMs / limit);
    const refused = klines.filter((r) => r.status === 429 || r.status === 418).length;
    console.log(
      `shared budget R = ${limit} per ${windowMs} ms, 2 workers: ${at.length} klines requests in ${(span / 1000).toFixed(1)} s = ${ratio.toFixed(3)} × R (target ≥ 0.95: ${ratio >= 0.95 ? 'met' : 'NOT met'}); busiest window ${busiest} (never above R: ${busiest <= limit ? 'met' : 'NOT met'}); ${refused} refused (429/418)`,
    );
  } finally {
    await teardown(workers, session, nc, queue, db);
    await replay.close();
  }
}

export async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-distributed-'));
  const replay = await replayChild();
  const binanceUrl = `${replay.url}/binance`;
  try {
    const chunks = SYMBOLS.length * DAYS;
    console.log(`${SYMBOLS.length} symbols × ${DAYS} daily chunks of 1m candles = ${chunks} chunks into PostgreSQL; replay server (no rate limit, latency ${LATENCY} ms) in a child process; ${CONCURRENCY} task(s) at a time per worker`);
    const base = await single(binanceUrl, dir);
    console.log(`single process (runBackfill, concurrency ${CONCURRENCY}): ${base.rows.toLocaleString('en-US')} rows in ${base.s.toFixed(1)} s (${Math.round(base.rows / base.s).toLocaleString('en-US')} rows/s) — baseline`);
    const runs = new Map<number, { s: number; rows: number }>();
    for (const n of WORKERS) {
      const r = await distributed(n, binanceUrl, dir);
      runs.set(n, r);
      if (r.rows !== base.rows) throw new Error(`${n} worker(s) loaded ${r.rows} rows, the single process ${base.rows}`);
      console.log(`${n} worker(s): ${r.rows.toLocaleString('en-US')} rows in ${r.s.toFixed(1)} s (${Math.round(r.rows / r.s).toLocaleString('en-US')} rows/s) = ${(base.s / r.s).toFixed(2)} × the single process`);
    }
    if (process.env.BENCH_DIST_SHARED !== 'none') await sharedBudget(dir);
    const target: Record<number, number> = { 1: 0.9, 2: 1.8, 4: 3.4 };
    console.log(
      `speed-ups vs the single process: ${[...runs].map(([n, r]) => `${n}: ${(base.s / r.s).toFixed(2)}×${target[n] ? ` (target ≥ ${target[n]}×: ${base.s / r.s >= target[n] ? 'met' : 'NOT met'})` : ''}`).join(', ')} — replay latency ${LATENCY} ms; ${os.cpus().length} cores shared by the workers, the replay server, PostgreSQL and the coordinator (1-minute load average when the bench started: ${loadBefore.toFixed(1)})`,
    );
  } finally {
    replay.child.stdin?.end();
    // BENCH_DIST_KEEP: keep the lakes, whose logs/ hold each worker's log with a line of step timings per chunk.
    if (process.env.BENCH_DIST_KEEP) console.log(`lakes kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}
