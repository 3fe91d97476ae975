// Distributed backfill over the real nats-server (127.0.0.1:4222) and PostgreSQL: `coinlake backfill --distributed`
// publishes chunk tasks to a JetStream work queue, `coinlake worker` subprocesses load them. One worker SIGKILLed in
// the middle of a chunk: its task comes back after the ack wait and another worker loads it; the table ends equal to
// a single-process backfill, every chunk recorded once. Also: --no-wait closed by the last worker, a rerun that
// publishes nothing, a redelivered task of a committed chunk, a chunk that fails for good, and DuckDB refused.
// Every test uses its own queue (stream and consumer), deleted afterwards, and its own throwaway databases.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { BackfillWorker } from '../src/distributed/backfill-worker.ts';
import { backfillTaskSchema, encodeTask, type BackfillTask } from '../src/distributed/backfill-task.ts';
import { runDistributedBackfill } from '../src/distributed/distributed-backfill.ts';
import { BUDGET_BUCKET, budgetEntryKey, budgetName } from '../src/distributed/shared-budget.ts';
import { Kvm } from '@nats-io/kv';
import { runSubject, taskQueueNames, type TaskQueueNames } from '../src/distributed/task-queue.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer, type ReplayServer } from '../src/replay/index.ts';
import { runBackfill, type BackfillRequest } from '../src/runner/backfill.ts';
import { RunFailedError } from '../src/runner/run-job.ts';
import { connectNats } from '../src/streaming/jetstream-streams.ts';
import { recordTrial } from './faults/fault-ledger.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const DAY = 86_400_000;
const MIN = 60_000;
const MAR_4 = Date.UTC(2024, 2, 4);
const PER_DAY = 1440;

let nc: NatsConnection;
let replay: ReplayServer;
let dir: string;
const queues: TaskQueueNames[] = [];
const databases: TestDatabase[] = [];
const sessions: Session[] = [];
const children: ChildProcess[] = [];
const workers: BackfillWorker[] = [];

