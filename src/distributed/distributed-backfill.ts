// `coinlake backfill --distributed`: the coordinator. Plans the chunks exactly as a single-process backfill does, opens
// the backfill's ONE run row, queues one task per chunk not yet committed (coinlake_meta.backfill_task) and publishes
// it to the JetStream work queue, then — unless told not to wait — follows the workers' progress in the warehouse
// until every chunk is committed or failed for good, and closes the run with the gap report. It never waits forever:
// tasks missing from the queue (dropped as duplicates, deleted) or no progress for a bounded time fail the run.
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { warehouseId } from '../catalog/warehouse-identity.ts';
import type { Session } from '../core/destination.ts';
import { ConfigError, TerminalError, errorMessage } from '../core/errors.ts';
import { committedChunks, planBackfill, type BackfillOptions, type BackfillPlan, type BackfillRequest, type BackfillSummary } from '../runner/backfill.ts';
import { createBarProgress } from '../runner/progress.ts';
import { RunFailedError } from '../runner/run-job.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import type { RunScope } from '../pipeline/run-steps.ts';
import { closeDistributedBackfill, type DistributedDetails } from './backfill-close.ts';
import { encodeTask, taskChunk, taskMsgId, type BackfillTask } from './backfill-task.ts';
import { ExhaustedTasks, failExhausted } from './exhausted-tasks.ts';
import { shareRunLease } from './run-lease.ts';
import { ensureTaskQueue, purgeRunTasks, queueActivity, runSubject, runTasksStored, taskQueueNames, warehouseQueue, type TaskQueueNames, type WarehouseQueue } from './task-queue.ts';
import { backfillTasks, markTaskFailed, queueTasks, taskCounts, taskProgressMark } from './task-table.ts';

/** How long the coordinator waits without any progress before it fails the run. Default 10 min. */
export const DEFAULT_STALL_MS = 600_000;

/** How the coordinator runs: a single backfill's options, plus the queue and whether to wait. */
export interface DistributedBackfillOptions extends Omit<BackfillOptions, 'beforeCommit' | 'maxRowsPerCommit'> {
  nc: NatsConnection;
  /** Default taskQueueNames() (COINLAKE_QUEUE or `coinlake`); scoped to the warehouse (warehouseQueue) here. */
  queue?: TaskQueueNames;
  /** Follow the workers until the run closes. Default true. */
  wait?: boolean;
  /** How often the warehouse is looked at while waiting. Default 1 s. */
  pollMs?: number;
  /** Called once when no worker has pulled a task after `idleHintMs` (default 10 s) of waiting. */
  onNoWorker?: (names: WarehouseQueue) => void;
  idleHintMs?: number;
  /**
   * Fail the run once nothing happened for this long: no task taken, loaded, retried or failed, and no worker of this
   * warehouse holding one. Default DEFAULT_STALL_MS (10 min).
   */
  stallMs?: number;
}

/** What the coordinator published. */
export interface PublishedBackfill {
  processId: number;
  runId: string;
  logPath: string;
  queue: WarehouseQueue;
  /** Chunks of the plan; already committed ones; tasks published (JetStream stored `duplicates` of them before). */
  total: number;
  skipped: number;
  published: number;
  duplicates: number;
}

/** The outcome: the run's summary once closed, or `left` when waiting stopped (signal) or was not asked for. */
export interface DistributedBackfillOutcome {
  published: PublishedBackfill;
  summary?: BackfillSummary;
  /** Tasks still outstanding when the coordinator stopped following them (the last worker closes the run). */
  left?: number;
}

/**
 * A distributed backfill needs a warehouse several processes write at once; an embedded DuckDB file is held by one
 * process. Throws a ConfigError naming the location otherwise.
 */
export function requireSharedWarehouse(s: Session, location: string, what: string): void {
  if (s.capabilities.multiProcess) return;
  throw new ConfigError(`${what} needs a warehouse that several processes write at once (PostgreSQL); ${location} is a DuckDB file, which one process holds at a time`, {
    hint: 'point --warehouse (or COINLAKE_WAREHOUSE) at postgres://…, or run the backfill in one process without --distributed',
  });
}

