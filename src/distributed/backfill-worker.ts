// `coinlake worker`: pulls chunk tasks of distributed backfills from the shared JetStream consumer and loads each one
// into its backfill's run — the chunk's rows, its backfill_chunk record (with the worker's name), the job's state (the
// end of the unbroken run of committed chunks, recomputed under the table's lock) and the task's `committed` row in
// ONE transaction — and acks only after that commit. A task whose chunk is already committed is acked without loading;
// a failed attempt goes back to the queue with a delay (a terminal error, or the last allowed delivery, fails it for
// good). While it works the worker tells the server so (`working`), so only a dead worker's task is redelivered.
// A worker pulls from its warehouse's consumer only (task-queue.ts): another warehouse's tasks never reach it.
import os from 'node:os';
import PQueue from 'p-queue';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SharedBudget, budgetName, sharedBudgetWindowMs } from './shared-budget.ts';
import type { Logger } from 'pino';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { warehouseId } from '../catalog/warehouse-identity.ts';
import type { Session } from '../core/destination.ts';
import { ConfigError, TerminalError, errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { openWarehouse } from '../destinations/registry.ts';
import { HttpClient } from '../http/http-client.ts';
import { redactText } from '../http/redact.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { chunkCommittedBy, recordChunks, type Chunk } from '../runner/backfill-chunks.ts';
import { advanceState, committedChunks, planBackfill, stateAtPrefix } from '../runner/backfill.ts';
import type { Endpoints } from '../runner/job-builder.ts';
import { newRunId } from '../runner/run-history.ts';
import { createRunLogger } from '../runner/run-logger.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { extractBatch, stepTimer, type RunScope } from '../pipeline/run-steps.ts';
import { closeDistributedBackfill, runAcceptsWork } from './backfill-close.ts';
import { chunkLabel, decodeTask, taskChunk, type BackfillTask } from './backfill-task.ts';
import { requireSharedWarehouse } from './distributed-backfill.ts';
import { SharedLeases } from './run-lease.ts';
import { ExhaustedTasks, failExhausted } from './exhausted-tasks.ts';
import { ensureTaskQueue, taskQueueNames, warehouseQueue, type ConsumerSettings, type TaskQueueNames, type WarehouseQueue } from './task-queue.ts';
import { BACKFILL_TASK_TABLE, markTaskCommitted, markTaskFailed, markTaskRunning, markTaskSkipped } from './task-table.ts';

/** Raw pages of chunk n are numbered n × PAGE_SPAN + 1, + 2, …: unique within the run, the same on a retry. */
const PAGE_SPAN = 100_000;

export interface WorkerOptions {
  /** Warehouse location (a postgres:// URL); every slot opens its own session. */
  warehouse: string;
  lake: LocalLake;
  nc: NatsConnection;
  /** Default taskQueueNames() (COINLAKE_QUEUE or `coinlake`); the worker pulls its warehouse's tasks of it (warehouseQueue). */
  queue?: TaskQueueNames;
  /** Shown in backfill_chunk, backfill_task and `coinlake status`. Default `<host>-<pid>`. */
  name?: string;
  /**
   * Chunks downloaded at once. Default 1. The worker holds up to twice as many tasks: while one slot commits its
   * chunk, another downloads the next, so a chunk's commit and bookkeeping do not keep the API waiting.
   */
  concurrency?: number;
  /** Ack wait and deliveries of the shared consumer; when given, an existing consumer is updated to them. */
  ackWaitMs?: number;
  maxDeliver?: number;
  /** Base URLs (and HTTP settings) that win over a task's: the worker's --replay or COINLAKE_<SOURCE>_URL. */
  endpoints?: Endpoints;
  logLevel?: string;
  printLog?: boolean;
  /** Stop once no task came for this long. Default: never. */
  maxIdleMs?: number;
  /** Longest wait of one pull. Default 2 s (also how long a stop may take to notice). */
  pullMs?: number;
  /** One line per event (ready, each task, stopped), for the command's output. */
  onEvent?: (line: string) => void;
}

/** What a worker did. */
export interface WorkerStats {
  committed: number;
  skipped: number;
  retried: number;
  failed: number;
  rowsLoaded: number;
}

/** Milliseconds per step, rounded to 0.1 ms, for a log line. */
function roundTimings(t: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

/** The chunk was committed while this attempt was loading it (another delivery of the task won). */
class ChunkAlreadyCommitted extends Error {
  constructor(readonly by: number) {
    super(`chunk already committed by process ${by}`);
  }
}

/** A worker process's pull loops. start() it, then stop() it (or let maxIdleMs end it); `done` settles when it ended. */
export class BackfillWorker {
  readonly name: string;
  readonly stats: WorkerStats = { committed: 0, skipped: 0, retried: 0, failed: 0, rowsLoaded: 0 };
  logPath = '';
  done: Promise<void> = Promise.resolve();
  private readonly queue: TaskQueueNames;
  private names!: WarehouseQueue;
  private sessions: Session[] = [];
  private settings: ConsumerSettings = { ackWaitMs: 30_000, maxDeliver: 5 };
  private log!: Logger;
  private stopping = false;
  private abandoning = false;
  private readonly inFlight = new Set<AbortController>();
  private readonly http = new Map<string, HttpClient>();
  private lastActivity = Date.now();
  private exhausted?: ExhaustedTasks;
  /** Downloads (extractions) at once: `concurrency`, across the 2 × concurrency slots. */
  private downloads = new PQueue({ concurrency: 1 });
  /** The window of the shared budgets this worker opens (sharedBudgetWindowMs). */
  private readonly budgetWindowMs: number;

  constructor(private readonly opts: WorkerOptions) {
    this.name = opts.name ?? `${os.hostname()}-${process.pid}`;
    if (!/^[A-Za-z0-9_.-]+$/.test(this.name)) throw new ConfigError(`worker name "${this.name}" may only hold letters, digits, _, . and -`);
    this.queue = opts.queue ?? taskQueueNames();
    this.budgetWindowMs = sharedBudgetWindowMs();
  }

  /** Opens the warehouse sessions and the queue, then starts pulling. */
  async start(): Promise<void> {
    const concurrency = Math.max(1, Math.floor(this.opts.concurrency ?? 1));
    const first = await openWarehouse(this.opts.warehouse);
    this.sessions.push(first);
    try {
      requireSharedWarehouse(first, this.opts.warehouse, 'coinlake worker');
      await ensureMetaTables(first);
      this.names = warehouseQueue(this.queue, await warehouseId(first));
      // Two slots per download: each with its own session, one committing while the other downloads.
      for (let i = 1; i < 2 * concurrency; i++) this.sessions.push(await openWarehouse(this.opts.warehouse));
      this.downloads = new PQueue({ concurrency });
      const given = this.opts.ackWaitMs !== undefined || this.opts.maxDeliver !== undefined;
      this.settings = await ensureTaskQueue(this.opts.nc, this.names, { ackWaitMs: this.opts.ackWaitMs, maxDeliver: this.opts.maxDeliver }, given);
    } catch (err) {
      await this.closeSessions();
      throw err;
    }
    this.logPath = await this.opts.lake.logFile(`worker-${this.name}-${newRunId()}`);
    this.log = createRunLogger({ level: this.opts.logLevel, file: this.logPath, printLog: this.opts.printLog }).child({ worker: this.name });
    const consumer = await jetstream(this.opts.nc).consumers.get(this.names.stream, this.names.consumer);
    this.log.info({ stream: this.names.stream, consumer: this.names.consumer, concurrency, ...this.settings }, 'worker started');
    const deliveries = this.settings.maxDeliver > 0 ? `max ${this.settings.maxDeliver} deliveries` : 'unlimited deliveries';
    this.opts.onEvent?.(
      `worker ${this.name} ready: pulling from ${this.names.stream} (consumer ${this.names.consumer}, ack wait ${this.settings.ackWaitMs / 1000} s, ${deliveries}), ${concurrency} at a time; log: ${this.logPath}`,
    );
    this.lastActivity = Date.now();
    this.exhausted = new ExhaustedTasks(this.opts.nc, this.names);
    this.exhausted.start();
    this.done = Promise.all(this.sessions.map((s) => this.slot(consumer, s))).then(async () => {
      this.exhausted?.stop();
      await this.closeSessions();
      this.log.info({ ...this.stats }, 'worker stopped');
      this.log.flush?.();
    });
  }

  /**
   * Stops pulling. By default the tasks in hand are finished (committed and acked); with `abandon` they are given
   * back at once (not committed → another worker loads them).
   */
  async stop(opts: { abandon?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (opts.abandon) {
      this.abandoning = true;
      for (const a of this.inFlight) a.abort(new Error('worker stopping'));
    }
    await this.done;
  }

  private async closeSessions(): Promise<void> {
    for (const s of this.sessions.splice(0)) await s.close().catch(() => undefined);
  }

  private async slot(consumer: Consumer, session: Session): Promise<void> {
    const leases = new SharedLeases(session);
    while (!this.stopping) {
      let m: JsMsg | null;
      try {
        m = await consumer.next({ expires: this.opts.pullMs ?? 2_000 });
      } catch (err) {
        this.log.warn({ error: errorMessage(err) }, 'pull failed; trying again');
        await sleep(500);
        continue;
      }
      if (!m) {
        await this.settleExhausted(session, leases);
        await this.releaseClosed(session, leases);
        if (this.opts.maxIdleMs !== undefined && this.inFlight.size === 0 && Date.now() - this.lastActivity >= this.opts.maxIdleMs) this.stopping = true;
        continue;
      }
      if (this.stopping) {
        m.nak();
        break;
      }
      this.lastActivity = Date.now();
      await this.handle(m, session, leases);
      this.lastActivity = Date.now();
    }
  }

  /** Works one task to its end: acked (committed or found committed), or given back / failed. Never throws. */
  private async handle(m: JsMsg, session: Session, leases: SharedLeases): Promise<void> {
    let task: BackfillTask;
    try {
      task = decodeTask(m.data, m.subject);
    } catch (err) {
      this.log.error({ error: errorMessage(err), seq: m.seq }, 'task dropped');
      m.term(errorMessage(err));
      return;
    }
    if (task.warehouseId !== this.names.warehouseId) {
      // Not ours (published by hand on our subject?): left in the queue untouched, nothing written to our warehouse.
      this.log.error({ seq: m.seq, warehouseId: task.warehouseId, processId: task.processId }, 'task of another warehouse left in the queue');
      m.nak(30_000);
      return;
    }
    const chunk = taskChunk(task);
    const attempt = m.info.deliveryCount;
    const label = chunkLabel(chunk);
    const log = this.log.child({ processId: task.processId, chunk: label, attempt });
    const abort = new AbortController();
    this.inFlight.add(abort);
    const beat = setInterval(() => m.working(), Math.max(100, Math.floor(this.settings.ackWaitMs / 3)));
    const timings: Record<string, number> = {};
    const lap = stepTimer(timings);
    try {
      const by = await chunkCommittedBy(session, chunk);
      if (by !== undefined) throw new ChunkAlreadyCommitted(by);
      const [run] = await session.query<{ execution_status: number; error_message: string | null }>(
        `SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history WHERE process_id = $1`,
        [task.processId],
      );
      if (!run || !runAcceptsWork(Number(run.execution_status), run.error_message)) {
        throw new TerminalError(run ? `run ${task.runId} (process ${task.processId}) is closed (status ${run.execution_status}); ${label} was not loaded` : `backfill process ${task.processId} has no run row in this warehouse`);
      }
      for (let i = 0; !(await leases.take(task.runId)) && i < 40; i++) await sleep(50);
      await markTaskRunning(session, task.processId, chunk, this.name, attempt);
      log.info('chunk started');
      lap('claim');
      const rows = await this.load(task, chunk, attempt, session, log, abort.signal, timings);
      lap('load');
      await m.ackAck().catch(() => false);
      lap('ack');
      this.stats.committed++;
      this.stats.rowsLoaded += rows;
      this.opts.onEvent?.(`${this.name}: committed ${label} (${rows.toLocaleString('en-US')} rows, attempt ${attempt}) for process ${task.processId}`);
      await this.closeIfLast(session, leases, task, log);
      lap('close');
      log.info({ timingsMs: roundTimings(timings) }, 'chunk done');
    } catch (err) {
      if (err instanceof ChunkAlreadyCommitted) {
        if (err.by !== task.processId) await markTaskSkipped(session, task.processId, chunk, this.name, attempt, err.by).catch((e) => log.error({ error: errorMessage(e) }, 'could not record the task'));
        await m.ackAck().catch(() => false);
        this.stats.skipped++;
        log.info({ by: err.by }, 'chunk already committed; acked without loading');
        this.opts.onEvent?.(`${this.name}: skipped ${label}: already committed by process ${err.by}`);
        await this.closeIfLast(session, leases, task, log);
      } else if (this.abandoning && abort.signal.aborted) {
        m.nak();
        log.info('worker stopping: task given back to the queue');
      } else {
        await this.giveBack(m, session, leases, task, chunk, attempt, err, log);
      }
    } finally {
      clearInterval(beat);
      this.inFlight.delete(abort);
    }
  }

  /** Extracts the chunk and commits it (data, chunk record, state, task row, run figures) in one transaction. */
  private async load(task: BackfillTask, chunk: Chunk, attempt: number, session: Session, log: Logger, signal: AbortSignal, timings: Record<string, number>): Promise<number> {
    const from = new Date(task.from);
    const to = new Date(task.to);
    const plan = planBackfill({ job: task.job, from, to, symbols: task.symbol ? [task.symbol] : [], params: task.params, chunkMs: task.chunkMs, endpoints: this.endpointsFor(task) });
    const job = plan.jobs[0];
    if (plan.keys[0] !== task.key) throw new TerminalError(`task ${chunkLabel(chunk)} names job ${task.key}, but this worker builds ${plan.keys[0]} from it (a different coinlake version?)`);
    const scope: RunScope = { session, lake: this.opts.lake, log, processId: task.processId, runId: task.runId, startedAt: new Date(task.runStartedAt), logPath: this.logPath };
    let page = 0;
    let loaded = 0;
    // The run is the coordinator's: the pipeline joins it, commits this one chunk and leaves the run row to its owner.
    return runPipeline<Chunk, number>({
      session,
      lake: this.opts.lake,
      run: { join: scope },
      signal,
      hooks: {
        plan: () => [chunk],
        extract: async (_chunk, ctx) => {
          const t0 = performance.now();
          const http = await this.httpFor(job);
          const batch = await this.downloads.add(
            async () => {
              timings.queued = performance.now() - t0;
              return extractBatch(scope, job, { http, window: chunk.window, signal: ctx.signal, table: plan.table, nextPage: () => task.ordinal * PAGE_SPAN + ++page });
            },
            { signal: ctx.signal },
          );
          timings.extract = performance.now() - t0 - (timings.queued ?? 0);
          return batch;
        },
        target: () => ({ table: plan.table, writeMode: job.writeMode, lockKey: plan.lockKey, fileStem: `${task.runId}-c${String(task.ordinal).padStart(5, '0')}-${this.name}`, afterLoad: false }),
        inTransaction: async ({ group: [{ batch }], load }) => {
          // Under the table's lock: a chunk another delivery committed meanwhile rolls this one back.
          const by = await chunkCommittedBy(session, chunk);
          if (by !== undefined) throw new ChunkAlreadyCommitted(by);
          await recordChunks(session, task.processId, [{ chunk, rows: batch.rows.length }], new Date(), this.name);
          const committed = await committedChunks(session, plan, from, to);
          const next = stateAtPrefix(job, from, plan.windows, committed.done[0]);
          if (next !== undefined) await advanceState(session, job, next, task.processId);
          await markTaskCommitted(session, task.processId, chunk, this.name, attempt, {
            pages: batch.pages,
            rowsExtracted: batch.records,
            rowsLoaded: batch.rows.length,
            rowsQuarantined: batch.quarantinedCount,
            inserted: load.inserted,
            updated: load.updated,
          });
          await session.exec(
            `UPDATE coinlake_meta.workflow_action_history
                SET rows_extracted = COALESCE(rows_extracted, 0) + $2, rows_loaded = COALESCE(rows_loaded, 0) + $3, rows_quarantined = COALESCE(rows_quarantined, 0) + $4
              WHERE process_id = $1`,
            [task.processId, batch.records, batch.rows.length, batch.quarantinedCount],
          );
        },
        committed: ({ group: [{ batch }], quarantineFile, committed }) => {
          loaded = batch.rows.length;
          for (const [step, ms] of Object.entries(committed.timings)) timings[step] = ms;
          log.info({ rows: batch.rows.length, pages: batch.pages, quarantine: quarantineFile, ...committed.load }, 'chunk committed');
        },
        complete: async () => ({ result: loaded }),
      },
    });
  }

  /** A failed attempt: back to the queue after a delay, or failed for good (terminal error or last delivery). */
  private async giveBack(m: JsMsg, session: Session, leases: SharedLeases, task: BackfillTask, chunk: Chunk, attempt: number, err: unknown, log: Logger): Promise<void> {
    const message = redactText(errorMessage(err));
    const max = this.settings.maxDeliver;
    const final = err instanceof TerminalError || (max > 0 && attempt >= max);
    try {
      await markTaskFailed(session, task.processId, chunk, this.name, attempt, final, message);
    } catch (e) {
      log.error({ error: errorMessage(e) }, 'could not record the failed attempt');
    }
    if (final) {
      m.term(message);
      this.stats.failed++;
      log.error({ error: message }, 'chunk failed for good');
      this.opts.onEvent?.(`${this.name}: FAILED ${chunkLabel(chunk)} (attempt ${attempt}): ${message}`);
      await this.closeIfLast(session, leases, task, log);
    } else {
      const delay = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
      m.nak(delay);
      this.stats.retried++;
      log.warn({ error: message, retryInMs: delay }, 'chunk failed; given back to the queue');
      this.opts.onEvent?.(`${this.name}: retrying ${chunkLabel(chunk)} in ${delay / 1000} s (attempt ${attempt} of ${max > 0 ? max : '∞'}): ${message}`);
    }
  }

  /** Closes the backfill's run when this task was its last outstanding one. */
  private async closeIfLast(session: Session, leases: SharedLeases, task: BackfillTask, log: Logger): Promise<void> {
    try {
      const [{ n }] = await session.query<{ n: number }>(
        `SELECT count(*) AS n FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 AND status IN ('queued', 'running', 'retrying')`,
        [task.processId],
      );
      if (Number(n) > 0) return;
      const outcome = await closeDistributedBackfill(session, task.processId, { lake: this.opts.lake, log });
      if (outcome.closed) {
        await leases.release(task.runId);
        if (outcome.closedNow && outcome.summary) this.opts.onEvent?.(`${this.name}: closed run ${task.runId} (process ${task.processId}) with status ${outcome.summary.status}`);
      }
    } catch (err) {
      log.error({ error: errorMessage(err) }, 'could not close the backfill run');
    }
  }

  /** Fails the tasks the queue gave up on (their last worker died), then closes their runs if that was the last. */
  private async settleExhausted(session: Session, leases: SharedLeases): Promise<void> {
    for (const item of this.exhausted?.drain() ?? []) {
      try {
        const task = await failExhausted(session, this.opts.nc, this.names, item);
        if (!task) continue;
        const log = this.log.child({ processId: task.processId, chunk: chunkLabel(taskChunk(task)) });
        log.error({ deliveries: item.deliveries }, 'the queue gave up on a chunk: failed for good');
        this.opts.onEvent?.(`${this.name}: FAILED ${chunkLabel(taskChunk(task))}: delivered ${item.deliveries} times without finishing`);
        await this.closeIfLast(session, leases, task, log);
      } catch (err) {
        this.log.error({ error: errorMessage(err), seq: item.seq }, 'could not settle a task the queue gave up on');
      }
    }
  }

  /** Lets go of the leases of runs that are closed (by the coordinator or another worker). */
  private async releaseClosed(session: Session, leases: SharedLeases): Promise<void> {
    for (const runId of leases.runs) {
      try {
        const [run] = await session.query<{ execution_status: number; error_message: string | null }>(
          `SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history WHERE run_id = $1`,
          [runId],
        );
        if (!run || !runAcceptsWork(Number(run.execution_status), run.error_message)) await leases.release(runId);
      } catch (err) {
        this.log.warn({ error: errorMessage(err) }, 'could not look at a run');
      }
    }
  }

  private endpointsFor(task: BackfillTask): Endpoints {
    const own = this.opts.endpoints ?? {};
    return {
      baseUrls: { ...task.baseUrls, ...own.baseUrls },
      rateLimitPerMinute: own.rateLimitPerMinute ?? task.rateLimitPerMinute,
      rateLimitShared: own.rateLimitShared ?? task.rateLimitShared,
      http: own.http,
    };
  }

  /**
   * One HTTP client per source endpoint, shared by the slots (its rate limit covers the whole worker). A connection
   * whose rate limit is shared (catalog rate_limit_shared) also takes every request from one budget in NATS, shared
   * by every worker with the same endpoint and key (distributed/shared-budget.ts), so that together they keep it.
   */
  private async httpFor(job: Job): Promise<HttpClient> {
    const shared = Boolean(job.rateLimitShared) && job.rateLimitPerMinute > 0;
    const key = `${job.source.name}|${job.baseUrl}|${job.rateLimitPerMinute}|${shared}`;
    let client = this.http.get(key);
    if (!client) {
      // Named by the endpoint and its credentials (hashed before they reach NATS).
      const budget = shared
        ? await SharedBudget.open(this.opts.nc, budgetName(job), { limit: job.rateLimitPerMinute, windowMs: this.budgetWindowMs })
        : undefined;
      client = this.http.get(key);
      if (!client) {
        client = new HttpClient({ ...job.http, rateLimitPerMinute: job.rateLimitPerMinute, headers: job.headers, logger: this.log, budget });
        this.http.set(key, client);
      }
    }
    return client;
  }
}
