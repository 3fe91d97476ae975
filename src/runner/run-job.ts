// Runs one job: extract → raw lake → normalize → stage → curated Parquet → write mode + state + run row
// in ONE transaction → publish curated files. A failure leaves data and state as they were.
import path from 'node:path';
import type { Logger } from 'pino';
import type { LoadResult, Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { Row } from '../core/table.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { HttpClient } from '../http/http-client.ts';
import { redactText } from '../http/redact.ts';
import { writeCurated, type CuratedFile } from '../lake/curated-writer.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';
import { applyWriteMode } from '../load/write-modes.ts';
import { normalizeRecords } from '../normalize/normalizer.ts';
import { createProgress } from './progress.ts';
import { RUN_COMPLETE, RUN_FAILED, closeRun, newRunId, openRun } from './run-history.ts';
import { createRunLogger } from './run-logger.ts';
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
}

/** What a finished run did. */
export interface RunSummary {
  processId: number;
  runId: string;
  job: string;
  table: string;
  status: number;
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
}

/** Error of a failed run, carrying the run's identity so the CLI can point at its log. */
export class RunFailedError extends Error {
  constructor(readonly summary: Pick<RunSummary, 'processId' | 'runId' | 'logPath' | 'job'>, readonly cause: unknown) {
    super(errorMessage(cause));
    this.name = 'RunFailedError';
  }
}

