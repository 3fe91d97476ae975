// Runs one job on the pipeline (src/pipeline/): extract → raw lake → normalize → stage → curated Parquet → write mode
// + state + run row in ONE transaction → publish curated files. A failure leaves data and state as they were.
import type { LoadResult, Session } from '../core/destination.ts';
import { ConfigError, InternalError, errorMessage } from '../core/errors.ts';
import type { TimeWindow } from '../core/source.ts';
import type { Job } from '../core/job.ts';
import type { ModelRunResult } from '../models/run-models.ts';
import { HttpClient } from '../http/http-client.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { refreshExternalView } from '../lake/external-views.ts';
import { createProgress } from './progress.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { batchRowCount, extractBatch, SPILL_ROWS, type CommittedBatch, type ExtractedBatch } from '../pipeline/run-steps.ts';
import { RUN_COMPLETE, RUN_FAILED_QUALITY } from './run-history.ts';
import { readState, writeState } from './state-store.ts';

export interface RunOptions {
  session: Session;
  lake: LocalLake;
  logLevel?: string;
  printLog?: boolean;
  signal?: AbortSignal;
  /** Show a progress line on stderr. Default: only on a TTY. */
  progress?: boolean;
  /** Test hook: runs inside the transaction just before COMMIT (an error here must roll everything back). */
  beforeCommit?: () => Promise<void>;
  /** Let a warehouse that can type JSON pages itself do so (ExtractOptions.stageInWarehouse). Default true. */
  stageInWarehouse?: boolean;
}

/** What a finished run did. */
export interface RunSummary {
  processId: number;
  runId: string;
  job: string;
  table: string;
  status: number;
  /** The failed error-severity quality checks, when status is RUN_FAILED_QUALITY. */
  qualityMessage?: string;
  pages: number;
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  load: LoadResult;
  lakePaths: string[];
  logPath: string;
  unknownFields: string[];
  missingFields: string[];
  state?: unknown;
  /** Milliseconds per step: extract (HTTP, raw lake, typing), then those of commitBatch. */
  timings: Record<string, number>;
  /** The run's warnings, as in its log and run row: an unusual row-count delta (k·σ audit), failed `warn` checks. */
  warnings: string[];
  /** The models run after the load (the catalog's refresh_models), when it loaded rows. */
  models?: { runId: string; results: ModelRunResult[]; ms: number };
}

/** Error of a failed run, carrying the run's identity so the CLI can point at its log. */
export class RunFailedError extends Error {
  constructor(readonly summary: Pick<RunSummary, 'processId' | 'runId' | 'logPath' | 'job'>, readonly cause: unknown) {
    super(errorMessage(cause));
    this.name = 'RunFailedError';
  }
}

/**
 * A job's table: the one it was built with, except that a stream whose table depends on its params (candles of an
 * interval) gets the table for them when the job still carries the stream's default.
 */
function resolveTable(job: Job): Job {
  return job.stream.tableFor && job.table === job.stream.table ? { ...job, table: job.stream.tableFor(job.params) } : job;
}

function roundedTimings(t: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v)]));
}

/**
 * The window of `--to` without `--from`: from the committed watermark (the stream resumes after it, as `daily` does)
 * to `end`. Refused, saying what to pass, when the job keeps no watermark or has none yet, or when `end` is not after it.
 */
function windowFromWatermark(job: Job, state: unknown, end: Date): TimeWindow {
  const to = end.toISOString();
  if (!job.incremental) throw new ConfigError(`${job.name} keeps no watermark, so --to ${to} needs a --from`, { hint: 'pass --from as well' });
  const watermark = (state as { watermark?: unknown } | undefined)?.watermark;
  if (typeof watermark !== 'number') {
    throw new ConfigError(`--to without --from continues from the committed watermark, and ${job.name} (${job.connectionName}/${job.tableName}) has none yet`, { hint: 'give the first run a --from' });
  }
  const start = new Date(watermark);
  if (end.getTime() <= watermark) throw new ConfigError(`--to ${to} is not after the committed watermark ${start.toISOString()} of ${job.name}: everything before it is loaded`, { hint: 'pass a later --to, or a --from to load an earlier window again' });
  return { start, end };
}

