// Closing a distributed backfill's ONE run row once every chunk is committed (or failed for good): the gap report,
// the figures summed from its tasks, status 1 — or -1 naming the failed chunks. Whoever sees the last task settle
// does it: the waiting coordinator, or the worker that committed it when the coordinator is gone (--no-wait).
// Idempotent and serialised per run, so both may try.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Session } from '../core/destination.ts';
import { TerminalError } from '../core/errors.ts';
import type { StreamParams } from '../core/source.ts';
import { rawPagePath } from '../lake/lake-paths.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { ABANDONED_MESSAGE } from '../runner/abandoned-runs.ts';
import { BACKFILL_CHUNK_TABLE } from '../runner/backfill-chunks.ts';
import { committedChunks, planBackfill, type BackfillPlan, type BackfillSummary } from '../runner/backfill.ts';
import { gapLine, gapReport, type GapReport } from '../runner/gap-report.ts';
import { RUN_COMPLETE, RUN_FAILED, RUN_IN_PROGRESS, closeRun } from '../runner/run-history.ts';
import { chunkLabel } from './backfill-task.ts';
import { BACKFILL_TASK_TABLE, backfillTasks, committedFigures, type TaskRow } from './task-table.ts';

/** What the run row's details hold while a distributed backfill runs (and keep after it closed). */
export interface DistributedDetails {
  job: string;
  symbols: string[];
  params: StreamParams;
  chunkMs: number;
  distributed: { queue: string; stream: string; subject: string; published: number };
  chunks: { total: number; skipped: number; committed?: number; failed?: number; remaining?: number };
}

/** A run row of a distributed backfill as the closer reads it. */
interface RunRecord {
  run_id: string;
  execution_status: number;
  error_message: string | null;
  window_start: Date;
  window_end: Date;
  log_path: string | null;
  details: string | null;
}

/** The outcome of a close attempt. */
export interface CloseOutcome {
  /** The run row is closed (by this call or earlier). */
  closed: boolean;
  /** This call closed it. */
  closedNow: boolean;
  status: number;
  /** Chunks still queued, running or to be retried (0 once closed). */
  outstanding: number;
  /** What the backfill did, once closed with this module (status 1 or -1). */
  summary?: BackfillSummary;
}

/** The run may still take work: open, or marked abandoned by a sweep while its coordinator was gone (--no-wait). */
export function runAcceptsWork(status: number, errorMessage: string | null): boolean {
  return status === RUN_IN_PROGRESS || (status === RUN_FAILED && errorMessage === ABANDONED_MESSAGE);
}

async function readRun(s: Session, processId: number): Promise<RunRecord | undefined> {
  const [row] = await s.query<RunRecord>(
    `SELECT run_id, execution_status, error_message, window_start, window_end, log_path, details FROM coinlake_meta.workflow_action_history WHERE process_id = $1`,
    [processId],
  );
  return row;
}

function planOf(details: DistributedDetails, run: RunRecord): BackfillPlan {
  return planBackfill({ job: details.job, from: run.window_start, to: run.window_end, symbols: details.symbols, params: details.params, chunkMs: details.chunkMs });
}

/**
 * Closes the run of a distributed backfill when none of its chunks is outstanding; otherwise leaves it open and says
 * how many are. A run that is already closed is reported as it is (its summary read back from its row).
 */
