// The steps of a run, which the pipeline (pipeline.ts) sequences: open the run → extract a batch (raw lake, typed
// rows) → commit the batch with its state in one transaction → publish its curated files → close the run.
import { physicalTable } from '../load/scd2.ts';
import { afterLoad, type AfterLoadResult } from '../runner/after-load.ts';
import { claimRun } from '../runner/abandoned-runs.ts';
import { countRows } from '../runner/audit.ts';
import path from 'node:path';
import type { Logger } from 'pino';
import type { LoadResult, ParquetExportOptions, Session, WriteMode } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { TimeWindow } from '../core/source.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import type { HttpClient } from '../http/http-client.ts';
import { redactText } from '../http/redact.ts';
import { writeCurated, type CuratedFile } from '../lake/curated-writer.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';
import { applyWriteMode } from '../load/write-modes.ts';
import { addQuarantined, normalizeRecords } from '../normalize/normalizer.ts';
import { StagedNormalizer } from '../normalize/staged-normalizer.ts';
import { rowStaging } from '../destinations/scratch-staging.ts';
import { RUN_FAILED, closeRun, newRunId, openRun } from '../runner/run-history.ts';
import { createRunLogger } from '../runner/run-logger.ts';

/** An open run: its identity, log, and where it writes. */
export interface RunScope {
  session: Session;
  lake: LocalLake;
  log: Logger;
  processId: number;
  runId: string;
  startedAt: Date;
  logPath: string;
}

/** What the run row says about the run before anything happened. */
export interface OpenRunInfo {
  connectionName: string;
  tableName: string;
  window?: TimeWindow;
  logLevel?: string;
  printLog?: boolean;
}

/** Creates the meta tables if needed, the run's log file, and its in-progress run row (committed on its own). */
export async function openRunScope(session: Session, lake: LocalLake, info: OpenRunInfo): Promise<RunScope> {
  await ensureMetaTables(session);
  const runId = newRunId();
  const logPath = await lake.logFile(runId);
  const log = createRunLogger({ level: info.logLevel, file: logPath, printLog: info.printLog });
  await claimRun(session, lake, runId, log); // before the row exists; marks runs whose process is gone failed (-1)
  const ids = await openRun(session, {
    connectionName: info.connectionName,
    tableName: info.tableName,
    windowStart: info.window?.start,
    windowEnd: info.window?.end,
    logPath,
    runId,
  });
  return { session, lake, log, processId: ids.processId, runId, startedAt: ids.startedAt, logPath };
}

/** A lake path relative to the lake root, as run rows record them. */
export function lakeRelative(scope: RunScope, file: string): string {
  return scope.lake.relative(file);
}

/** Typed rows of one batch, with what was landed and set aside on the way. */
export interface ExtractedBatch {
  /** The typed rows; empty when the batch was typed into a warehouse staging table (`staged`). */
  rows: Row[];
  /** Set when the warehouse typed the batch into a staging table as it was read (ExtractOptions.stageInWarehouse). */
  staged?: StagedNormalizer;
  /** Source records read. */
  records: number;
  pages: number;
  /** Raw pages landed (lake-relative). */
  lakePaths: string[];
  /** The first MAX_QUARANTINE_ENTRIES values set aside (normalize/normalizer.ts); quarantinedCount counts them all. */
  quarantined: QuarantineEntry[];
  quarantinedCount: number;
  unknownFields: Set<string>;
  missingFields: Set<string>;
  /** The stream's state after the last page, when it sent one. */
  nextState?: unknown;
}

/** Rows of a batch, typed in JavaScript or staged in the warehouse. */
export function batchRowCount(batch: Pick<ExtractedBatch, 'rows' | 'staged'>): number {
  return batch.staged ? batch.staged.staging.rowCount : batch.rows.length;
}

