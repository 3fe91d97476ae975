// `coinlake backfill --distributed`: the coordinator. Plans the chunks exactly as a single-process backfill does, opens
// the backfill's ONE run row, queues one task per chunk not yet committed (coinlake_meta.backfill_task) and publishes
// it to the JetStream work queue, then — unless told not to wait — follows the workers' progress in the warehouse
// until every chunk is committed or failed for good, and closes the run with the gap report.
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Session } from '../core/destination.ts';
import { ConfigError, TerminalError, errorMessage } from '../core/errors.ts';
import { committedChunks, planBackfill, type BackfillOptions, type BackfillRequest, type BackfillSummary } from '../runner/backfill.ts';
import { createBarProgress } from '../runner/progress.ts';
import { RunFailedError } from '../runner/run-job.ts';
import { failRunScope, openRunScope } from '../runner/run-steps.ts';
import { closeDistributedBackfill, type DistributedDetails } from './backfill-close.ts';
import { encodeTask, taskMsgId, type BackfillTask } from './backfill-task.ts';
import { ExhaustedTasks, failExhausted } from './exhausted-tasks.ts';
import { shareRunLease } from './run-lease.ts';
import { ensureTaskQueue, queueActivity, taskQueueNames, type TaskQueueNames } from './task-queue.ts';
import { queueTasks, taskCounts } from './task-table.ts';

/** How the coordinator runs: a single backfill's options, plus the queue and whether to wait. */
export interface DistributedBackfillOptions extends Omit<BackfillOptions, 'beforeCommit' | 'maxRowsPerCommit'> {
  nc: NatsConnection;
  /** Default taskQueueNames() (COINLAKE_QUEUE or `coinlake`). */
  queue?: TaskQueueNames;
  /** Follow the workers until the run closes. Default true. */
  wait?: boolean;
  /** How often the warehouse is looked at while waiting. Default 1 s. */
  pollMs?: number;
  /** Called once when no worker has pulled a task after `idleHintMs` (default 10 s) of waiting. */
  onNoWorker?: (names: TaskQueueNames) => void;
  idleHintMs?: number;
}

/** What the coordinator published. */
export interface PublishedBackfill {
  processId: number;
  runId: string;
  logPath: string;
  queue: TaskQueueNames;
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
  const names = opts.queue ?? taskQueueNames();
  // Reach NATS before a run row exists: an unreachable server is a clean error, not a failed run.
  await ensureTaskQueue(nc, names);
  const first = plan.jobs[0];
  const scope = await openRunScope(session, lake, {
    connectionName: first.connectionName,
    tableName: plan.runTable,
    window: { start: req.from, end: req.to },
    logLevel: opts.logLevel,
    printLog: opts.printLog,
  });
  const { log, processId, runId, logPath } = scope;
  await shareRunLease(session, runId);
  const total = plan.keys.length * plan.windows.length;
  let published: PublishedBackfill;
  try {
    const committed = await committedChunks(session, plan, req.from, req.to);
    // Time order, symbols side by side (as runBackfill works), so every symbol's state advances as chunks commit.
    const tasks: BackfillTask[] = [];
    plan.windows.forEach((w, j) =>
      plan.keys.forEach((key, i) => {
        if (committed.done[i][j]) return;
        tasks.push({
          kind: 'backfill.chunk',
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
        });
      }),
    );
    const details: DistributedDetails = {
      job: req.job,
      symbols: req.symbols,
      params: definedParams(req.params ?? {}),
      chunkMs: plan.chunkMs,
      distributed: { queue: names.queue, stream: names.stream, subject: names.backfillSubject, published: tasks.length },
      chunks: { total, skipped: committed.count },
    };
    await session.exec(`UPDATE coinlake_meta.workflow_action_history SET details = $2 WHERE process_id = $1`, [processId, JSON.stringify(details)]);
    await queueTasks(session, processId, tasks.map((t) => ({ job: t.key, window: { start: new Date(t.chunkStart), end: new Date(t.chunkEnd) } })));
    const js = jetstream(nc);
    let duplicates = 0;
    for (let i = 0; i < tasks.length; i += 256) {
      const acks = await Promise.all(tasks.slice(i, i + 256).map((t) => js.publish(names.backfillSubject, encodeTask(t), { msgID: taskMsgId(t) })));
      duplicates += acks.filter((a) => a.duplicate).length;
    }
    log.info({ job: req.job, symbols: req.symbols, chunks: total, skipped: committed.count, published: tasks.length, duplicates, stream: names.stream }, 'distributed backfill published');
    published = { processId, runId, logPath, queue: names, total, skipped: committed.count, published: tasks.length, duplicates };
  } catch (err) {
    await failRunScope(scope, err, { rowsExtracted: 0, rowsQuarantined: 0, lakePaths: [] });
    log.flush?.();
    throw new RunFailedError({ processId, runId, logPath, job: req.job }, err instanceof Error ? err : new TerminalError(errorMessage(err)));
  }
  // Nothing to load: the run closes now, waiting or not (no worker would ever close it).
  if (opts.wait === false && published.published > 0) {
    log.flush?.();
    return { published, left: published.published };
  }
  try {
    return await follow(opts, published, req);
  } finally {
    log.flush?.();
  }
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
      const counts = await taskCounts(session, processId);
      const [{ rows }] = await session.query<{ rows: number | null }>(`SELECT rows_loaded AS rows FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);
      progress.update(published.total - outcome.outstanding - counts.failed, { rows: Number(rows ?? 0), running: counts.running });
      for (const item of exhausted.drain()) await failExhausted(session, nc, queue, item);
      const activity = await queueActivity(nc, queue);
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

/** Stream params without undefined values (a task is JSON). */
function definedParams(p: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(p).filter((e): e is [string, string | number | boolean] => e[1] !== undefined));
}