export async function closeDistributedBackfill(s: Session, processId: number, opts: { lake?: LocalLake; log?: Logger } = {}): Promise<CloseOutcome> {
  const outcome = await s.transaction(async (): Promise<CloseOutcome> => {
    await s.lockKey(`coinlake:backfill-close:${processId}`);
    const run = await readRun(s, processId);
    if (!run) {
      throw new TerminalError(`backfill process ${processId} has no run row`, {
        hint: 'close the backfill against the warehouse that started it (the same --warehouse as `coinlake backfill --distributed`)',
      });
    }
    const details = JSON.parse(run.details ?? '{}') as DistributedDetails & Partial<ClosedDetails>;
    if (!runAcceptsWork(run.execution_status, run.error_message)) {
      const summary = details.summary ? summaryOf(processId, run, details as ClosedDetails, await runFigures(s, processId)) : undefined;
      return { closed: true, closedNow: false, status: run.execution_status, outstanding: 0, summary };
    }
    const plan = planOf(details, run);
    const committed = await committedChunks(s, plan, run.window_start, run.window_end);
    const tasks = new Map<string, TaskRow>();
    for (const t of await backfillTasks(s, processId)) tasks.set(`${t.job}|${t.chunk_start.getTime()}`, t);
    let outstanding = 0;
    const failed: { label: string; message: string }[] = [];
    plan.keys.forEach((key, i) =>
      plan.windows.forEach((w, j) => {
        if (committed.done[i][j]) return;
        const t = tasks.get(`${key}|${w.start.getTime()}`);
        const label = chunkLabel({ job: key, window: w });
        if (!t) failed.push({ label, message: 'no task was queued for it' });
        else if (t.status === 'failed') failed.push({ label, message: t.message ?? 'failed' });
        else outstanding++;
      }),
    );
    if (outstanding > 0) return { closed: false, closedNow: false, status: run.execution_status, outstanding };

    const figures = await committedFigures(s, processId);
    const total = plan.keys.length * plan.windows.length;
    const chunks = { total, skipped: total - figures.chunks - failed.length, committed: figures.chunks, failed: failed.length, remaining: failed.length };
    const gaps: GapReport[] = [];
    if (failed.length === 0) {
      for (const job of plan.jobs) {
        const spec = job.stream.series?.(job.params);
        if (spec) gaps.push(await gapReport(s, plan.table, spec, run.window_start, run.window_end));
      }
    }
    const status = failed.length ? RUN_FAILED : RUN_COMPLETE;
    const errorMessage = failed.length
      ? `${failed.length} chunk(s) failed: ${failed.slice(0, 3).map((f) => `${f.label}: ${f.message}`).join('; ')}${failed.length > 3 ? `; and ${failed.length - 3} more (see ${BACKFILL_TASK_TABLE})` : ''}`
      : undefined;
    const closed: ClosedDetails = {
      ...details,
      chunks,
      commits: figures.chunks,
      pages: figures.pages,
      load: { inserted: figures.inserted, updated: figures.updated, deleted: 0 },
      stoppedAtLimit: false,
      chunkTable: BACKFILL_CHUNK_TABLE,
      taskTable: BACKFILL_TASK_TABLE,
      gaps,
      summary: true,
    };
    const source = plan.jobs[0].source.name;
    const stream = plan.jobs[0].stream.name;
    const runDay = await runStartedAt(s, processId);
    const lakePaths = [
      `${path.posix.dirname(rawPagePath(source, stream, runDay, run.run_id, 1).join('/'))}/ (${figures.pages} file${figures.pages === 1 ? '' : 's'})`,
      `curated/${plan.table.name}/ (${figures.chunks} chunk file${figures.chunks === 1 ? '' : 's'})`,
    ];
    await closeRun(s, processId, {
      status,
      rowsExtracted: figures.rowsExtracted,
      rowsLoaded: figures.rowsLoaded,
      rowsQuarantined: figures.rowsQuarantined,
      lakePaths,
      errorMessage,
      details: closed,
    });
    for (const g of gaps) if (g.missing > 0) opts.log?.warn({ processId, gap: gapLine(g) }, 'missing candles');
    opts.log?.info({ processId, runId: run.run_id, status, ...chunks }, 'distributed backfill closed');
    return { closed: true, closedNow: true, status, outstanding: 0, summary: summaryOf(processId, { ...run, execution_status: status }, closed, { rowsExtracted: figures.rowsExtracted, rowsLoaded: figures.rowsLoaded, rowsQuarantined: figures.rowsQuarantined }) };
  });
  if (outcome.closedNow && opts.lake && outcome.summary) await removeLeftovers(opts.lake, outcome.summary);
  return outcome;
}

/** Details of a closed run: the plan and what was loaded. */
interface ClosedDetails extends DistributedDetails {
  chunks: { total: number; skipped: number; committed: number; failed: number; remaining: number };
  commits: number;
  pages: number;
  load: { inserted: number; updated: number; deleted: number };
  stoppedAtLimit: false;
  chunkTable: string;
  taskTable: string;
  gaps: GapReport[];
  summary: true;
}

async function runFigures(s: Session, processId: number): Promise<RowFigures> {
  const [r] = await s.query<{ e: number | null; l: number | null; q: number | null }>(
    `SELECT rows_extracted AS e, rows_loaded AS l, rows_quarantined AS q FROM coinlake_meta.workflow_action_history WHERE process_id = $1`,
    [processId],
  );
  return { rowsExtracted: Number(r?.e ?? 0), rowsLoaded: Number(r?.l ?? 0), rowsQuarantined: Number(r?.q ?? 0) };
}

async function runStartedAt(s: Session, processId: number): Promise<Date> {
  const [r] = await s.query<{ t: Date }>(`SELECT execution_start_datetime AS t FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);
  return r.t;
}

/** Rows read, loaded and quarantined by a run. */
interface RowFigures {
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
}

function summaryOf(processId: number, run: RunRecord, d: ClosedDetails, rows: RowFigures): BackfillSummary {
  const plan = planOf(d, run);
  return {
    processId,
    runId: run.run_id,
    job: d.job,
    table: `${plan.table.schema}.${plan.table.name}`,
    status: run.execution_status,
    chunks: { total: d.chunks.total, skipped: d.chunks.skipped, committed: d.chunks.committed, remaining: d.chunks.remaining },
    commits: d.commits,
    pages: d.pages,
    ...rows,
    load: d.load,
    stoppedAtLimit: false,
    gaps: d.gaps,
    logPath: run.log_path ?? '',
  };
}

/**
 * Removes curated temporary folders of the run left by workers that were killed mid-commit on this machine
 * (`curated/<table>/.tmp-<run id>-…`): once the run is closed nothing will publish them.
 */
async function removeLeftovers(lake: LocalLake, summary: BackfillSummary): Promise<void> {
  const dir = lake.resolve(['curated', summary.table.split('.').pop()!]);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) if (e.startsWith(`.tmp-${summary.runId}-`)) await rm(path.join(dir, e), { recursive: true, force: true });
}