/** Publishes a backfill's chunk tasks and (by default) waits for the workers to load them. */
export async function runDistributedBackfill(req: BackfillRequest, opts: DistributedBackfillOptions): Promise<DistributedBackfillOutcome> {
  const { session, lake, nc } = opts;
  if (req.limitRows !== undefined) throw new ConfigError('--limit is not supported with --distributed: workers load whole chunks independently');
  const plan = planBackfill(req);
  await ensureMetaTables(session);
  const names = warehouseQueue(opts.queue ?? taskQueueNames(), await warehouseId(session));
  // Reach NATS before a run row exists: an unreachable server is a clean error, not a failed run.
  await ensureTaskQueue(nc, names);
  const first = plan.jobs[0];
  let published: PublishedBackfill | undefined;
  // The coordinator's run loads nothing itself (its units are none): it publishes the chunks, and its workers load
  // them into this run through the pipeline (backfill-worker.ts); backfill-close.ts closes the shared run row.
  return runPipeline<never, DistributedBackfillOutcome>({
    session,
    lake,
    run: { open: { connectionName: first.connectionName, tableName: plan.runTable, window: { start: req.from, end: req.to }, logLevel: opts.logLevel, printLog: opts.printLog } },
    hooks: {
      plan: async (scope) => {
        await shareRunLease(session, scope.runId);
        published = await publishTasks(scope, req, plan, names, nc);
        return [];
      },
      complete: async () => {
        const done = published!;
        // Nothing to load: the run closes now, waiting or not (no worker would ever close it).
        if (opts.wait === false && done.published > 0) return { result: { published: done, left: done.published } };
        return { result: await follow(opts, done, req) };
      },
      // Once published, the run row is the workers' and backfill-close's: a failure while following leaves it as is.
      failed: (err, { processId, runId, logPath }) =>
        published
          ? {}
          : { figures: { rowsExtracted: 0, rowsQuarantined: 0, lakePaths: [] }, error: new RunFailedError({ processId, runId, logPath, job: req.job }, err instanceof Error ? err : new TerminalError(errorMessage(err))) },
    },
  });
}

/** Queues and publishes one task per chunk not yet committed; records the ones JetStream dropped as failed. */
async function publishTasks(scope: RunScope, req: BackfillRequest, plan: BackfillPlan, names: WarehouseQueue, nc: NatsConnection): Promise<PublishedBackfill> {
  const { session, log, processId, runId, logPath } = scope;
  const total = plan.keys.length * plan.windows.length;
  const committed = await committedChunks(session, plan, req.from, req.to);
  // Time order, symbols side by side (as runBackfill works), so every symbol's state advances as chunks commit.
  const tasks: BackfillTask[] = [];
  plan.windows.forEach((w, j) =>
    plan.keys.forEach((key, i) => {
      if (committed.done[i][j]) return;
      tasks.push({
        kind: 'backfill.chunk',
        warehouseId: names.warehouseId,
        processId,
        runId,
        runStartedAt: scope.startedAt.toISOString(),
        job: req.job,
        ...(req.symbols[i] ? { symbol: req.symbols[i] } : {}),
        params: definedParams(req.params ?? {}),
        from: req.from.toISOString(),
        to: req.to.toISOString(),
        chunkMs: plan.chunkMs,
        key,
        chunkStart: w.start.toISOString(),
        chunkEnd: w.end.toISOString(),
        ordinal: j * plan.keys.length + i + 1,
        ...(req.endpoints?.baseUrls ? { baseUrls: req.endpoints.baseUrls } : {}),
        ...(req.endpoints?.rateLimitPerMinute !== undefined ? { rateLimitPerMinute: req.endpoints.rateLimitPerMinute } : {}),
        ...(req.endpoints?.rateLimitShared ? { rateLimitShared: true } : {}),
      });
    }),
  );
  const details: DistributedDetails = {
    job: req.job,
    symbols: req.symbols,
    params: definedParams(req.params ?? {}),
    chunkMs: plan.chunkMs,
    distributed: { queue: names.queue, stream: names.stream, subject: runSubject(names, processId), published: tasks.length },
    chunks: { total, skipped: committed.count },
  };
  await session.exec(`UPDATE coinlake_meta.workflow_action_history SET details = $2 WHERE process_id = $1`, [processId, JSON.stringify(details)]);
  await queueTasks(session, processId, tasks.map((t) => ({ job: t.key, window: { start: new Date(t.chunkStart), end: new Date(t.chunkEnd) } })));
  const js = jetstream(nc);
  const subject = runSubject(names, processId);
  const dropped: BackfillTask[] = [];
  for (let i = 0; i < tasks.length; i += 256) {
    const part = tasks.slice(i, i + 256);
    const acks = await Promise.all(part.map((t) => js.publish(subject, encodeTask(t), { msgID: taskMsgId(t) })));
    acks.forEach((a, k) => a.duplicate && dropped.push(part[k]));
  }
  // Ids are unique per run, so a duplicate is a stranger's message under our id: that task will never be delivered.
  for (const t of dropped) {
    const why = `JetStream dropped its task as a duplicate: stream ${names.stream} already held message id ${taskMsgId(t)} (within its duplicate window)`;
    await markTaskFailed(session, processId, taskChunk(t), null, 0, true, why);
  }
  const duplicates = dropped.length;
  log.info({ job: req.job, symbols: req.symbols, chunks: total, skipped: committed.count, published: tasks.length, duplicates, stream: names.stream }, 'distributed backfill published');
  return { processId, runId, logPath, queue: names, total, skipped: committed.count, published: tasks.length, duplicates };
}