beforeAll(async () => {
  nc = await connectNats();
  replay = await startReplayServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-distributed-'));
});
afterEach(async () => {
  replay.clearFaults();
  for (const w of workers.splice(0)) await w.stop({ abandon: true });
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sessions.splice(0)) await s.close();
  const jsm = await jetstreamManager(nc);
  for (const q of queues.splice(0)) await jsm.streams.delete(q.stream).catch(() => undefined);
  for (const db of databases.splice(0)) await db.drop();
});
afterAll(async () => {
  await nc?.close();
  await replay?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh queue, a fresh database and a session on it. */
async function fixture(): Promise<{ queue: TaskQueueNames; db: TestDatabase; s: Session; lake: LocalLake }> {
  const queue = taskQueueNames(`t${randomBytes(4).toString('hex')}`);
  queues.push(queue);
  const db = await createTestDatabase();
  databases.push(db);
  const s = await openWarehouse(db.url);
  sessions.push(s);
  return { queue, db, s, lake: new LocalLake(path.join(dir, `lake-${db.name}`)) };
}

function cliEnv(db: TestDatabase | string, queue: TaskQueueNames): NodeJS.ProcessEnv {
  return {
    ...process.env,
    COINLAKE_WAREHOUSE: typeof db === 'string' ? db : db.url,
    COINLAKE_LAKE: path.join(dir, `lake-${typeof db === 'string' ? 'duckdb' : db.name}`),
    COINLAKE_REPLAY: '',
    COINLAKE_BINANCE_URL: replay.binanceUrl,
    COINLAKE_QUEUE: queue.queue,
  };
}

function coinlake(args: string[], env: NodeJS.ProcessEnv) {
  return run(process.execPath, [BIN, ...args], { cwd: dir, env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** A `coinlake worker` subprocess; `ready` settles once it pulls, `exit` when it ends. */
function spawnWorker(name: string, env: NodeJS.ProcessEnv, args: string[] = []) {
  const child = spawn(process.execPath, [BIN, 'worker', '--name', name, ...args], { cwd: dir, env });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += String(d);
      if (stdout.includes(`worker ${name} ready`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker ${name} exited (${code}) before it was ready: ${stderr}`)));
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { name, child, ready, exit, output: () => ({ stdout, stderr }) };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Row count, distinct keys and a checksum over every data column of ohlcv_1m (lineage columns differ by run). */
async function fingerprint(s: Session): Promise<{ n: number; keys: number; sum: string }> {
  const [r] = await s.query<{ n: number; keys: number; sum: string }>(
    `SELECT count(*) AS n, count(DISTINCT (exchange, symbol, ts)) AS keys,
            md5(string_agg(concat_ws('|', exchange, symbol, extract(epoch FROM ts)::bigint, open, high, low, close, volume_base, volume_quote, trade_count), ','
                           ORDER BY exchange, symbol, ts)) AS sum
       FROM coinlake.ohlcv_1m`,
  );
  return { n: Number(r.n), keys: Number(r.keys), sum: r.sum };
}

const request = (over: Partial<BackfillRequest> = {}): BackfillRequest => ({
  job: 'binance.klines',
  from: new Date(MAR_4),
  to: new Date(MAR_4 + 3 * DAY),
  symbols: ['BTCUSDT', 'ETHUSDT'],
  params: { interval: '1m' },
  endpoints: { baseUrls: { binance: replay.binanceUrl } },
  ...over,
});

const inProcessWorker = (db: TestDatabase, lake: LocalLake, queue: TaskQueueNames, name: string, over: Partial<ConstructorParameters<typeof BackfillWorker>[0]> = {}) => {
  const w = new BackfillWorker({ warehouse: db.url, lake, nc, queue, name, ackWaitMs: 2_000, pullMs: 1_000, endpoints: { http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 2 } }, ...over });
  workers.push(w);
  return w;
};

describe('distributed backfill', () => {
  it('three worker subprocesses, one SIGKILLed mid-chunk: its task is redelivered and the table equals a single-process run', async () => {
    const { queue, db, s } = await fixture();
    // The reference: the same backfill in one process, into a database of its own.
    const cleanDb = await createTestDatabase();
    databases.push(cleanDb);
    const clean = await openWarehouse(cleanDb.url);
    sessions.push(clean);
    await runBackfill(request(), { session: clean, lake: new LocalLake(path.join(dir, 'lake-clean')), progress: false });

    // Every klines request takes 1.5 s, so a chunk (2 requests) takes 3 s and the kill lands inside one.
    replay.inject({ kind: 'slow', path: '/binance/api/v3/klines', delayMs: 1_500, times: Infinity });
    const env = cliEnv(db, queue);
    const procs = ['w1', 'w2', 'w3'].map((name) => spawnWorker(name, env, ['--ack-wait', '2s']));
    await Promise.all(procs.map((p) => p.ready));
    const coordinator = coinlake(['backfill', '--distributed', '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-07', '--symbols', 'BTCUSDT,ETHUSDT'], env);

    const victim = await until('w1 to run a chunk', async () => {
      const rows = await s
        .query<{ job: string; chunk_start: Date }>(`SELECT job, chunk_start FROM coinlake_meta.backfill_task WHERE worker = 'w1' AND status = 'running'`)
        .catch(() => []);
      return rows[0];
    });
    procs[0].child.kill('SIGKILL');
    expect(await procs[0].exit).toEqual({ code: null, signal: 'SIGKILL' });
    // Killed before its commit: the chunk is not loaded.
    const [{ n: victimLoaded }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_chunk WHERE job = $1 AND chunk_start = $2`, [victim.job, victim.chunk_start]);
    expect(Number(victimLoaded)).toBe(0);

    const out = await coordinator;
    expect(out.code).toBe(0);
    // stderr holds only the progress lines (every 5 s when not on a terminal).
    for (const line of out.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^binance\.klines BTCUSDT,ETHUSDT: \d\/6 chunks \(\d+%\), /);
    const perSymbol = 3 * PER_DAY - 30;
    const lines = out.stdout.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^binance\\.klines: 6/6 chunks \\(0 already loaded, 6 now, 6 commits\\), 8,580 rows into coinlake\\.ohlcv_1m \\(8,580 inserted, 0 updated\\) in \\d+\\.\\d s — run \\S+ \\(process 1\\)$`),
    );
    expect(lines.slice(1, 3)).toEqual(['  gaps: binance BTC-USDT 1m: 4,320 expected, 4,290 present, 30 missing', '  gaps: binance ETH-USDT 1m: 4,320 expected, 4,290 present, 30 missing']);

    // The same rows as the single-process run, each once.
    const got = await fingerprint(s);
    const want = await fingerprint(clean);
    expect(got).toEqual(want);
    expect(got).toMatchObject({ n: 2 * perSymbol, keys: 2 * perSymbol });

    // Every chunk recorded exactly once; the killed worker's chunk by another worker, on a later delivery.
    const chunks = await s.query<{ job: string; chunk_start: Date; worker: string; rows_loaded: number }>(
      `SELECT job, chunk_start, worker, rows_loaded FROM coinlake_meta.backfill_chunk WHERE process_id = 1 ORDER BY job, chunk_start`,
    );
    expect(chunks.map((c) => [c.job, c.chunk_start.getTime(), Number(c.rows_loaded)])).toEqual([
      ['BINANCE/KLINES_BTCUSDT_1M', MAR_4, PER_DAY],
      ['BINANCE/KLINES_BTCUSDT_1M', MAR_4 + DAY, PER_DAY - 30],
      ['BINANCE/KLINES_BTCUSDT_1M', MAR_4 + 2 * DAY, PER_DAY],
      ['BINANCE/KLINES_ETHUSDT_1M', MAR_4, PER_DAY],
      ['BINANCE/KLINES_ETHUSDT_1M', MAR_4 + DAY, PER_DAY - 30],
      ['BINANCE/KLINES_ETHUSDT_1M', MAR_4 + 2 * DAY, PER_DAY],
    ]);
    const [{ n: allChunks }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_chunk`);
    expect(Number(allChunks)).toBe(6);
    const redone = chunks.find((c) => c.job === victim.job && c.chunk_start.getTime() === victim.chunk_start.getTime())!;
    expect(['w2', 'w3']).toContain(redone.worker);
    const [task] = await s.query<{ status: string; worker: string; attempts: number }>(
      `SELECT status, worker, attempts FROM coinlake_meta.backfill_task WHERE job = $1 AND chunk_start = $2`,
      [victim.job, victim.chunk_start],
    );
    expect(task.status).toBe('committed');
    expect(task.worker).toBe(redone.worker);
    expect(Number(task.attempts)).toBeGreaterThanOrEqual(2);

    // ONE run row, complete; state at the end of the range for both symbols.
    const runs = await s.query<{ execution_status: number; rows_loaded: number; error_message: string | null; table_name: string }>(
      `SELECT execution_status, rows_loaded, error_message, table_name FROM coinlake_meta.workflow_action_history`,
    );
    expect(runs.map((r) => ({ ...r, rows_loaded: Number(r.rows_loaded) }))).toEqual([{ execution_status: 1, rows_loaded: 2 * perSymbol, error_message: null, table_name: 'KLINES_1M' }]);
    const states = await s.query<{ table_name: string; state: string }>(`SELECT table_name, state FROM coinlake_meta.ingestion_state ORDER BY table_name`);
    expect(states.map((r) => [r.table_name, JSON.parse(r.state).watermark])).toEqual([
      ['KLINES_BTCUSDT_1M', MAR_4 + 3 * DAY - MIN],
      ['KLINES_ETHUSDT_1M', MAR_4 + 3 * DAY - MIN],
    ]);

    // The summary's workers line and `coinlake status` agree with backfill_chunk's worker column.
    const perWorker = await s.query<{ worker: string; n: number; rows: number }>(
      `SELECT worker, count(*) AS n, sum(rows_loaded) AS rows FROM coinlake_meta.backfill_chunk GROUP BY worker ORDER BY worker`,
    );
    expect(perWorker.reduce((n, w) => n + Number(w.n), 0)).toBe(6);
    expect(lines[3]).toBe(`  workers: ${perWorker.map((w) => `${w.worker} ${w.n} chunk(s) (${Number(w.rows).toLocaleString('en-US')} rows)`).join(', ')}`);
    const status = await coinlake(['status'], env);
    expect(status.code).toBe(0);
    const block = status.stdout.split('\n\n')[1].trimEnd().split('\n');
    expect(block[0]).toMatch(/^backfill process 1 \(run \S+, binance\.klines, distributed\): 6 chunks — 6 committed, 0 running, 0 to retry, 0 failed, 0 queued, 0 already loaded$/);
    expect(block[1].split(/\s+/)).toEqual(['worker', 'done', 'running', 'failed', 'rows', 'last_update']);
    expect(block.slice(3).map((l) => l.split(/\s+/).slice(0, 5))).toEqual(perWorker.map((w) => [w.worker, String(w.n), '0', '0', Number(w.rows).toLocaleString('en-US')]));

    // The survivors stop cleanly on SIGTERM.
    for (const p of procs.slice(1)) p.child.kill('SIGTERM');
    for (const p of procs.slice(1)) {
      expect(await p.exit).toEqual({ code: 0, signal: null });
      const done = perWorker.find((w) => w.worker === p.name);
      expect(p.output().stdout).toContain(`worker ${p.name} stopped: ${done?.n ?? 0} chunk(s) committed`);
    }
    recordTrial({ suite: 'distributed', case: 'three workers, one SIGKILLed mid-chunk (postgres)', faults: 1, rowsLost: Math.max(0, want.n - got.keys), rowsDuplicated: Math.max(0, got.n - got.keys), clearError: null });
  }, 240_000);

  it('--rate-shared against an API that limits: three worker subprocesses, one SIGKILLed mid-chunk, never pass the limit together; the table equals a single-process run', async () => {
    // The API allows 2 klines requests per 2 s from this address, all workers together; the workers' shared budget is
    // --rate 2 per COINLAKE_RATE_WINDOW_MS = 2 s. Every request takes 1 s, so the kill lands inside a chunk.
    const LIMIT = 2;
    const WINDOW_MS = 2_000;
    const limited = await startReplayServer({ clientLimit: { limit: LIMIT, windowMs: WINDOW_MS, by: 'address' } });
    try {
      const { queue, db, s } = await fixture();
      const cleanDb = await createTestDatabase();
      databases.push(cleanDb);
      const clean = await openWarehouse(cleanDb.url);
      sessions.push(clean);
      await runBackfill(request(), { session: clean, lake: new LocalLake(path.join(dir, 'lake-clean-shared')), progress: false });

      limited.inject({ kind: 'slow', path: '/binance/api/v3/klines', delayMs: 1_000, times: Infinity });
      const env = { ...cliEnv(db, queue), COINLAKE_BINANCE_URL: limited.binanceUrl, COINLAKE_RATE_WINDOW_MS: String(WINDOW_MS) };
      const procs = ['r1', 'r2', 'r3'].map((name) => spawnWorker(name, env, ['--ack-wait', '2s']));
      await Promise.all(procs.map((p) => p.ready));
      const since = Date.now();
      const coordinator = coinlake(['backfill', '--distributed', '--rate-shared', '--rate', String(LIMIT), '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-07', '--symbols', 'BTCUSDT,ETHUSDT'], env);
      await until('r1 to run a chunk', async () => {
        const rows = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_task WHERE worker = 'r1' AND status = 'running'`).catch(() => [{ n: 0 }]);
        return Number(rows[0].n) > 0 ? true : undefined;
      });
      procs[0].child.kill('SIGKILL');
      expect(await procs[0].exit).toEqual({ code: null, signal: 'SIGKILL' });
      const out = await coordinator;
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout.split('\n')[0]).toMatch(/^binance\.klines: 6\/6 chunks \(0 already loaded, 6 now, 6 commits\), 8,580 rows into coinlake\.ohlcv_1m \(8,580 inserted, 0 updated\)/);

      // Nothing lost, nothing twice.
      const got = await fingerprint(s);
      const want = await fingerprint(clean);
      expect(got).toEqual(want);
      // The API never refused a request, and no window of its arrivals holds more than the limit.
      const klines = limited.requests.filter((r) => r.path === '/binance/api/v3/klines' && r.at >= since);
      expect(klines.length).toBeGreaterThanOrEqual(12);
      expect(klines.filter((r) => r.status === 429 || r.status === 418)).toEqual([]);
      const at = klines.map((r) => r.at).sort((a, b) => a - b);
      let busiest = 0;
      for (let i = 0, j = 0; i < at.length; i++) {
        while (at[i] - at[j] >= WINDOW_MS) j++;
        busiest = Math.max(busiest, i - j + 1);
      }
      expect(busiest).toBeLessThanOrEqual(LIMIT);
      // Two a window, 12 or more requests: the budget set the pace (at least 5 windows after the first request).
      expect(at.at(-1)! - at[0]).toBeGreaterThanOrEqual(5 * WINDOW_MS);
      for (const p of procs.slice(1)) p.child.kill('SIGTERM');
      for (const p of procs.slice(1)) expect(await p.exit).toEqual({ code: 0, signal: null });
      recordTrial({ suite: 'distributed', case: 'three workers on one shared budget, one SIGKILLed mid-chunk (postgres)', faults: 1, rowsLost: Math.max(0, want.n - got.keys), rowsDuplicated: Math.max(0, got.n - got.keys), clearError: null });
    } finally {
      await limited.close();
    }
  }, 240_000);

  it('--no-wait: the last worker closes the run; a rerun publishes nothing; a task of a committed chunk is acked without loading', async () => {
    const { queue, db, s, lake } = await fixture();
    const env = cliEnv(db, queue);
    const published = await coinlake(['backfill', '--distributed', '--no-wait', '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-06', '--symbols', 'BTCUSDT'], env);
    expect(published.stderr).toBe('');
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(
      new RegExp(`^${queue.stream}: 2 chunk task\\(s\\) published \\(0 of 2 already loaded\\) — run \\S+ \\(process 1\\); 2 chunk\\(s\\) left to the workers, the last of them closes the run \\(see coinlake status\\)\\n$`),
    );
    const [open] = await s.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history`);
    expect(open.execution_status).toBe(0);
    const stored = async () => (await (await jetstreamManager(nc)).streams.info(queue.stream)).state.messages;
    expect(await stored()).toBe(2);

    const events: string[] = [];
    const worker = inProcessWorker(db, lake, queue, 'solo', { onEvent: (l) => events.push(l) });
    await worker.start();
    await until('the worker to close the run', async () => (events.some((e) => e.startsWith('solo: closed run')) ? true : undefined));
    const [closed] = await s.query<{ execution_status: number; rows_loaded: number; details: string }>(
      `SELECT execution_status, rows_loaded, details FROM coinlake_meta.workflow_action_history WHERE process_id = 1`,
    );
    expect(closed.execution_status).toBe(1);
    expect(Number(closed.rows_loaded)).toBe(2 * PER_DAY - 30);
    expect(JSON.parse(closed.details)).toMatchObject({
      chunks: { total: 2, skipped: 0, committed: 2, failed: 0, remaining: 0 },
      commits: 2,
      gaps: [{ series: { exchange: 'binance', symbol: 'BTC-USDT' }, expected: 2 * PER_DAY, present: 2 * PER_DAY - 30, missing: 30 }],
    });
    // A worker commits one chunk while it downloads the next: the two commits may come in either order, the close last.
    const solo = events.filter((e) => e.startsWith('solo: '));
    expect([...solo.slice(0, 2).sort(), ...solo.slice(2)]).toEqual([
      'solo: committed BINANCE/KLINES_BTCUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z (1,440 rows, attempt 1) for process 1',
      'solo: committed BINANCE/KLINES_BTCUSDT_1M 2024-03-05T00:00:00.000Z..2024-03-06T00:00:00.000Z (1,410 rows, attempt 1) for process 1',
      'solo: closed run ' + (await s.query<{ run_id: string }>(`SELECT run_id FROM coinlake_meta.workflow_action_history WHERE process_id = 1`))[0].run_id + ' (process 1) with status 1',
    ]);
    expect(await stored()).toBe(0);

    // The same range again: every chunk is loaded, nothing is published, requested or loaded.
    const requests = replay.requests.length;
    const again = await runDistributedBackfill(request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['BTCUSDT'] }), { session: s, lake, nc, queue, progress: false });
    expect(again.published).toMatchObject({ processId: 2, total: 2, skipped: 2, published: 0, duplicates: 0 });
    expect(again.summary).toMatchObject({ status: 1, chunks: { total: 2, skipped: 2, committed: 0, remaining: 0 }, rowsLoaded: 0 });
    expect(await stored()).toBe(0);

    // A task of a committed chunk delivered again (a worker killed between COMMIT and ack): acked, nothing loaded.
    const [firstRun] = await s.query<{ run_id: string; execution_start_datetime: Date }>(`SELECT run_id, execution_start_datetime FROM coinlake_meta.workflow_action_history WHERE process_id = 1`);
    const replayed: BackfillTask = backfillTaskSchema.parse({
      kind: 'backfill.chunk',
      warehouseId: again.published.queue.warehouseId,
      processId: 1,
      runId: firstRun.run_id,
      runStartedAt: firstRun.execution_start_datetime.toISOString(),
      job: 'binance.klines',
      symbol: 'BTCUSDT',
      params: { interval: '1m' },
      from: new Date(MAR_4).toISOString(),
      to: new Date(MAR_4 + 2 * DAY).toISOString(),
      chunkMs: DAY,
      key: 'BINANCE/KLINES_BTCUSDT_1M',
      chunkStart: new Date(MAR_4).toISOString(),
      chunkEnd: new Date(MAR_4 + DAY).toISOString(),
      ordinal: 1,
    });
    await jetstream(nc).publish(runSubject(again.published.queue, 1), encodeTask(replayed), { msgID: 'redelivered-copy' });
    await until('the copy to be acked', async () => ((await stored()) === 0 && worker.stats.skipped === 1 ? true : undefined));
    expect(worker.stats).toMatchObject({ committed: 2, skipped: 1, retried: 0, failed: 0, rowsLoaded: 2 * PER_DAY - 30 });
    expect(replay.requests.length).toBe(requests);
    const [{ n, rows }] = await s.query<{ n: number; rows: number }>(`SELECT count(*) AS n, sum(rows_loaded) AS rows FROM coinlake_meta.backfill_chunk`);
    expect([Number(n), Number(rows)]).toEqual([2, 2 * PER_DAY - 30]);
    expect((await fingerprint(s)).n).toBe(2 * PER_DAY - 30);
    await worker.stop();
  }, 120_000);

  it('a chunk that fails for good (unknown symbol) fails the run with its message; the other chunks stay loaded', async () => {
    const { queue, db, s, lake } = await fixture();
    const worker = inProcessWorker(db, lake, queue, 'solo');
    await worker.start();
    const err = await runDistributedBackfill(request({ to: new Date(MAR_4 + DAY), symbols: ['BTCUSDT', 'NOPEUSDT'] }), { session: s, lake, nc, queue, progress: false, pollMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect(err.cause.message).toBe(
      '1 chunk(s) failed: BINANCE/KLINES_NOPEUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z: Binance rejected klines NOPEUSDT 1m: Invalid symbol. (code -1121)',
    );
    const [r] = await s.query<{ execution_status: number; error_message: string; rows_loaded: number }>(`SELECT execution_status, error_message, rows_loaded FROM coinlake_meta.workflow_action_history`);
    expect(r).toMatchObject({ execution_status: -1, error_message: err.cause.message });
    expect(Number(r.rows_loaded)).toBe(PER_DAY);
    const tasks = await s.query<{ job: string; status: string; attempts: number }>(`SELECT job, status, attempts FROM coinlake_meta.backfill_task ORDER BY job`);
    expect(tasks.map((t) => [t.job, t.status, Number(t.attempts)])).toEqual([
      ['BINANCE/KLINES_BTCUSDT_1M', 'committed', 1],
      ['BINANCE/KLINES_NOPEUSDT_1M', 'failed', 1],
    ]);
    expect(worker.stats).toMatchObject({ committed: 1, failed: 1, retried: 0 });
    await worker.stop();
  }, 60_000);

  it('a task whose last allowed delivery dies with its worker is failed for good by another worker', async () => {
    const { queue, db, s, lake } = await fixture();
    replay.inject({ kind: 'slow', path: '/binance/api/v3/klines', delayMs: 1_000, times: Infinity });
    const first = inProcessWorker(db, lake, queue, 'first', { maxDeliver: 1 });
    await first.start();
    const coordinator = runDistributedBackfill(request({ to: new Date(MAR_4 + DAY), symbols: ['BTCUSDT'] }), { session: s, lake, nc, queue, progress: false, pollMs: 100 }).catch((e) => e);
    await until('first to run the chunk', async () => {
      const [t] = await s.query<{ status: string }>(`SELECT status FROM coinlake_meta.backfill_task`).catch(() => []);
      return t?.status === 'running' ? true : undefined;
    });
    // Given back on its one allowed delivery: the queue will not deliver it again.
    await first.stop({ abandon: true });
    const second = inProcessWorker(db, lake, queue, 'second');
    await second.start();
    const err = await coordinator;
    expect(err).toBeInstanceOf(RunFailedError);
    expect(err.cause.message).toBe(
      '1 chunk(s) failed: BINANCE/KLINES_BTCUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z: delivered 1 times without finishing; its last worker (first) stopped answering',
    );
    const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_chunk`);
    expect(Number(n)).toBe(0);
    expect((await (await jetstreamManager(nc)).streams.info(queue.stream)).state.messages).toBe(0);
    await second.stop();
  }, 60_000);

  it('a DuckDB warehouse is refused with one clear line by the coordinator and the worker', async () => {
    const queue = taskQueueNames(`t${randomBytes(4).toString('hex')}`);
    const env = cliEnv(path.join(dir, 'local.duckdb'), queue);
    const expected = (what: string) =>
      `error: ${what} needs a warehouse that several processes write at once (PostgreSQL); ${path.join(dir, 'local.duckdb')} is a DuckDB file, which one process holds at a time\n` +
      'hint: point --warehouse (or COINLAKE_WAREHOUSE) at postgres://…, or run the backfill in one process without --distributed\n';
    const b = await coinlake(['backfill', '--distributed', '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-05', '--symbols', 'BTCUSDT'], env);
    expect(b).toEqual({ code: 1, stdout: '', stderr: expected('backfill --distributed') });
    const w = await coinlake(['worker', '--name', 'w1'], env);
    expect(w).toEqual({ code: 1, stdout: '', stderr: expected('coinlake worker') });
  }, 120_000);
});

/** The promise's value, or a rejection once `ms` passed (a coordinator that hangs fails the test instead of the run). */
async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('distributed backfill: queues shared across warehouses and runs', () => {
  it('a fresh warehouse reusing a queue within the duplicate window: its tasks (process 1 again) are not dropped', async () => {
    const a = await fixture();
    const wa = inProcessWorker(a.db, a.lake, a.queue, 'wa');
    await wa.start();
    const req = request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['BTCUSDT'] });
    const first = await within('warehouse A', runDistributedBackfill(req, { session: a.s, lake: a.lake, nc, queue: a.queue, progress: false, pollMs: 100 }), 60_000);
    expect(first.published).toMatchObject({ processId: 1, published: 2, duplicates: 0 });
    await wa.stop();

    // A new warehouse on the same queue, seconds later: its backfill is process 1 again, with the same chunks.
    const db = await createTestDatabase();
    databases.push(db);
    const s = await openWarehouse(db.url);
    sessions.push(s);
    const lake = new LocalLake(path.join(dir, `lake-${db.name}`));
    const wb = inProcessWorker(db, lake, a.queue, 'wb');
    await wb.start();
    const second = await within('warehouse B', runDistributedBackfill(req, { session: s, lake, nc, queue: a.queue, progress: false, pollMs: 100 }), 60_000);
    expect(second.published).toMatchObject({ processId: 1, published: 2, duplicates: 0 });
    expect(second.summary).toMatchObject({ status: 1, rowsLoaded: 2 * PER_DAY - 30 });
    const got = await fingerprint(s);
    expect(got).toEqual(await fingerprint(a.s));
    expect(got).toMatchObject({ n: 2 * PER_DAY - 30, keys: 2 * PER_DAY - 30 });
    expect(wb.stats).toMatchObject({ committed: 2, failed: 0 });
    await wb.stop();
  }, 180_000);

  it('tasks that vanish from the queue fail the run with a clear error instead of waiting forever', async () => {
    const { queue, db, s, lake } = await fixture();
    const coordinator = runDistributedBackfill(request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['BTCUSDT'] }), { session: s, lake, nc, queue, progress: false, pollMs: 100 }).catch((e) => e);
    const jsm = await jetstreamManager(nc);
    await until('the tasks to be published', async () => ((await jsm.streams.info(queue.stream).catch(() => undefined))?.state.messages === 2 ? true : undefined));
    // Gone before any worker took them (as when JetStream drops a repeated message id, or someone purges the stream).
    await jsm.streams.purge(queue.stream);
    const err = await within('the coordinator', coordinator, 30_000);
    expect(err).toBeInstanceOf(RunFailedError);
    const why = `its task is not in the work queue (stream ${queue.stream} holds none of this run's tasks): JetStream dropped it as a duplicate, or it was deleted`;
    expect(err.cause.message).toBe(
      `2 chunk(s) failed: BINANCE/KLINES_BTCUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z: ${why}; BINANCE/KLINES_BTCUSDT_1M 2024-03-05T00:00:00.000Z..2024-03-06T00:00:00.000Z: ${why}`,
    );
    const [r] = await s.query<{ execution_status: number; error_message: string }>(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history`);
    expect(r).toEqual({ execution_status: -1, error_message: err.cause.message });
    const tasks = await s.query<{ status: string }>(`SELECT status FROM coinlake_meta.backfill_task`);
    expect(tasks.map((t) => t.status)).toEqual(['failed', 'failed']);

    // The rerun with a worker loads both chunks, each once.
    const w = inProcessWorker(db, lake, queue, 'w');
    await w.start();
    const rerun = await within('the rerun', runDistributedBackfill(request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['BTCUSDT'] }), { session: s, lake, nc, queue, progress: false, pollMs: 100 }), 60_000);
    expect(rerun.summary).toMatchObject({ status: 1, rowsLoaded: 2 * PER_DAY - 30 });
    const got = await fingerprint(s);
    const want = 2 * PER_DAY - 30;
    recordTrial({ suite: 'distributed', case: 'tasks gone from the queue, then a rerun (postgres)', faults: 1, rowsLost: Math.max(0, want - got.keys), rowsDuplicated: got.n - got.keys, clearError: err.cause.message.includes('is not in the work queue') });
    expect(got).toMatchObject({ n: want, keys: want });
    await w.stop();
  }, 90_000);

  it('no worker takes a task for the stall timeout: the run fails with a clear error and leaves nothing queued', async () => {
    const { queue, s, lake } = await fixture();
    const t0 = Date.now();
    const err = await within(
      'the coordinator',
      runDistributedBackfill(request({ to: new Date(MAR_4 + DAY), symbols: ['BTCUSDT'] }), { session: s, lake, nc, queue, progress: false, pollMs: 100, stallMs: 2_000 }).catch((e) => e),
      30_000,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2_000);
    expect(err).toBeInstanceOf(RunFailedError);
    const [{ warehouse_id: wid }] = await s.query<{ warehouse_id: string }>(`SELECT warehouse_id FROM coinlake_meta.warehouse_identity`);
    expect(err.cause.message).toBe(
      `1 chunk(s) failed: BINANCE/KLINES_BTCUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z: no progress for 2 s: no worker of this warehouse took a task ` +
        `(stream ${queue.stream}, consumer ${queue.consumer.replace(/_workers$/, '')}_${wid}, no worker pulling); start \`coinlake worker\` on this warehouse and run the backfill again`,
    );
    expect((await (await jetstreamManager(nc)).streams.info(queue.stream)).state.messages).toBe(0);
  }, 60_000);

  it('--stall-timeout through the CLI: no worker for 2 s is a one-line error and exit 1; the flag needs --distributed', async () => {
    const { queue, db, s } = await fixture();
    const env = cliEnv(db, queue);
    const args = ['backfill', '--job', 'binance.klines', '--from', '2024-03-04', '--to', '2024-03-05', '--symbols', 'BTCUSDT', '--stall-timeout', '2s'];
    const out = await coinlake(['backfill', '--distributed', ...args.slice(1)], env);
    expect(out.code).toBe(1);
    const [{ warehouse_id: wid }] = await s.query<{ warehouse_id: string }>(`SELECT warehouse_id FROM coinlake_meta.warehouse_identity`);
    const consumer = `${queue.queue}_backfill_${wid}`;
    expect(out.stderr.split('\n').filter((l) => !/^binance\.klines BTCUSDT: /.test(l))).toEqual([
      `error: 1 chunk(s) failed: BINANCE/KLINES_BTCUSDT_1M 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z: no progress for 2 s: no worker of this warehouse took a task (stream ${queue.stream}, consumer ${consumer}, no worker pulling); start \`coinlake worker\` on this warehouse and run the backfill again`,
      expect.stringMatching(/^run \S+ \(process 1\) failed; log: \S+$/),
      '',
    ]);
    const alone = { code: 1, stdout: '', stderr: 'error: --nats, --queue, --no-wait, --stall-timeout and --rate-shared go with --distributed\n' };
    expect(await coinlake(args, env)).toEqual(alone);
    expect(await coinlake([...args.slice(0, -2), '--rate-shared'], env)).toEqual(alone);
  }, 60_000);

  it('--rate-shared: two workers take every klines request from one budget in NATS, exactly one grant per request the API saw', async () => {
    const { queue, db, s, lake } = await fixture();
    const [w1, w2] = ['s1', 's2'].map((name) => inProcessWorker(db, lake, queue, name));
    await Promise.all([w1.start(), w2.start()]);
    const since = Date.now();
    const endpoints = { baseUrls: { binance: replay.binanceUrl }, rateLimitPerMinute: 600, rateLimitShared: true };
    const out = await within('the backfill', runDistributedBackfill(request({ endpoints }), { session: s, lake, nc, queue, progress: false, pollMs: 100 }), 120_000);
    expect(out.summary).toMatchObject({ status: 1 });
    const klines = replay.requests.filter((r) => r.path === '/binance/api/v3/klines' && r.at >= since);
    expect(klines.length).toBeGreaterThan(0);
    const kv = await new Kvm(nc).open(BUDGET_BUCKET);
    const entry = await kv.get(budgetEntryKey(budgetName({ source: { name: 'binance' }, baseUrl: replay.binanceUrl })));
    const grants = (entry!.json<number[]>() ?? []).filter((t) => t >= since);
    expect(grants).toHaveLength(klines.length);
    expect(w1.stats.committed + w2.stats.committed).toBe(6);
  }, 180_000);

  it('two warehouses on one queue: each worker loads only its own warehouse\'s tasks; both backfills finish exactly', async () => {
    const x = await fixture();
    const db = await createTestDatabase();
    databases.push(db);
    const ys = await openWarehouse(db.url);
    sessions.push(ys);
    const y = { db, s: ys, lake: new LocalLake(path.join(dir, `lake-${db.name}`)) };
    // Only X's worker is up at first: before, it took Y's tasks and failed them ("no run row in this warehouse").
    const wx = inProcessWorker(x.db, x.lake, x.queue, 'wx');
    await wx.start();
    const reqX = request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['BTCUSDT'] });
    const reqY = request({ to: new Date(MAR_4 + 2 * DAY), symbols: ['ETHUSDT'] });
    const cx = runDistributedBackfill(reqX, { session: x.s, lake: x.lake, nc, queue: x.queue, progress: false, pollMs: 100 });
    const cy = runDistributedBackfill(reqY, { session: y.s, lake: y.lake, nc, queue: x.queue, progress: false, pollMs: 100 });
    const ox = await within('warehouse X', cx, 60_000);
    await sleep(1_000);
    const wy = inProcessWorker(y.db, y.lake, x.queue, 'wy');
    await wy.start();
    const oy = await within('warehouse Y', cy, 60_000);
    expect(ox.summary).toMatchObject({ status: 1, rowsLoaded: 2 * PER_DAY - 30 });
    expect(oy.summary).toMatchObject({ status: 1, rowsLoaded: 2 * PER_DAY - 30 });
    expect(wx.stats).toMatchObject({ committed: 2, skipped: 0, retried: 0, failed: 0 });
    expect(wy.stats).toMatchObject({ committed: 2, skipped: 0, retried: 0, failed: 0 });
    const symbols = async (s: Session) => (await s.query<{ symbol: string; n: number }>(`SELECT symbol, count(*) AS n FROM coinlake.ohlcv_1m GROUP BY symbol`)).map((r) => [r.symbol, Number(r.n)]);
    expect(await symbols(x.s)).toEqual([['BTC-USDT', 2 * PER_DAY - 30]]);
    expect(await symbols(ys)).toEqual([['ETH-USDT', 2 * PER_DAY - 30]]);
    const tasks = async (s: Session) => (await s.query<{ job: string; status: string; worker: string }>(`SELECT job, status, worker FROM coinlake_meta.backfill_task ORDER BY chunk_start`)).map((t) => [t.job, t.status, t.worker]);
    expect(await tasks(x.s)).toEqual([
      ['BINANCE/KLINES_BTCUSDT_1M', 'committed', 'wx'],
      ['BINANCE/KLINES_BTCUSDT_1M', 'committed', 'wx'],
    ]);
    expect(await tasks(ys)).toEqual([
      ['BINANCE/KLINES_ETHUSDT_1M', 'committed', 'wy'],
      ['BINANCE/KLINES_ETHUSDT_1M', 'committed', 'wy'],
    ]);
    const fx = await fingerprint(x.s);
    const fy = await fingerprint(ys);
    const want = 2 * (2 * PER_DAY - 30);
    recordTrial({ suite: 'distributed', case: 'a shared queue: two warehouses, one queue (postgres)', faults: 1, rowsLost: Math.max(0, want - fx.keys - fy.keys), rowsDuplicated: fx.n - fx.keys + fy.n - fy.keys, clearError: null });
    await wx.stop();
    await wy.stop();
  }, 180_000);
});