export interface ExtractOptions {
  http: HttpClient;
  state?: unknown;
  window?: TimeWindow;
  signal: AbortSignal;
  /** Table the rows are typed for; default job.table. */
  table?: TableSpec;
  /** Number of the next raw page of the run (1, 2, …); pages of a run never share a number. */
  nextPage: () => number;
  /** Called after every page (progress). */
  onPage?: (batch: ExtractedBatch) => void;
  /**
   * When the stream's first page says where its records sit in the raw JSON and the warehouse can type them itself
   * (Session.jsonStaging), type the batch into a staging table while it is read (normalize/staged-normalizer.ts):
   * the batch comes back with `staged` and no rows; pass it on to commitBatch. Default false.
   */
  stageInWarehouse?: boolean;
  /**
   * Once the batch would hold more typed rows than this, they go to a staging table (destinations/scratch-staging.ts
   * rowStaging) and the rest follow a slice at a time, so a large batch is not held in JavaScript; pass it on to
   * commitBatch as `staged`. Default: the rows stay in JavaScript, however many.
   */
  spillRows?: number;
}

/** Typed rows `coinlake run` holds in JavaScript before it spills them to a staging table (ExtractOptions.spillRows): about 15 MB. */
export const SPILL_ROWS = 50_000;

/** Reads the job's stream for one window: lands every raw page, types its records, runs derive(). */
export async function extractBatch(scope: RunScope, job: Job, opts: ExtractOptions): Promise<ExtractedBatch> {
  const table = opts.table ?? job.table;
  const batch: ExtractedBatch = { rows: [], records: 0, pages: 0, lakePaths: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set(), missingFields: new Set() };
  const read = job.stream.read({ http: opts.http, baseUrl: job.baseUrl, credentials: job.credentials, params: job.params, state: opts.state, window: opts.window, signal: opts.signal });
  let decided = !opts.stageInWarehouse;
  let spillRows = opts.spillRows;
  try {
    for await (const page of read) {
      const number = opts.nextPage();
      batch.pages++;
      const raw = await scope.lake.writeRawPage(job.source.name, job.stream.name, scope.startedAt, scope.runId, number, page.raw, page.rawGzip);
      batch.lakePaths.push(lakeRelative(scope, raw));
      if (!decided) {
        decided = true;
        // The warehouse reads the landed copy, so the lake must be a local directory.
        const local = path.isAbsolute(raw) && !raw.includes('://');
        const staging = page.json && local ? await scope.session.jsonStaging?.(table) : undefined;
        if (staging) {
          const derive = job.stream.derive;
          batch.staged = new StagedNormalizer(staging, table, { onMissing: job.onMissing, onInvalid: job.onInvalid, derive: derive && ((row) => derive(row, job.params)) });
          batch.quarantined = batch.staged.quarantined;
          batch.unknownFields = batch.staged.unknownFields;
          batch.missingFields = batch.staged.missingFields;
          scope.log.debug({ table: `${table.schema}.${table.name}` }, 'pages are typed by the warehouse as they land');
        }
      }
      let records = 0;
      if (batch.staged && page.json) {
        await batch.staged.add(page, raw);
        records = page.records.length;
      } else {
        // A page read in slices (Page.slices) is typed a slice at a time; the others are one slice.
        for (const slice of page.slices ? page.slices() : [page.records]) {
          if (!batch.staged && spillRows !== undefined && batch.rows.length + slice.length > spillRows) {
            const staged = await spill(scope, job, table, batch);
            if (staged) batch.staged = staged;
            else spillRows = undefined;
          }
          if (batch.staged) {
            await batch.staged.addRecords(slice, page.origin);
          } else {
            const n = normalizeRecords(table, slice, { onMissing: job.onMissing, onInvalid: job.onInvalid, origin: page.origin });
            if (job.stream.derive) for (const r of n.rows) job.stream.derive(r, job.params);
            for (const r of n.rows) batch.rows.push(r);
            addQuarantined(batch, n);
            n.unknownFields.forEach((f) => batch.unknownFields.add(f));
            n.missingFields.forEach((f) => batch.missingFields.add(f));
          }
          records += slice.length;
        }
      }
      if (batch.staged) batch.quarantinedCount = batch.staged.quarantinedCount;
      batch.records += records;
      if (page.nextState !== undefined) batch.nextState = page.nextState;
      scope.log.debug({ page: number, origin: page.origin, records, raw: lakeRelative(scope, raw) }, 'page landed');
      opts.onPage?.(batch);
    }
    if (batch.staged) {
      await batch.staged.finish();
      batch.quarantinedCount = batch.staged.quarantinedCount;
    }
  } catch (err) {
    await batch.staged?.discard().catch(() => undefined);
    throw err;
  }
  return batch;
}

