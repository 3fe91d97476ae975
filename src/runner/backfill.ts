// `coinlake backfill`: a time range of one job (per symbol) split into chunks, extracted with bounded concurrency,
// committed in groups by the pipeline (src/pipeline/) — each chunk's data, its backfill_chunk record, its job's state
// and the run's progress in one transaction — under ONE run row. A killed backfill, run again, skips the committed chunks and loads no duplicates.
import type { RunOptions } from './run-job.ts';
import { intervalMs, intervalTableSuffix, isCandleInterval } from '../core/candle-interval.ts';
import type { LoadResult, Session } from '../core/destination.ts';
import { ConfigError, TerminalError, errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { StreamParams, TimeWindow } from '../core/source.ts';
import type { TableSpec } from '../core/table.ts';
import { HttpClient } from '../http/http-client.ts';
import { BACKFILL_CHUNK_TABLE, committedWindows, isCovered, planWindows, recordChunks } from './backfill-chunks.ts';
import { gapLine, gapReport, type GapReport } from './gap-report.ts';
import { buildJob, type Endpoints } from './job-builder.ts';
import { createBarProgress, type BarProgress } from './progress.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { extractBatch, type ExtractedBatch } from '../pipeline/run-steps.ts';
import { RUN_COMPLETE, type RunOutcome } from './run-history.ts';
import { RunFailedError } from './run-job.ts';
import { readState, writeState } from './state-store.ts';

const DAY = 86_400_000;

/** What to backfill. */
export interface BackfillRequest {
  /** Job name, e.g. `binance.klines`. */
  job: string;
  /** Range of the backfill, [from, to). */
  from: Date;
  to: Date;
  /** One job per symbol (the stream's `asset`/`symbol` param); empty: one job without a symbol. */
  symbols: string[];
  /** Other stream params, e.g. `{ interval: '1m' }`. */
  params?: StreamParams;
  /** Chunks extracted at once. Default 4. */
  concurrency?: number;
  /** Stop starting chunks once this many rows were loaded (the rest is left for a rerun). */
  limitRows?: number;
  /** Chunk length in ms. Default one UTC day (100 candles for intervals longer than a day). */
  chunkMs?: number;
  endpoints?: Endpoints;
}

/** A single run's options (progress: a bar on a TTY, lines elsewhere), plus the backfill's own. */
export interface BackfillOptions extends Omit<RunOptions, 'beforeCommit'> {
  /** Plain progress lines at most this often. Default 5 s. */
  progressIntervalMs?: number;
  /** Most rows one transaction commits (several chunks are grouped up to this). Default 200 000. */
  maxRowsPerCommit?: number;
  /** Test hook: runs inside every group's transaction just before COMMIT. */
  beforeCommit?: () => Promise<void>;
}

/** What a backfill did. */
export interface BackfillSummary {
  processId: number;
  runId: string;
  job: string;
  table: string;
  status: number;
  chunks: { total: number; skipped: number; committed: number; remaining: number };
  commits: number;
  pages: number;
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  load: LoadResult;
  /** Stopped early because of `limitRows`. */
  stoppedAtLimit: boolean;
  gaps: GapReport[];
  logPath: string;
}

/** One symbol's job within the backfill. */
interface SymbolJob {
  key: string;
  job: Job;
  symbol?: string;
  /** Chunks in time order and which of them are committed (skipped ones included). */
  windows: TimeWindow[];
  done: boolean[];
}

/** A backfill's unit of work: one chunk of one symbol's job. */
interface ChunkUnit {
  target: SymbolJob;
  index: number;
}

/** The default chunk: a UTC day, or 100 candles when one candle is longer than a day. */
export function defaultChunkMs(params: StreamParams): number {
  const iv = String(params.interval ?? '');
  return isCandleInterval(iv) && intervalMs(iv) > DAY ? 100 * intervalMs(iv) : DAY;
}

/**
 * The work of a backfill request, before anything ran: its per-symbol jobs (one table), their keys, the lock that
 * serialises commits to the table, and the chunk grid. Shared by runBackfill and the distributed coordinator and
 * workers (src/distributed/), so every one of them cuts the same chunks and names the same jobs.
 */
export interface BackfillPlan {
  /** One job per symbol (one without a symbol when there are none), in the request's order. */
  jobs: Job[];
  /** `<connection>/<table name>` of each job, as backfill_chunk records it. */
  keys: string[];
  /** The table every job writes. */
  table: TableSpec;
  /** table_name of the backfill's run row, e.g. `KLINES_1M`. */
  runTable: string;
  /** Advisory lock key of commits to the table (one writer at a time). */
  lockKey: string;
  chunkMs: number;
  /** The chunk windows of [from, to), the same for every job. */
  windows: TimeWindow[];
}

/** Plans a backfill request: validates the range, builds the per-symbol jobs and cuts the chunk grid. */
export function planBackfill(req: BackfillRequest): BackfillPlan {
  if (req.to.getTime() <= req.from.getTime()) throw new ConfigError(`--to (${req.to.toISOString()}) must be after --from (${req.from.toISOString()})`);
  const symbols = req.symbols.length ? req.symbols : [undefined];
  const jobs = symbols.map((symbol) => {
    const params: StreamParams = { ...req.params, ...(symbol ? { symbol, asset: symbol } : {}) };
    const probe = buildJob(req.job, { params }, req.endpoints);
    const iv = String(params.interval ?? '');
    const suffix = isCandleInterval(iv) ? intervalTableSuffix(iv) : iv;
    const tableName = [probe.stream.name, symbol, suffix].filter(Boolean).join('_').toUpperCase();
    return buildJob(req.job, { params, tableName }, req.endpoints);
  });
  const [first] = jobs;
  if (!first.incremental) throw new ConfigError(`job ${req.job} is not a time series; a backfill needs a stream with a cursor`);
  const iv = String(req.params?.interval ?? '');
  const runTable = [first.stream.name, isCandleInterval(iv) ? intervalTableSuffix(iv) : iv].filter(Boolean).join('_').toUpperCase();
  const chunkMs = req.chunkMs ?? defaultChunkMs(first.params);
  return {
    jobs,
    keys: jobs.map((j) => `${j.connectionName}/${j.tableName}`),
    table: first.table,
    runTable,
    lockKey: `${first.connectionName}/${runTable}`,
    chunkMs,
    windows: planWindows(req.from, req.to, chunkMs),
  };
}

/** Which chunks of a plan are committed already (by any run), per job in plan order, and how many. */
export async function committedChunks(s: Session, plan: BackfillPlan, from: Date, to: Date): Promise<{ done: boolean[][]; count: number }> {
  const committed = await committedWindows(s, plan.keys, from, to);
  const done = plan.keys.map((key) => plan.windows.map((w) => isCovered(w, committed.get(key) ?? [])));
  return { done, count: done.reduce((n, d) => n + d.filter(Boolean).length, 0) };
}

/**
 * The state a job reaches when the chunks marked in `done` are committed: the stream's state at the end of the
 * unbroken run of committed chunks from `from`; undefined when the first chunk is not committed.
 */
export function stateAtPrefix(job: Job, from: Date, windows: TimeWindow[], done: boolean[]): unknown {
  let prefix = 0;
  while (prefix < done.length && done[prefix]) prefix++;
  if (prefix === 0 || !job.stream.stateAfter) return undefined;
  return job.stream.stateAfter(job.params, { start: from, end: windows[prefix - 1].end });
}

/** Writes `next` as the job's state when its watermark is ahead of the committed one; call inside the data transaction. */
export async function advanceState(s: Session, job: Job, next: unknown, processId: number): Promise<void> {
  const now = watermarkOf(next);
  if (now === undefined) return;
  const was = watermarkOf(await readState(s, job.connectionName, job.tableName));
  if (was === undefined || now > was) await writeState(s, job.connectionName, job.tableName, next, processId);
}

/** `watermark` of a state object, when it has one. */
function watermarkOf(state: unknown): number | undefined {
  const w = (state as { watermark?: unknown } | undefined)?.watermark;
  return typeof w === 'number' ? w : undefined;
}

/**
 * Runs a backfill to the end (or to `limitRows`) on the pipeline: its units are the chunks not yet committed, in time
 * order with the symbols side by side, extracted `concurrency` at a time and committed in groups. Throws
 * RunFailedError after recording status -1; the chunks committed until then stay, and a rerun continues from them.
 */
export async function runBackfill(req: BackfillRequest, opts: BackfillOptions): Promise<BackfillSummary> {
  const { session, lake } = opts;
  const concurrency = Math.max(1, Math.floor(req.concurrency ?? 4));
  const plan = planBackfill(req);
  const { jobs, table, runTable, chunkMs, windows } = plan;
  const first = jobs[0];
  const figures = { pages: 0, extracted: 0, loaded: 0, pending: 0, quarantined: 0, commits: 0, committedChunks: 0 };
  const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
  const lakePaths: string[] = [];
  const targets: SymbolJob[] = [];
  let skipped = 0;
  let stoppedAtLimit = false;
  let bar: BarProgress | undefined;
  let http: HttpClient | undefined;
  // Symbols the source refused for good (e.g. one the exchange does not list): their chunks are skipped, the other
  // symbols still load, and the run fails at the end with their errors.
  const refused = new Map<SymbolJob, TerminalError>();
  const notExtracted = new WeakSet<ExtractedBatch>();
  const skip = () => {
    const batch = skippedBatch();
    notExtracted.add(batch);
    return batch;
  };
  const total = () => windows.length * targets.length;
  return runPipeline<ChunkUnit, BackfillSummary>({
    session,
    lake,
    run: { open: { connectionName: first.connectionName, tableName: runTable, window: { start: req.from, end: req.to }, logLevel: opts.logLevel, printLog: opts.printLog } },
    concurrency,
    // One committer takes every chunk that is ready (up to maxRowsPerCommit rows, 1000 chunks) and commits them together.
    group: { maxRows: opts.maxRowsPerCommit ?? 200_000, maxBatches: 1000 },
    signal: opts.signal,
    hooks: {
      plan: async ({ log }) => {
        const committed = await committedChunks(session, plan, req.from, req.to);
        skipped = committed.count;
        for (const [i, job] of jobs.entries()) targets.push({ key: plan.keys[i], job, symbol: req.symbols[i], windows, done: committed.done[i] });
        log.info({ job: req.job, symbols: req.symbols, from: req.from.toISOString(), to: req.to.toISOString(), chunks: total(), skipped, chunkMs, concurrency }, 'backfill started');
        bar = createBarProgress(`${req.job}${req.symbols.length ? ` ${req.symbols.join(',')}` : ''}`, {
          total: total(),
          initial: skipped,
          enabled: opts.progress ?? Boolean(process.stderr.isTTY),
          intervalMs: opts.progressIntervalMs,
        });
        http = new HttpClient({ ...first.http, rateLimitPerMinute: first.rateLimitPerMinute, headers: first.headers, logger: log });
        // Work in time order, symbols side by side, so every symbol's state advances as chunks commit.
        const units: ChunkUnit[] = [];
        for (let i = 0; i < windows.length; i++) for (const target of targets) if (!target.done[i]) units.push({ target, index: i });
        return units;
      },
      extract: async ({ target, index }, { scope, signal, nextPage }) => {
        if (refused.has(target)) return skip();
        try {
          return await extractBatch(scope, target.job, { http: http!, window: target.windows[index], signal, table, nextPage });
        } catch (err) {
          if (!(err instanceof TerminalError) || signal.aborted || targets.length < 2) throw err;
          if (!refused.has(target)) scope.log.error({ job: target.key, error: err.message }, 'symbol refused; the other symbols go on');
          refused.set(target, refused.get(target) ?? err);
          return skip();
        }
      },
      extracted: ({ batch }, left, { log }) => {
        figures.pages += batch.pages;
        figures.pending += batch.rows.length;
        // --limit: no new chunk once the rows loaded and on their way reach it.
        if (req.limitRows === undefined || figures.loaded + figures.pending < req.limitRows || left.units === 0) return;
        stoppedAtLimit = true;
        log.info({ rows: figures.loaded + figures.pending, limit: req.limitRows }, 'row limit reached; the remaining chunks are left for a rerun');
        return 'stop';
      },
      target: (_group, { runId }) => ({
        table,
        writeMode: first.writeMode,
        lockKey: plan.lockKey,
        fileStem: `${runId}-${String(figures.commits + 1).padStart(5, '0')}`,
        // Per-chunk audit rows would skew the table's delta statistics; chunks skip it.
        afterLoad: false,
      }),
      inTransaction: async ({ group, rows, load: groupLoad }, { processId }) => {
        // The state each job reaches once this group commits: the end of its unbroken run of committed chunks.
        const loaded = group.filter((r) => !notExtracted.has(r.batch));
        for (const r of loaded) r.unit.target.done[r.unit.index] = true;
        await recordChunks(session, processId, loaded.map((r) => ({ chunk: { job: r.unit.target.key, window: r.unit.target.windows[r.unit.index] }, rows: r.batch.rows.length })), new Date());
        for (const t of new Set(group.map((r) => r.unit.target))) {
          const next = stateAtPrefix(t.job, req.from, t.windows, t.done);
          if (next !== undefined) await advanceState(session, t.job, next, processId);
        }
        const extracted = group.reduce((n, r) => n + r.batch.records, 0);
        const quarantined = group.reduce((n, r) => n + r.batch.quarantinedCount, 0);
        await updateRunProgress(session, processId, {
          rowsExtracted: figures.extracted + extracted,
          rowsLoaded: figures.loaded + rows,
          rowsQuarantined: figures.quarantined + quarantined,
          details: { chunks: { total: total(), skipped, committed: figures.committedChunks + group.length }, load: sumLoad(load, groupLoad) },
        });
        await opts.beforeCommit?.();
      },
      committed: ({ group, rows, quarantineFile, committed, published }, { log }) => {
        figures.commits++;
        for (const r of group) {
          figures.extracted += r.batch.records;
          figures.quarantined += r.batch.quarantinedCount;
          lakePaths.push(...r.batch.lakePaths);
        }
        figures.loaded += rows;
        figures.pending -= rows;
        figures.committedChunks += group.length;
        Object.assign(load, sumLoad(load, committed.load));
        lakePaths.push(...(quarantineFile ? [quarantineFile] : []), ...published);
        log.debug({ group: figures.commits, chunks: group.length, rows, ...committed.load }, 'chunks committed');
        bar?.update(skipped + figures.committedChunks, { rows: figures.loaded });
      },
      complete: async ({ log, processId, runId, logPath }) => {
        if (refused.size) throw refusedError([...refused.values()]);
        bar?.done();
        const gaps: GapReport[] = [];
        for (const t of targets) {
          const spec = t.job.stream.series?.(t.job.params);
          if (spec) gaps.push(await gapReport(session, table, spec, req.from, req.to));
        }
        for (const g of gaps) if (g.missing > 0) log.warn({ gap: gapLine(g) }, 'missing candles');
        const chunks = { total: total(), skipped, committed: figures.committedChunks, remaining: total() - skipped - figures.committedChunks };
        const details = {
          job: req.job,
          symbols: req.symbols,
          params: req.params ?? {},
          chunkMs,
          concurrency,
          chunks,
          commits: figures.commits,
          pages: figures.pages,
          load,
          stoppedAtLimit,
          chunkTable: BACKFILL_CHUNK_TABLE,
          gaps,
        };
        log.info({ ...chunks, rowsLoaded: figures.loaded, ...load, stoppedAtLimit }, 'backfill complete');
        const outcome: RunOutcome = { status: RUN_COMPLETE, rowsExtracted: figures.extracted, rowsLoaded: figures.loaded, rowsQuarantined: figures.quarantined, lakePaths: summarizePaths(lakePaths), details };
        const result: BackfillSummary = {
          processId,
          runId,
          job: req.job,
          table: `${table.schema}.${table.name}`,
          status: RUN_COMPLETE,
          chunks,
          commits: figures.commits,
          pages: figures.pages,
          rowsExtracted: figures.extracted,
          rowsLoaded: figures.loaded,
          rowsQuarantined: figures.quarantined,
          load,
          stoppedAtLimit,
          gaps,
          logPath,
        };
        return { result, outcome };
      },
      failed: (err, { processId, runId, logPath }) => {
        bar?.done();
        return {
          figures: {
            rowsExtracted: figures.extracted,
            rowsLoaded: figures.loaded,
            rowsQuarantined: figures.quarantined,
            lakePaths: summarizePaths(lakePaths),
            details: { chunks: { total: total(), skipped, committed: figures.committedChunks }, load },
          },
          error: new RunFailedError({ processId, runId, logPath, job: req.job }, err instanceof Error ? err : new TerminalError(errorMessage(err))),
        };
      },
    },
  });
}

/** The batch of a chunk not extracted (its symbol was refused): nothing to load, and the chunk is not recorded. */
function skippedBatch(): ExtractedBatch {
  return { rows: [], records: 0, pages: 0, lakePaths: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set<string>(), missingFields: new Set<string>() };
}

/** The error a backfill fails with when symbols were refused: the one error as it is, or all of them in one. */
function refusedError(errors: TerminalError[]): TerminalError {
  if (errors.length === 1) return errors[0];
  return new TerminalError(`${errors.length} symbols were refused: ${errors.map((e) => e.message).join('; ')}`, { hint: errors.find((e) => e.hint)?.hint });
}

function sumLoad(a: LoadResult, b: LoadResult): LoadResult {
  return { inserted: a.inserted + b.inserted, updated: a.updated + b.updated, deleted: a.deleted + b.deleted };
}

/** Sets the running figures of an open run (status stays 0), so `coinlake status` shows a backfill's progress. */
export async function updateRunProgress(
  s: Session,
  processId: number,
  f: { rowsExtracted: number; rowsLoaded: number; rowsQuarantined: number; details: unknown },
): Promise<void> {
  await s.exec(
    `UPDATE coinlake_meta.workflow_action_history SET rows_extracted = $2, rows_loaded = $3, rows_quarantined = $4, details = $5 WHERE process_id = $1`,
    [processId, f.rowsExtracted, f.rowsLoaded, f.rowsQuarantined, JSON.stringify(f.details)],
  );
}

/**
 * A backfill lands thousands of files; the run row keeps the lake folders they are in (with a count per folder)
 * rather than every path, so 1,000 chunks stay one light record.
 */
function summarizePaths(paths: string[]): string[] {
  const byDir = new Map<string, number>();
  for (const p of paths) {
    const dir = p.slice(0, Math.max(0, p.lastIndexOf('/')));
    byDir.set(dir, (byDir.get(dir) ?? 0) + 1);
  }
  return [...byDir].map(([dir, n]) => `${dir}/ (${n} file${n === 1 ? '' : 's'})`);
}