/** Runs a job to completion; throws RunFailedError after recording status -1 when anything fails. */
export async function runJob(job: Job, opts: RunOptions): Promise<RunSummary> {
  const { session, lake } = opts;
  await ensureMetaTables(session);
  const runId = newRunId();
  const logPath = await lake.logFile(runId);
  const log: Logger = createRunLogger({ level: opts.logLevel, file: logPath, printLog: opts.printLog });
  const ids = await openRun(session, {
    connectionName: job.connectionName,
    tableName: job.tableName,
    windowStart: job.window?.start,
    windowEnd: job.window?.end,
    logPath,
    runId,
  });
  const rel = (p: string) => path.relative(lake.root, p);
  const lakePaths: string[] = [];
  let curated: CuratedFile[] = [];
  let extracted = 0;
  let pages = 0;
  const quarantined: QuarantineEntry[] = [];
  const rawWrites: Promise<string>[] = [];
  const unknown = new Set<string>();
  const missing = new Set<string>();
  const progress = createProgress(job.name, { enabled: opts.progress ?? Boolean(process.stderr.isTTY) });
  log.info({ job: job.name, processId: ids.processId, runId, table: `${job.table.schema}.${job.table.name}`, mode: job.writeMode }, 'run started');
  try {
    const state = job.incremental ? await readState(session, job.connectionName, job.tableName) : undefined;
    if (state !== undefined) log.info({ state }, 'resuming from committed state');
    const http = new HttpClient({ ...job.http, rateLimitPerMinute: job.rateLimitPerMinute, headers: job.headers, logger: log });
    const signal = opts.signal ?? new AbortController().signal;
    const rows: Row[] = [];
    let nextState: unknown = state;
    for await (const page of job.stream.read({ http, baseUrl: job.baseUrl, params: job.params, state, window: job.window, signal })) {
      pages++;
      // The raw write overlaps with normalizing this page and fetching the next; awaited before commit.
      const raw = lake.rawPagePath(job.source.name, job.stream.name, ids.startedAt, runId, pages);
      rawWrites.push(lake.writeRawPage(job.source.name, job.stream.name, ids.startedAt, runId, pages, page.raw));
      lakePaths.push(rel(raw));
      const n = normalizeRecords(job.table, page.records, { onMissing: job.onMissing, origin: page.origin });
      if (job.stream.derive) for (const r of n.rows) job.stream.derive(r, job.params);
      for (const r of n.rows) rows.push(r);
      quarantined.push(...n.quarantined);
      n.unknownFields.forEach((f) => unknown.add(f));
      n.missingFields.forEach((f) => missing.add(f));
      extracted += page.records.length;
      if (page.nextState !== undefined) nextState = page.nextState;
      log.debug({ page: pages, origin: page.origin, records: page.records.length, raw: rel(raw) }, 'page landed');
      progress.update({ pages, rows: extracted });
    }
    progress.done();
    await Promise.all(rawWrites);
    if (unknown.size) log.warn({ fields: [...unknown] }, 'source sent fields the table does not map (kept in the raw lake)');
    if (missing.size) log.warn({ fields: [...missing] }, 'expected fields were missing; loaded as NULL');
    const qFile = await lake.quarantine(job.table.name, runId, quarantined);
    if (qFile) {
      lakePaths.push(rel(qFile));
      log.warn({ count: quarantined.length, file: rel(qFile) }, 'values quarantined');
    }
    const loadedAt = new Date();
    const ctx = { runId, processId: ids.processId, loadedAt };
    let load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
    await session.transaction(async () => {
      await session.lockKey(`${job.connectionName}/${job.tableName}`);
      await session.ensureTable(job.table);
      if (rows.length === 0 && job.writeMode === 'replace') {
        log.warn('the source returned no rows; a replace would empty the table, so it is skipped');
      } else if (rows.length > 0) {
        const staging = await session.stage(job.table, rows, ctx);
        curated = await writeCurated({ session, lake, table: job.table, staging, rows, runId, day: loadedAt });
        load = await applyWriteMode(session, job.table, staging, job.writeMode, ctx);
        await session.dropStaging(staging);
      }
      if (job.incremental && nextState !== undefined && nextState !== state) {
        await writeState(session, job.connectionName, job.tableName, nextState, ids.processId);
      }
      await opts.beforeCommit?.();
      await closeRun(session, ids.processId, {
        status: RUN_COMPLETE,
        rowsExtracted: extracted,
        rowsLoaded: rows.length,
        rowsQuarantined: quarantined.length,
        lakePaths: [...lakePaths, ...curated.map((c) => rel(c.final))],
        details: { load, unknownFields: [...unknown], missingFields: [...missing], pages },
      });
    });
    // Committed: from here on nothing may mark the run failed. A curated file that cannot be published is
    // reported and left under its temporary name; the warehouse holds the data.
    try {
      for (const c of curated) await lake.publish(c.temp, c.final);
      await lake.discardTempDirs(curated);
    } catch (err) {
      log.error({ error: errorMessage(err) }, 'committed, but a curated file could not be published');
    }
    lakePaths.push(...curated.map((c) => rel(c.final)));
    log.info({ rowsExtracted: extracted, rowsLoaded: rows.length, quarantined: quarantined.length, ...load }, 'run complete');
    return {
      processId: ids.processId,
      runId,
      job: job.name,
      table: `${job.table.schema}.${job.table.name}`,
      status: RUN_COMPLETE,
      pages,
      rowsExtracted: extracted,
      rowsLoaded: rows.length,
      rowsQuarantined: quarantined.length,
      load,
      lakePaths,
      logPath,
      unknownFields: [...unknown],
      missingFields: [...missing],
      state: nextState,
    };
  } catch (err) {
    progress.done();
    await Promise.allSettled(rawWrites);
    for (const c of curated) await lake.discard(c.temp);
    await lake.discardTempDirs(curated);
    const message = redactText(errorMessage(err));
    log.error({ err: { message, stack: err instanceof Error ? redactText(err.stack ?? '') : undefined } }, 'run failed');
    try {
      await closeRun(session, ids.processId, {
        status: RUN_FAILED,
        rowsExtracted: extracted,
        rowsLoaded: 0,
        rowsQuarantined: quarantined.length,
        lakePaths,
        errorMessage: message,
      });
    } catch (closeErr) {
      log.error({ error: errorMessage(closeErr) }, 'could not record the failure in the run history');
    }
    throw new RunFailedError({ processId: ids.processId, runId, logPath, job: job.name }, err);
  } finally {
    log.flush?.();
  }
}
