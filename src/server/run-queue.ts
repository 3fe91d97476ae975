// Jobs handed to `coinlake serve` run here, one at a time, on the server's own writer session (the one that holds
// the embedded warehouse file). Each finished run pokes the commit watcher, so the page hears of it at once.
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
import type { ControlMessage, ParsedControlRunRequest } from './control-protocol.ts';

/** Where handed-over jobs run. */
export interface RunQueueContext {
  session: Session;
  lake: LocalLake;
  /** Log level when the request names none. */
  logLevel?: string;
  /** Called after every run, committed or not. */
  afterRun?: () => Promise<void> | void;
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

  constructor(private readonly ctx: RunQueueContext) {}

  /** Jobs waiting or running. */
  get depth(): number {
    return this.queue.size + this.queue.pending;
  }

  /** Queues a job; `emit` receives `queued`, `started`, then `done` or `failed`. Resolves after the last message. */
  async submit(req: ParsedControlRunRequest, emit: (m: ControlMessage) => void): Promise<void> {
    emit({ type: 'queued', ahead: this.depth });
    await this.queue.add(async () => {
      emit({ type: 'started' });
      try {
        const t0 = Date.now();
        const job = await this.buildJob(req);
        const summary = await runJob(job, { session: this.ctx.session, lake: this.ctx.lake, logLevel: req.logLevel ?? this.ctx.logLevel, progress: false });
        emit({ type: 'done', summary, ms: Date.now() - t0 });
      } catch (err) {
        emit(failure(err));
      } finally {
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
