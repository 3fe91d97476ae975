// Jobs handed to `coinlake serve` run here, one at a time, on the server's own writer session (the one that holds
// the embedded warehouse file). Each finished run pokes the commit watcher, so the page hears of it at once.
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Session } from '../core/destination.ts';
import { CoinlakeError, errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { redactText } from '../http/redact.ts';
import { loadCatalogJob } from '../catalog/catalog-job.ts';
import { loadConfig } from '../catalog/config-file.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { buildJob } from '../runner/job-builder.ts';
import { RunFailedError, runJob } from '../runner/run-job.ts';
import { runHostedCommand, type HostedCommand } from './command-host.ts';
import type { CancelAnswer, CommandMessage, ControlMessage, ParsedControlCommandRequest, ParsedControlRunRequest } from './control-protocol.ts';
import { ApiError } from './request-params.ts';

/** Where handed-over jobs run. */
export interface RunQueueContext {
  session: Session;
  lake: LocalLake;
  /** Log level when the request names none. */
  logLevel?: string;
  /** Called after every run, committed or not. */
  afterRun?: () => Promise<void> | void;
  /** Absolute lake root and warehouse location, for handed-over commands. */
  lakeRoot?: string;
  warehouse?: string;
  /** Called after every handed-over command with its name and exit code (after afterRun). */
  afterCommand?: (command: string, code: number) => Promise<void> | void;
  /** How many jobs and commands may wait at most (beyond it a new one is refused). Default 16. */
  maxWaiting?: number;
}

/** A handed-over command, queued or running. */
interface Entry {
  command: string;
  cancelled: boolean;
  hosted?: HostedCommand;
  emit: (m: CommandMessage) => void;
}

/** The error part of a `failed` message: message and hint, secrets masked. */
function failure(err: unknown): Extract<ControlMessage, { type: 'failed' }> {
  const inner = err instanceof RunFailedError ? err.cause : err;
  const error: { message: string; hint?: string } = { message: redactText(errorMessage(inner)) };
  if (inner instanceof CoinlakeError && inner.hint) error.hint = redactText(inner.hint);
  const run = err instanceof RunFailedError ? { ...err.summary } : undefined;
  return { type: 'failed', error, ...(run ? { run } : {}) };
}

/** Runs handed-over jobs one after another. */
export class RunQueue {
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly commands = new Map<string, Entry>();
  private current?: string;
  private stopping = false;

  constructor(private readonly ctx: RunQueueContext) {}

  /** The name of what runs now (a command's name, or `run` for a job), if anything. */
  get running(): string | undefined {
    return this.current;
  }

  /** Refuses new work when the queue is full (a 503 the caller prints). */
  assertRoom(): void {
    if (this.stopping) throw new ApiError('coinlake serve is stopping', 'run the command again once it has stopped (it then opens the warehouse itself)', 503);
    const max = this.ctx.maxWaiting ?? 16;
    if (this.queue.size >= max) {
      throw new ApiError(`coinlake serve has ${this.queue.size} jobs and commands waiting (at most ${max})`, `wait for them (\`coinlake status\` shows the runs), or stop the one running now: ${this.current ?? 'none'}`, 503);
    }
  }

  /**
   * Queues a CLI command and runs it in-process when its turn comes; `emit` receives `queued` (with its id), `started`,
   * its output, then `exit`. `gone` aborts when the caller goes away: a waiting command is dropped, a running one
   * gets SIGINT. Resolves after the last message.
   */
  async submitCommand(req: ParsedControlCommandRequest, emit: (m: CommandMessage) => void, gone?: AbortSignal): Promise<void> {
    this.assertRoom();
    const id = randomBytes(9).toString('base64url');
    const entry: Entry = { command: req.command, cancelled: false, emit };
    this.commands.set(id, entry);
    const onGone = () => void this.cancel(id);
    gone?.addEventListener('abort', onGone, { once: true });
    emit({ type: 'queued', id, ahead: this.depth, ...(this.current ? { running: this.current } : {}) });
    try {
      await this.queue.add(async () => {
        if (entry.cancelled) return; // its caller heard `exit 130` when it was cancelled
        this.current = req.command;
        emit({ type: 'started' });
        let code = 1;
        try {
          code = await runHostedCommand(
            req,
            { session: this.ctx.session, lake: this.ctx.lake, lakeRoot: this.ctx.lakeRoot ?? this.ctx.lake.root, warehouse: this.ctx.warehouse ?? '' },
            emit,
            (hosted) => (entry.hosted = hosted),
          );
        } finally {
          this.current = undefined;
          emit({ type: 'exit', code });
          await this.ctx.afterRun?.();
          await this.ctx.afterCommand?.(req.command, code);
        }
      });
    } finally {
      gone?.removeEventListener('abort', onGone);
      this.commands.delete(id);
    }
  }

  /** The caller's Ctrl-C for command `id`. */
  cancel(id: string): CancelAnswer {
    const entry = this.commands.get(id);
    if (!entry) return { outcome: 'unknown' };
    if (!entry.hosted) {
      if (!entry.cancelled) {
        entry.emit({ type: 'out', fd: 2, text: `cancelled: coinlake ${entry.command} had not started in coinlake serve and will not\n` });
        entry.emit({ type: 'exit', code: 130 });
      }
      entry.cancelled = true;
      return { outcome: 'dequeued' };
    }
    return { outcome: entry.hosted.interrupt() ? 'signalled' : 'running' };
  }

  /** The server stops: nothing new is taken, every queued command is dropped, a running one gets SIGINT (as its Ctrl-C). */
  interruptAll(): void {
    this.stopping = true;
    for (const id of [...this.commands.keys()]) this.cancel(id);
  }

  /** Jobs waiting or running. */
  get depth(): number {
    return this.queue.size + this.queue.pending;
  }

  /** Queues a job; `emit` receives `queued`, `started`, then `done` or `failed`. Resolves after the last message. */
  async submit(req: ParsedControlRunRequest, emit: (m: ControlMessage) => void): Promise<void> {
    this.assertRoom();
    emit({ type: 'queued', ahead: this.depth });
    await this.queue.add(async () => {
      this.current = 'run';
      emit({ type: 'started' });
      try {
        const t0 = Date.now();
        const job = await this.buildJob(req);
        const summary = await runJob(job, { session: this.ctx.session, lake: this.ctx.lake, logLevel: req.logLevel ?? this.ctx.logLevel, progress: false });
        emit({ type: 'done', summary, ms: Date.now() - t0 });
      } catch (err) {
        emit(failure(err));
      } finally {
        this.current = undefined;
        await this.ctx.afterRun?.();
      }
    });
  }

  private async buildJob(req: ParsedControlRunRequest): Promise<Job> {
    const opts = Object.fromEntries(Object.entries(req.options).filter(([, v]) => v !== undefined)) as Record<string, string>;
    if (req.job) return buildJob(req.job, { ...opts, ...(req.apiKey ? { apiKey: req.apiKey } : {}) }, req.endpoints);
    const cfg = await loadConfig({ file: req.config?.file, section: req.section, cwd: req.config?.cwd });
    return loadCatalogJob(
      this.ctx.session,
      { connection: req.section!, asset: req.tableName!, seed: cfg.catalog, seedLabel: cfg.catalogOrigin },
      { ...opts, connectionUrl: cfg.settings.connectionUrl },
      req.endpoints,
    );
  }

  /** Resolves when no job is waiting or running. */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }
}