/**
 * Moves a batch typed in JavaScript so far into a staging table (rowStaging), where the rest of it follows; undefined
 * when the warehouse offers none (the rows stay in JavaScript).
 */
async function spill(scope: RunScope, job: Job, table: TableSpec, batch: ExtractedBatch): Promise<StagedNormalizer | undefined> {
  const staging = await rowStaging(scope.session, table);
  if (!staging) return undefined;
  const derive = job.stream.derive;
  const staged = new StagedNormalizer(staging, table, { onMissing: job.onMissing, onInvalid: job.onInvalid, derive: derive && ((row) => derive(row, job.params)) });
  try {
    await staged.adopt(batch);
  } catch (err) {
    await staged.discard().catch(() => undefined);
    throw err;
  }
  scope.log.info({ table: `${table.schema}.${table.name}`, rows: batch.rows.length }, 'the batch is large: its rows wait in a staging table');
  batch.rows = [];
  batch.quarantined = staged.quarantined;
  batch.unknownFields = staged.unknownFields;
  batch.missingFields = staged.missingFields;
  return staged;
}

/** Appends quarantined values to the run's quarantine file; returns its lake-relative path, if any. */
export async function landQuarantine(scope: RunScope, table: TableSpec, entries: QuarantineEntry[]): Promise<string | undefined> {
  const file = await scope.lake.quarantine(table.name, scope.runId, entries);
  if (!file) return undefined;
  scope.log.warn({ count: entries.length, file: lakeRelative(scope, file) }, 'values quarantined');
  return lakeRelative(scope, file);
}

export interface CommitOptions {
  table: TableSpec;
  rows: Row[];
  /** A batch typed into a warehouse staging table as it was read (ExtractedBatch.staged): loaded instead of `rows`. */
  staged?: StagedNormalizer;
  writeMode: WriteMode;
  /** Serialises runs of the same job on warehouses with several writers. */
  lockKey: string;
  /** Curated file stem; default the run id (a run with several batches names each one). */
  fileStem?: string;
  /**
   * Runs inside the transaction after the write mode, before COMMIT: state, chunk records, the run row. Gets what the
   * write mode did and the lake-relative paths the curated files will have once published.
   */
  inTransaction?: (load: LoadResult, curatedPaths: string[], quality?: AfterLoadResult) => Promise<void>;
  /** Run the row-count audit and the table's quality checks in the transaction (default true; backfill chunks skip it). */
  afterLoad?: boolean;
  /**
   * The caller ensured the table once already (a stream consumer, at start): skip the per-batch table check — four
   * statements, 7 ms on an idle machine and more under load, on every micro-batch.
   */
  tableReady?: boolean;
}

/** A committed batch: what the write mode did, and its curated files (still under their temporary names). */
export interface CommittedBatch {
  load: LoadResult;
  curated: CuratedFile[];
  /** Audit and quality results, when afterLoad ran. */
  quality?: AfterLoadResult;
  /** Milliseconds spent in each step: prepare, stage, curated, writeMode, afterLoad, commit (the rest: run row, state, COMMIT). */
  timings: Record<string, number>;
}

/** Returns lap(step): adds the milliseconds since the previous lap (or since this call) to `timings[step]`. */
export function stepTimer(timings: Record<string, number>): (step: string) => void {
  let mark = performance.now();
  return (step) => {
    const now = performance.now();
    timings[step] = (timings[step] ?? 0) + (now - mark);
    mark = now;
  };
}

/**
 * Loads a batch in ONE transaction: stage → curated Parquet (temporary) → write mode → `inTransaction` → COMMIT.
 * When anything throws, the transaction rolls back and the batch's curated files are removed; call
 * publishCurated after it returns. An empty batch for `replace` is skipped (it would empty the table).
 */
