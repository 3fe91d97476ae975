// Runs one job: extract → raw lake → normalize → stage → curated Parquet → write mode + state + run row
// in ONE transaction → publish curated files. A failure leaves data and state as they were. The steps live in
// run-steps.ts, which the backfill reuses per chunk.
import type { LoadResult, Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { HttpClient } from '../http/http-client.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { refreshExternalView } from '../lake/external-views.ts';
import { createProgress } from './progress.ts';
import { RUN_COMPLETE, RUN_FAILED_QUALITY, closeRun } from './run-history.ts';
import { batchRowCount, commitBatch, extractBatch, failRunScope, landQuarantine, openRunScope, publishCurated, type ExtractedBatch } from './run-steps.ts';
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

/** Runs a job to completion; throws RunFailedError after recording status -1 when anything fails. */
export async function runJob(jobAsBuilt: Job, opts: RunOptions): Promise<RunSummary> {
  const job = resolveTable(jobAsBuilt);
  const { session, lake } = opts;
  const scope = await openRunScope(session, lake, {
    connectionName: job.connectionName,
    tableName: job.tableName,
    window: job.window,
    logLevel: opts.logLevel,
    printLog: opts.printLog,
  });
  const { log, runId, processId, logPath } = scope;
  const lakePaths: string[] = [];
  // What the extraction reached, for the run row of a failure part-way.
  let extracted = 0;
  let quarantinedCount = 0;
  let batch: ExtractedBatch | undefined;
  const progress = createProgress(job.name, { enabled: opts.progress ?? Boolean(process.stderr.isTTY) });
  log.info({ job: job.name, processId, runId, table: `${job.table.schema}.${job.table.name}`, mode: job.writeMode }, 'run started');
  try {
    const state = job.incremental ? await readState(session, job.connectionName, job.tableName) : undefined;
    if (state !== undefined) log.info({ state }, 'resuming from committed state');
    const http = new HttpClient({ ...job.http, rateLimitPerMinute: job.rateLimitPerMinute, headers: job.headers, logger: log });
    let page = 0;
    const extractStart = performance.now();
    batch = await extractBatch(scope, job, {
      http,
      state,
      window: job.window,
      signal: opts.signal ?? new AbortController().signal,
      // DuckDB reads the landed pages from the local filesystem only (an s3:// lake would need httpfs).
      stageInWarehouse: (opts.stageInWarehouse ?? true) && !lake.root.startsWith('s3://'),
      nextPage: () => ++page,
      onPage: (b) => {
        extracted = b.records;
        quarantinedCount = b.quarantined.length;
        lakePaths.splice(0, lakePaths.length, ...b.lakePaths);
        progress.update({ pages: b.pages, rows: b.records });
      },
    });
    progress.done();
    const extractMs = performance.now() - extractStart;
    const { rows, staged, quarantined, pages, unknownFields: unknown, missingFields: missing } = batch;
    const rowCount = batchRowCount(batch);
    if (unknown.size) log.warn({ fields: [...unknown] }, 'source sent fields the table does not map (kept in the raw lake)');
    if (missing.size) log.warn({ fields: [...missing] }, 'expected fields were missing; loaded as NULL');
    const qFile = await landQuarantine(scope, job.table, quarantined);
    if (qFile) lakePaths.push(qFile);
    const nextState = batch.nextState ?? state;
    const committed = await commitBatch(scope, {
      table: job.table,
      rows,
      staged,
      writeMode: job.writeMode,
      lockKey: `${job.connectionName}/${job.tableName}`,
      inTransaction: async (load, curatedPaths, quality) => {
        for (const w of quality?.warnings ?? []) log.warn(w);
        if (job.incremental && nextState !== undefined && nextState !== state) {
          await writeState(session, job.connectionName, job.tableName, nextState, processId);
        }
        await opts.beforeCommit?.();
        await closeRun(session, processId, {
          status: quality?.qualityFailed ? RUN_FAILED_QUALITY : RUN_COMPLETE,
          rowsExtracted: extracted,
          rowsLoaded: rowCount,
          rowsQuarantined: quarantined.length,
          lakePaths: [...lakePaths, ...curatedPaths],
          errorMessage: quality?.qualityMessage,
          details: { load, unknownFields: [...unknown], missingFields: [...missing], pages, warnings: quality?.warnings ?? [] },
        });
      },
    });
    lakePaths.push(...(await publishCurated(scope, committed.curated)));
    if (job.external) {
      const view = await refreshExternalView(session, lake, job.table, job.writeMode).catch((e: unknown) => ({ view: job.table.name, status: 'failed', reason: errorMessage(e) }));
      if (view.status === 'created') log.info({ view: view.view }, 'external view refreshed');
      else log.warn({ view: view.view, reason: view.reason }, 'external view not refreshed');
    }
    const load = committed.load;
    const timings = { extract: extractMs, ...committed.timings };
    const typing = staged ? { recordsTypedInJs: staged.recordsTypedHere, pagesOfOneShape: staged.pagesOfOneShape } : {};
    log.info({ rowsExtracted: extracted, rowsLoaded: rowCount, quarantined: quarantined.length, ...load, ...typing, timingsMs: roundedTimings(timings) }, 'run complete');
    return {
      processId,
      runId,
      job: job.name,
      table: `${job.table.schema}.${job.table.name}`,
      status: committed.quality?.qualityFailed ? RUN_FAILED_QUALITY : RUN_COMPLETE,
      qualityMessage: committed.quality?.qualityMessage,
      pages,
      rowsExtracted: extracted,
      rowsLoaded: rowCount,
      rowsQuarantined: quarantined.length,
      load,
      lakePaths,
      logPath,
      unknownFields: [...unknown],
      missingFields: [...missing],
      state: nextState,
      timings,
      warnings: committed.quality?.warnings ?? [],
    };
  } catch (err) {
    progress.done();
    await batch?.staged?.discard().catch(() => undefined);
    await failRunScope(scope, err, { rowsExtracted: extracted, rowsQuarantined: quarantinedCount, lakePaths });
    throw new RunFailedError({ processId, runId, logPath, job: job.name }, err);
  } finally {
    log.flush?.();
    // An object-storage lake gets the run's log once the run ended (a local lake has it in place already).
    await lake.finishLog(runId).catch((e: unknown) => log.warn({ error: errorMessage(e) }, 'could not upload the run log to the lake'));
  }
}
