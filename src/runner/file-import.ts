// `coinlake import <format> <files…>`: files of a registered format (src/sources/file-format-registry.ts) → their
// tables and the curated lake as Parquet, under ONE run row, on the pipeline. Each file is a unit the format lands
// itself, committed in its own transaction; its curated Parquet is published after that commit. Malformed lines go
// to quarantine with their line numbers and the reason, the rest load.
import { nextOpenTime } from '../core/candle-interval.ts';
import type { LoadContext, LoadResult, Session } from '../core/destination.ts';
import type { FileDescription, FileFormat, FileFormatOptions, LandedFile, PlannedFile } from '../core/file-format.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { tuneForImport } from '../load/bulk-import-tuning.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { gapLine, gapReport, type GapReport } from './gap-report.ts';
import { createBarProgress, type BarProgress } from './progress.ts';
import { RUN_COMPLETE, type RunOutcome } from './run-history.ts';
import { RunFailedError } from './run-job.ts';

export interface FileImportOptions {
  session: Session;
  lake: LocalLake;
  /** The format's own options by name (its FileFormat.help.options, e.g. `{ exchange: 'kraken' }`). */
  options?: FileFormatOptions;
  /** Memory limit of the engine reading the files, e.g. '256MB' (larger files spill to a temp directory). Default 256MB. */
  memoryLimit?: string;
  logLevel?: string;
  printLog?: boolean;
  /** Progress on stderr (bar on a TTY, lines elsewhere). Default: only on a TTY. */
  progress?: boolean;
  progressIntervalMs?: number;
}

/** What one file did: its path, what it says about itself (the format's description), then the figures. */
export type FileImportResult<D extends FileDescription = FileDescription> = { file: string } & D & {
  /** `schema.table` its rows went to. */
  table: string;
  /** Data lines read (loaded, set aside or rejected). */
  lines: number;
  /** Rows given to the write mode (lines that parsed and are valid rows). */
  loaded: number;
  quarantined: number;
  load: LoadResult;
  /** Lines merged into another line of the file with the same key. */
  repeated: number;
  gaps: GapReport[];
};

export interface FileImportSummary<D extends FileDescription = FileDescription> {
  processId: number;
  runId: string;
  files: FileImportResult<D>[];
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  load: LoadResult;
  gaps: GapReport[];
  lakePaths: string[];
  logPath: string;
}

/** Sets the running figures of the open import run, so `coinlake status` shows its progress. */
async function updateRunProgress(s: Session, processId: number, f: { lines: number; loaded: number; quarantined: number; files: number }): Promise<void> {
  await s.exec(
    `UPDATE coinlake_meta.workflow_action_history SET rows_extracted = $2, rows_loaded = $3, rows_quarantined = $4, details = $5 WHERE process_id = $1`,
    [processId, f.lines, f.loaded, f.quarantined, JSON.stringify({ filesDone: f.files })],
  );
}

/** One file of an import, and what its transaction found. */
interface FileUnit<D extends FileDescription> {
  index: number;
  p: PlannedFile<D>;
  t0: number;
  loaded?: LandedFile;
  gaps: GapReport[];
  result: { lines: number; loaded: number; quarantined: number };
}

/**
 * Imports the files `args` name (as `format` expands them) into their tables and the lake on the pipeline: every file
 * is planned before the run opens; each is a unit landed in its own transaction, one run row for the whole import.
 * Throws RunFailedError after recording status -1; files committed before the failure stay.
 */