export async function commitBatch(scope: RunScope, opts: CommitOptions): Promise<CommittedBatch> {
  const { session, lake } = scope;
  const loadedAt = new Date();
  const ctx = { runId: scope.runId, processId: scope.processId, loadedAt };
  let load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
  let curated: CuratedFile[] = [];
  let quality: AfterLoadResult | undefined;
  const timings: Record<string, number> = {};
  const lap = stepTimer(timings);
  try {
    await session.transaction(async () => {
      await session.lockKey(opts.lockKey);
      if (!opts.tableReady) await session.ensureTable(physicalTable(opts.table, opts.writeMode));
      const countBefore = opts.afterLoad === false ? 0 : await countRows(session, opts.table);
      const rowCount = batchRowCount(opts);
      if (rowCount === 0 && opts.writeMode === 'replace') {
        scope.log.warn('the source returned no rows; a replace would empty the table, so it is skipped');
      } else if (rowCount > 0) {
        lap('prepare');
        if (!opts.staged && opts.writeMode === 'append' && session.appendRows && !session.capabilities.exportsParquet) {
          // An append where the warehouse takes rows straight into the table (Session.appendRows): no staging table,
          // every row written once; the curated Parquet is written from the rows, as it is on such a warehouse anyway.
          load = { inserted: await session.appendRows(opts.table, opts.rows, ctx), updated: 0, deleted: 0 };
          lap('writeMode');
          curated = await writeCurated({ session, lake, table: opts.table, rows: opts.rows, runId: scope.runId, day: loadedAt, fileStem: opts.fileStem });
          lap('curated');
        } else {
          const staging = opts.staged ? await opts.staged.complete(ctx) : await session.stage(opts.table, opts.rows, ctx);
          lap('stage');
          const own = opts.staged?.staging;
          const exportFrom = own?.exportParquet ? (dir: string, o: ParquetExportOptions) => own.exportParquet!(dir, o) : undefined;
          curated = await writeCurated({ session, lake, table: opts.table, staging, rows: opts.rows, exportFrom, runId: scope.runId, day: loadedAt, fileStem: opts.fileStem });
          lap('curated');
          load = await applyWriteMode(session, opts.table, staging, opts.writeMode, ctx);
          await session.dropStaging(staging);
          lap('writeMode');
        }
      }
      if (opts.afterLoad !== false) quality = await afterLoad(session, opts.table, ctx, { countBefore });
      lap('afterLoad');
      await opts.inTransaction?.(load, curated.map((c) => lakeRelative(scope, c.final)), quality);
    });
    lap('commit');
  } catch (err) {
    await discardCurated(scope, curated);
    throw err;
  } finally {
    await opts.staged?.discard().catch((err: unknown) => scope.log.warn({ error: errorMessage(err) }, 'could not drop the staging table'));
  }
  return { load, curated, quality, timings };
}

/**
 * Makes a committed batch's curated files visible; returns their lake-relative paths. From here on nothing may
 * mark the run failed: a file that cannot be published is logged and left under its temporary name.
 */
export async function publishCurated(scope: RunScope, curated: CuratedFile[]): Promise<string[]> {
  try {
    for (const c of curated) await scope.lake.publish(c.temp, c.final);
    await scope.lake.discardTempDirs(curated);
  } catch (err) {
    scope.log.error({ error: errorMessage(err) }, 'committed, but a curated file could not be published');
  }
  return curated.map((c) => lakeRelative(scope, c.final));
}

/** Removes the temporary curated files of a batch that did not commit. */
export async function discardCurated(scope: RunScope, curated: CuratedFile[]): Promise<void> {
  for (const c of curated) await scope.lake.discard(c.temp);
  await scope.lake.discardTempDirs(curated);
}

/** Figures a failed run still reports. */
export interface FailedFigures {
  rowsExtracted: number;
  rowsLoaded?: number;
  rowsQuarantined: number;
  lakePaths: string[];
  details?: unknown;
}

/**
 * Records a failure: logs it, closes the run row with status -1 on its own (after the rollback), and returns the
 * message (secrets masked). Never throws: a run history that cannot be written is logged.
 */
export async function failRunScope(scope: RunScope, err: unknown, figures: FailedFigures): Promise<string> {
  const message = redactText(errorMessage(err));
  scope.log.error({ err: { message, stack: err instanceof Error ? redactText(err.stack ?? '') : undefined } }, 'run failed');
  try {
    await closeRun(scope.session, scope.processId, {
      status: RUN_FAILED,
      rowsExtracted: figures.rowsExtracted,
      rowsLoaded: figures.rowsLoaded ?? 0,
      rowsQuarantined: figures.rowsQuarantined,
      lakePaths: figures.lakePaths,
      errorMessage: message,
      details: figures.details,
    });
  } catch (closeErr) {
    scope.log.error({ error: errorMessage(closeErr) }, 'could not record the failure in the run history');
  }
  return message;
}
