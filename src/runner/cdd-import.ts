// `coinlake import cdd`: CryptoDataDownload CSV files → coinlake.ohlcv_<interval> (merged on exchange, symbol, ts)
// and the curated lake as Parquet, under ONE run row. DuckDB reads every file itself, streaming (a multi-GB file is
// never in memory, and no row passes through JS on a DuckDB warehouse); malformed lines go to quarantine with their
// line numbers and the reason, the rest load. Each file commits in its own transaction; its curated Parquet is
// published after that commit (on DuckDB, a file whose candles needed no settling has its Parquet written from the
// committed rows right after the commit — see landInWarehouse).
import { nextOpenTime } from '../core/candle-interval.ts';
import type { LoadContext, LoadResult, Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { expandCddArguments, sniffCddFile } from '../sources/cryptodatadownload/cdd-file.ts';
import { ReadAgain, landInWarehouse, landThroughDuckdb, planFile, tuneForImport, type Landed, type Planned } from './cdd-landing.ts';
import { gapLine, gapReport, type GapReport } from './gap-report.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { createBarProgress, type BarProgress } from './progress.ts';
import { RUN_COMPLETE, type RunOutcome } from './run-history.ts';
import { RunFailedError } from './run-job.ts';

/** Connection name of import runs in the run history. */
export const CDD_CONNECTION = 'CRYPTODATADOWNLOAD';
export interface CddImportOptions {
  session: Session;
  lake: LocalLake;
  /** Exchange of every file; default from the file name (`Binance_…` → binance). */
  exchange?: string;
  /** Candle interval of every file; default from the file name (`_minute` → 1m), else 1m. */
  interval?: string;
  /** DuckDB memory limit while importing, e.g. '256MB' (larger files spill to a temp directory). Default 256MB. */
  memoryLimit?: string;
  logLevel?: string;
  printLog?: boolean;
  /** Progress on stderr (bar on a TTY, lines elsewhere). Default: only on a TTY. */
  progress?: boolean;
  progressIntervalMs?: number;
}

/** What one file did. */
export interface CddFileResult {
  file: string;
  style: 'current' | 'legacy';
  exchange: string;
  interval: string;
  table: string;
  /** Data lines read (loaded, set aside or rejected). */
  lines: number;
  /** Candles given to the merge (lines that parsed and are valid candles). */
  loaded: number;
  quarantined: number;
  load: LoadResult;
  /** Lines merged into another line of the file with the same candle (the one with more trades is kept). */
  repeated: number;
  gaps: GapReport[];
}

export interface CddImportSummary {
  processId: number;
  runId: string;
  files: CddFileResult[];
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
interface FileUnit {
  index: number;
  p: Planned;
  t0: number;
  loaded?: Landed;
  gaps: GapReport[];
  result: { lines: number; loaded: number; quarantined: number };
}

/**
 * Imports CDD files (paths, directories of .csv files, or name patterns) into the candle tables and the lake on the
 * pipeline: each file is a unit landed by the warehouse in its own transaction, one run row for the whole import.
 * Throws RunFailedError after recording status -1; files committed before the failure stay.
 */
export async function importCddFiles(args: string[], opts: CddImportOptions): Promise<CddImportSummary> {
  const { session, lake } = opts;
  const files = await expandCddArguments(args);
  const planned: Planned[] = [];
  for (const f of files) planned.push(planFile(await sniffCddFile(f), opts));
  const tables = [...new Set(planned.map((p) => p.table.name))];
  const results: CddFileResult[] = [];
  const lakePaths: string[] = [];
  const totals = { lines: 0, loaded: 0, quarantined: 0 };
  const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
  const memoryLimit = opts.memoryLimit ?? '256MB';
  // A warehouse that reads the CSV, writes the Parquet and merges appended rows itself lands each file in one pass;
  // others get staged rows.
  const inWarehouse = Boolean(session.dialect.readCsv && session.dialect.copyToParquet && session.mergeAppended);
  let undoLimit = async () => {};
  const mb = (b: number) => Math.round((b / 1e6) * 10) / 10;
  let bar: BarProgress | undefined;
  let lastLoadedAt = 0;
  let doneBytes = 0;
  try {
    return await runPipeline<FileUnit, CddImportSummary>({
      session,
      lake,
      run: { open: { connectionName: CDD_CONNECTION, tableName: tables.join('+').toUpperCase(), logLevel: opts.logLevel, printLog: opts.printLog } },
      // A file's landing works the warehouse itself: the next file starts once the previous one committed.
      lookahead: 0,
      hooks: {
        plan: async ({ log }) => {
          if (inWarehouse) undoLimit = await tuneForImport(session, memoryLimit);
          bar = createBarProgress('import cdd', {
            total: mb(planned.reduce((a, p) => a + p.layout.bytes, 0)),
            unit: 'MB',
            enabled: opts.progress ?? Boolean(process.stderr.isTTY),
            intervalMs: opts.progressIntervalMs,
          });
          log.info({ files: files.length, tables, path: inWarehouse ? 'duckdb-bulk' : 'staged' }, 'import started');
          return planned.map((p, index) => ({ index, p, t0: 0, gaps: [], result: { lines: 0, loaded: 0, quarantined: 0 } }));
        },
        land: async (unit, { scope }) => {
          const { p, index } = unit;
          const { runId, processId, log } = scope;
          unit.t0 = Date.now();
          // Each file's rows carry their own load time: with the run id it tells this file's rows apart.
          lastLoadedAt = Math.max(Date.now(), lastLoadedAt + 1);
          const ctx: LoadContext = { runId, processId, loadedAt: new Date(lastLoadedAt) };
          const stem = `${runId}-${String(index + 1).padStart(4, '0')}`;
          const landing = inWarehouse ? landInWarehouse(scope, p, ctx, stem) : await landThroughDuckdb(scope, p, ctx, stem, memoryLimit);
          return {
            get curated() {
              return landing.curated;
            },
            load: async () => (unit.loaded = await landing.load()),
            // A second round only when the fast read met a row that is not a candle (ReadAgain): the first rolled back.
            again: (err) => {
              if (!(err instanceof ReadAgain)) return false;
              log.debug({ file: p.layout.file }, errorMessage(err));
              return true;
            },
            afterCommit: () => landing.afterCommit(),
            close: () => landing.close(),
          };
        },
        target: ([{ unit }]) => ({ table: unit.p.table, writeMode: 'merge', lockKey: `${CDD_CONNECTION}/${unit.p.table.name}` }),
        inTransaction: async ({ group: [{ unit }] }, { processId }) => {
          const { p, result } = unit;
          const loaded = unit.loaded!;
          result.quarantined = loaded.rejected + loaded.invalid;
          result.lines = loaded.appended + result.quarantined;
          result.loaded = loaded.appended;
          unit.gaps = [];
          for (const x of loaded.series) {
            unit.gaps.push(await gapReport(session, p.table, { filter: x.series, timeColumn: 'ts', interval: p.interval }, x.first, new Date(nextOpenTime(x.last.getTime(), p.interval))));
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
            file: p.layout.file,
            style: p.layout.style,
            exchange: p.exchange,
            interval: p.interval,
            table: `${p.table.schema}.${p.table.name}`,
            lines: result.lines,
            loaded: result.loaded,
            quarantined: result.quarantined,
            load: loaded.load,
            repeated: loaded.repeated,
            gaps,
          });
          for (const g of gaps) if (g.missing > 0) log.warn({ file: p.layout.file, gap: gapLine(g) }, 'missing candles');
          log.info({ file: p.layout.file, lines: result.lines, loaded: result.loaded, quarantined: result.quarantined, ...loaded.load, ms: Date.now() - unit.t0 }, 'file imported');
          doneBytes += p.layout.bytes;
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
              path: inWarehouse ? 'duckdb-bulk' : 'staged',
              load,
              files: results.map(({ gaps: _g, ...r }) => r),
              gaps,
            },
          };
          log.info({ files: results.length, ...totals, ...load }, 'import complete');
          const result: CddImportSummary = { processId, runId, files: results, rowsExtracted: totals.lines, rowsLoaded: totals.loaded, rowsQuarantined: totals.quarantined, load, gaps, lakePaths, logPath };
          return { result, outcome };
        },
        failed: (err, { processId, runId, logPath }) => {
          bar?.done();
          return {
            figures: { rowsExtracted: totals.lines, rowsLoaded: totals.loaded, rowsQuarantined: totals.quarantined, lakePaths, details: { load, files: results } },
            error: new RunFailedError({ processId, runId, logPath, job: 'import cdd' }, err),
          };
        },
      },
    });
  } finally {
    await undoLimit();
  }
}