/** Waits for the run to close, showing progress; marks tasks failed that the queue gave up on. */
async function follow(opts: DistributedBackfillOptions, published: PublishedBackfill, req: BackfillRequest): Promise<DistributedBackfillOutcome> {
  const { session, lake, nc } = opts;
  const { processId, queue } = published;
  const progress = createBarProgress(`${req.job}${req.symbols.length ? ` ${req.symbols.join(',')}` : ''}`, {
    total: published.total,
    initial: published.skipped,
    enabled: opts.progress ?? Boolean(process.stderr.isTTY),
    intervalMs: opts.progressIntervalMs,
  });
  const started = Date.now();
  let hinted = false;
  const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
  let mark = '';
  let lastProgress = Date.now();
  let missingSeen = 0;
  const exhausted = new ExhaustedTasks(nc, queue);
  exhausted.start();
  try {
    for (;;) {
      const outcome = await closeDistributedBackfill(session, processId, { lake });
      if (outcome.closed) {
        progress.done();
        const summary = outcome.summary;
        if (summary && summary.status !== 1) {
          const [run] = await session.query<{ error_message: string | null }>(`SELECT error_message FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);
          throw new RunFailedError(
            { processId, runId: published.runId, logPath: published.logPath, job: req.job },
            new TerminalError(run?.error_message ?? `backfill process ${processId} ended with status ${summary.status}`),
          );
        }
        return { published, summary };
      }
      // The stream first, then the table: a task leaves the stream only after its row is final, so an outstanding row
      // read after the stream was counted had its message counted too — unless the message is gone for good.
      const stored = await runTasksStored(nc, queue, processId);
      const counts = await taskCounts(session, processId);
      const [{ rows }] = await session.query<{ rows: number | null }>(`SELECT rows_loaded AS rows FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);
      progress.update(published.total - outcome.outstanding - counts.failed, { rows: Number(rows ?? 0), running: counts.running });
      for (const item of exhausted.drain()) await failExhausted(session, nc, queue, item);
      const activity = await queueActivity(nc, queue);
      const outstanding = counts.queued + counts.running + counts.retrying;
      missingSeen = stored < outstanding ? missingSeen + 1 : 0;
      if (missingSeen >= 2) {
        const held = stored === 0 ? "none of this run's tasks" : `${stored} of this run's ${outstanding} outstanding tasks`;
        await failOutstanding(opts, queue, processId, `its task is not in the work queue (stream ${queue.stream} holds ${held}): JetStream dropped it as a duplicate, or it was deleted`);
        continue;
      }
      const now = await taskProgressMark(session, processId);
      if (now !== mark || activity.ackPending > 0) {
        mark = now;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress >= stallMs) {
        const taken = counts.running + counts.committed + counts.retrying + counts.failed + counts.skipped > 0;
        const pulling = activity.waiting > 0 ? `${activity.waiting} worker(s) pulling` : 'no worker pulling';
        const what = taken ? 'no chunk of this run was taken, loaded, retried or failed' : 'no worker of this warehouse took a task';
        await failOutstanding(
          opts,
          queue,
          processId,
          `no progress for ${span(stallMs)}: ${what} (stream ${queue.stream}, consumer ${queue.consumer}, ${pulling}); start \`coinlake worker\` on this warehouse and run the backfill again`,
        );
        continue;
      }
      if (!hinted && counts.running + counts.committed + counts.retrying + counts.failed + counts.skipped === 0 && activity.waiting === 0 && Date.now() - started > (opts.idleHintMs ?? 10_000)) {
        hinted = true;
        opts.onNoWorker?.(queue);
      }
      if (opts.signal?.aborted) {
        progress.done();
        return { published, left: outcome.outstanding };
      }
      await sleep(opts.pollMs ?? 1_000, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  } finally {
    exhausted.stop();
    progress.done();
  }
}

/** Fails every outstanding task of the run with `why` and deletes its tasks from the queue; the next look closes the run. */
async function failOutstanding(opts: DistributedBackfillOptions, queue: WarehouseQueue, processId: number, why: string): Promise<void> {
  await purgeRunTasks(opts.nc, queue, processId);
  for (const t of await backfillTasks(opts.session, processId)) {
    if (t.status !== 'queued' && t.status !== 'running' && t.status !== 'retrying') continue;
    await markTaskFailed(opts.session, processId, { job: t.job, window: { start: t.chunk_start, end: t.chunk_end } }, t.worker, t.attempts, true, why);
  }
}

/** `2 s`, `10 min`: how a stall timeout is written in its error. */
function span(ms: number): string {
  return ms < 60_000 || ms % 60_000 !== 0 ? `${ms / 1000} s` : `${ms / 60_000} min`;
}

/** Stream params without undefined values (a task is JSON). */
function definedParams(p: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(p).filter((e): e is [string, string | number | boolean] => e[1] !== undefined));
}