/** Runs a job to completion on the pipeline (one unit, one batch); throws RunFailedError after recording status -1 when anything fails. */
export async function runJob(jobAsBuilt: Job, opts: RunOptions): Promise<RunSummary> {
  const job = resolveTable(jobAsBuilt);
  const { session, lake } = opts;
  const lakePaths: string[] = [];
  // What the extraction reached, for the run row of a failure part-way.
  let extracted = 0;
  let quarantinedCount = 0;
  let state: unknown;
  let extractMs = 0;
  let done: { committed: CommittedBatch; batch: ExtractedBatch } | undefined;
  let window = job.window;
  const progress = createProgress(job.name, { enabled: opts.progress ?? Boolean(process.stderr.isTTY) });
  return runPipeline<Job, RunSummary>({
    session,
    lake,
    run: { open: { connectionName: job.connectionName, tableName: job.tableName, window: job.window, logLevel: opts.logLevel, printLog: opts.printLog } },
    signal: opts.signal,
    hooks: {
      plan: async ({ log, processId, runId }) => {
        log.info({ job: job.name, processId, runId, table: `${job.table.schema}.${job.table.name}`, mode: job.writeMode }, 'run started');
        state = job.incremental ? await readState(session, job.connectionName, job.tableName) : undefined;
        if (state !== undefined) log.info({ state }, 'resuming from committed state');
        if (!window && job.windowEnd) window = windowFromWatermark(job, state, job.windowEnd);
        return [job];
      },
      extract: async (_job, { scope, signal, nextPage }) => {
        const http = new HttpClient({ ...job.http, rateLimitPerMinute: job.rateLimitPerMinute, headers: job.headers, logger: scope.log });
        const extractStart = performance.now();
        const batch = await extractBatch(scope, job, {
          http,
          state,
          window,
          signal,
          // DuckDB reads the landed pages from the local filesystem only (an s3:// lake would need httpfs).
          stageInWarehouse: (opts.stageInWarehouse ?? true) && !lake.root.startsWith('s3://'),
          // A large batch (a 50 MB page, thousands of pages) waits in a staging table, not in JavaScript.
          spillRows: SPILL_ROWS,
          nextPage,
          onPage: (b) => {
            extracted = b.records;
            quarantinedCount = b.quarantinedCount;
            lakePaths.splice(0, lakePaths.length, ...b.lakePaths);
            progress.update({ pages: b.pages, rows: b.records });
          },
        });
        progress.done();
        extractMs = performance.now() - extractStart;
        if (batch.unknownFields.size) scope.log.warn({ fields: [...batch.unknownFields] }, 'source sent fields the table does not map (kept in the raw lake)');
        if (batch.missingFields.size) scope.log.warn({ fields: [...batch.missingFields] }, 'expected fields were missing; loaded as NULL');
        return batch;
      },
      target: () => ({ table: job.table, writeMode: job.writeMode, lockKey: `${job.connectionName}/${job.tableName}` }),
      quarantined: (file) => {
        lakePaths.push(file);
      },
      inTransaction: async ({ group: [{ batch }], quality }, { log, processId }) => {
        for (const w of quality?.warnings ?? []) log.warn(w);
        const nextState = batch.nextState ?? state;
        if (job.incremental && nextState !== undefined && nextState !== state) {
          await writeState(session, job.connectionName, job.tableName, nextState, processId);
        }
        await opts.beforeCommit?.();
      },
      closeWith: ({ group: [{ batch }], rows, load, curatedPaths, quality }) => ({
        status: quality?.qualityFailed ? RUN_FAILED_QUALITY : RUN_COMPLETE,
        rowsExtracted: extracted,
        rowsLoaded: rows,
        rowsQuarantined: batch.quarantinedCount,
        lakePaths: [...lakePaths, ...curatedPaths],
        errorMessage: quality?.qualityMessage,
        details: { load, unknownFields: [...batch.unknownFields], missingFields: [...batch.missingFields], pages: batch.pages, warnings: quality?.warnings ?? [] },
      }),
      committed: ({ group: [{ batch }], committed, published }) => {
        lakePaths.push(...published);
        done = { committed, batch };
      },
      complete: async ({ log, processId, runId, logPath }) => {
        if (!done) throw new InternalError(`run ${runId} of ${job.name} completed without committing its batch`);
        const { committed, batch } = done;
        if (job.external) {
          const view = await refreshExternalView(session, lake, job.table, job.writeMode).catch((e: unknown) => ({ view: job.table.name, status: 'failed', reason: errorMessage(e) }));
          if (view.status === 'created') log.info({ view: view.view }, 'external view refreshed');
          else log.warn({ view: view.view, reason: view.reason }, 'external view not refreshed');
        }
        const { staged, quarantinedCount: quarantined, pages, unknownFields: unknown, missingFields: missing } = batch;
        const rowCount = batchRowCount(batch);
        const warnings = [...(committed.quality?.warnings ?? [])];
        // refresh_models: the models follow the rows just committed (incremental ones read only what is new). A model
        // that fails leaves the load committed and says so as the run's warning.
        let models: RunSummary['models'];
        if (job.refreshModels && rowCount > 0) {
          const t0 = Date.now();
          try {
            const { runModels } = await import('../models/run-models.ts'); // loaded only for refresh_models
            models = { ...(await runModels(session)), ms: Date.now() - t0 };
            log.info({ modelRunId: models.runId, models: models.results.map((r) => ({ model: r.model, rows: r.rows, how: r.detail })) }, 'models refreshed');
          } catch (e) {
            const warning = `models not refreshed after the load: ${errorMessage(e)} (the load is committed; run \`coinlake models run\`)`;
            log.warn(warning);
            warnings.push(warning);
          }
        }
        const load = committed.load;
        const timings = { extract: extractMs, ...committed.timings };
        const typing = staged ? { recordsTypedInJs: staged.recordsTypedHere, pagesOfOneShape: staged.pagesOfOneShape } : {};
        log.info({ rowsExtracted: extracted, rowsLoaded: rowCount, quarantined, ...load, ...typing, timingsMs: roundedTimings(timings) }, 'run complete');
        const result: RunSummary = {
          processId,
          runId,
          job: job.name,
          table: `${job.table.schema}.${job.table.name}`,
          status: committed.quality?.qualityFailed ? RUN_FAILED_QUALITY : RUN_COMPLETE,
          qualityMessage: committed.quality?.qualityMessage,
          pages,
          rowsExtracted: extracted,
          rowsLoaded: rowCount,
          rowsQuarantined: quarantined,
          load,
          lakePaths,
          logPath,
          unknownFields: [...unknown],
          missingFields: [...missing],
          state: batch.nextState ?? state,
          timings,
          warnings,
          models,
        };
        return { result };
      },
      failed: (err, { processId, runId, logPath }) => {
        progress.done();
        return {
          figures: { rowsExtracted: extracted, rowsQuarantined: quarantinedCount, lakePaths },
          error: new RunFailedError({ processId, runId, logPath, job: job.name }, err),
        };
      },
    },
  });
}