export async function importFiles<D extends FileDescription>(format: FileFormat<D>, args: string[], opts: FileImportOptions): Promise<FileImportSummary<D>> {
  const { session, lake } = opts;
  const job = `import ${format.name}`;
  const files = await format.expand(args);
  const planned: PlannedFile<D>[] = [];
  for (const f of files) planned.push(await format.plan(f, opts.options ?? {}));
  const tables = [...new Set(planned.map((p) => p.table.name))];
  const results: FileImportResult<D>[] = [];
  const lakePaths: string[] = [];
  const totals = { lines: 0, loaded: 0, quarantined: 0 };
  const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
  const memoryLimit = opts.memoryLimit ?? '256MB';
  const { path: landingPath, inWarehouse } = format.landing(session);
  let undoLimit = async () => {};
  const mb = (b: number) => Math.round((b / 1e6) * 10) / 10;
  let bar: BarProgress | undefined;
  let lastLoadedAt = 0;
  let doneBytes = 0;
  try {
    return await runPipeline<FileUnit<D>, FileImportSummary<D>>({
      session,
      lake,
      run: { open: { connectionName: format.connectionName, tableName: tables.join('+').toUpperCase(), logLevel: opts.logLevel, printLog: opts.printLog } },
      // A file's landing works the warehouse itself: the next file starts once the previous one committed.
      lookahead: 0,
      hooks: {
        plan: async ({ log }) => {
          if (inWarehouse) undoLimit = await tuneForImport(session, memoryLimit);
          bar = createBarProgress(job, {
            total: mb(planned.reduce((a, p) => a + p.bytes, 0)),
            unit: 'MB',
            enabled: opts.progress ?? Boolean(process.stderr.isTTY),
            intervalMs: opts.progressIntervalMs,
          });
          log.info({ files: files.length, tables, path: landingPath }, 'import started');
          return planned.map((p, index) => ({ index, p, t0: 0, gaps: [], result: { lines: 0, loaded: 0, quarantined: 0 } }));
        },
        land: async (unit, { scope }) => {
          const { p, index } = unit;
          const { runId, processId } = scope;
          unit.t0 = Date.now();
          // Each file's rows carry their own load time: with the run id it tells this file's rows apart.
          lastLoadedAt = Math.max(Date.now(), lastLoadedAt + 1);
          const ctx: LoadContext = { runId, processId, loadedAt: new Date(lastLoadedAt) };
          const stem = `${runId}-${String(index + 1).padStart(4, '0')}`;
          const landing = await p.land({ scope, load: ctx, stem, memoryLimit, inWarehouse });
          return {
            get curated() {
              return landing.curated;
            },
            load: async () => (unit.loaded = await landing.load()),
            again: (err) => landing.again?.(err) ?? false,
            afterCommit: () => landing.afterCommit(),
            close: () => landing.close(),
          };
        },
        target: ([{ unit }]) => ({ table: unit.p.table, writeMode: 'merge', lockKey: `${format.connectionName}/${unit.p.table.name}` }),
        inTransaction: async ({ group: [{ unit }] }, { processId }) => {
          const { p, result } = unit;
          const loaded = unit.loaded!;
          result.quarantined = loaded.rejected + loaded.invalid;
          result.lines = loaded.appended + result.quarantined;
          result.loaded = loaded.appended;
          unit.gaps = [];
          if (p.grid) {
            const { timeColumn, interval } = p.grid;
            for (const x of loaded.series) {
              unit.gaps.push(await gapReport(session, p.table, { filter: x.series, timeColumn, interval }, x.first, new Date(nextOpenTime(x.last.getTime(), interval))));
            }
          }
          await updateRunProgress(session, processId, {
            lines: totals.lines + result.lines,
            loaded: totals.loaded + result.loaded,
            quarantined: totals.quarantined + result.quarantined,
            files: unit.index + 1,
          });
        },
        committed: ({ group: [{ unit }], published, quarantineFile }, { log }) => {
          const { p, result, gaps } = unit;
          const loaded = unit.loaded!;
          lakePaths.push(...published);
          if (quarantineFile && !lakePaths.includes(quarantineFile)) lakePaths.push(quarantineFile);
          totals.lines += result.lines;
          totals.loaded += result.loaded;
          totals.quarantined += result.quarantined;
          load.inserted += loaded.load.inserted;
          load.updated += loaded.load.updated;
          results.push({
            file: p.file,
            ...p.description,
            table: `${p.table.schema}.${p.table.name}`,
            lines: result.lines,
            loaded: result.loaded,
            quarantined: result.quarantined,
            load: loaded.load,
            repeated: loaded.repeated,
            gaps,
          });
          for (const g of gaps) if (g.missing > 0) log.warn({ file: p.file, gap: gapLine(g) }, `missing ${format.rowsNoun}`);
          log.info({ file: p.file, lines: result.lines, loaded: result.loaded, quarantined: result.quarantined, ...loaded.load, ms: Date.now() - unit.t0 }, 'file imported');
          doneBytes += p.bytes;
          bar?.update(mb(doneBytes), { files: unit.index + 1, rows: totals.loaded });
        },
        complete: async ({ log, processId, runId, logPath }) => {
          bar?.done();
          const gaps = results.flatMap((r) => r.gaps);
          const outcome: RunOutcome = {
            status: RUN_COMPLETE,
            rowsExtracted: totals.lines,
            rowsLoaded: totals.loaded,
            rowsQuarantined: totals.quarantined,
            lakePaths,
            details: {
              path: landingPath,
              load,
              files: results.map(({ gaps: _g, ...r }) => r),
              gaps,
            },
          };
          log.info({ files: results.length, ...totals, ...load }, 'import complete');
          const result: FileImportSummary<D> = { processId, runId, files: results, rowsExtracted: totals.lines, rowsLoaded: totals.loaded, rowsQuarantined: totals.quarantined, load, gaps, lakePaths, logPath };
          return { result, outcome };
        },
        failed: (err, { processId, runId, logPath }) => {
          bar?.done();
          return {
            figures: { rowsExtracted: totals.lines, rowsLoaded: totals.loaded, rowsQuarantined: totals.quarantined, lakePaths, details: { load, files: results } },
            error: new RunFailedError({ processId, runId, logPath, job }, err),
          };
        },
      },
    });
  } finally {
    await undoLimit();
  }
}
