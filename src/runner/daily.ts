// `coinlake daily`: every enabled incremental job, from its committed watermark to now, as ONE run per job over
// whatever gap there is (a few missed days are one run, not one per day). Jobs are found by their committed state:
// incremental streams keep `{ watermark, job, params }` in coinlake_meta.ingestion_state.
import { nextOpenTime } from '../core/candle-interval.ts';
import type { Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { StreamParams } from '../core/source.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { allJobNames } from '../sources/registry.ts';
import { buildJob, type Endpoints } from './job-builder.ts';
import { runJob, RunFailedError, type RunSummary } from './run-job.ts';

/** An incremental job as its state describes it. */
export interface IncrementalJob {
  job: string;
  connectionName: string;
  tableName: string;
  params: StreamParams;
  watermark: number;
}

/** What daily did with one job. */
export type DailyOutcome =
  | { kind: 'ran'; job: IncrementalJob; summary: RunSummary }
  | { kind: 'up-to-date'; job: IncrementalJob }
  | { kind: 'failed'; job: IncrementalJob; error: string; runId?: string };

/**
 * The incremental jobs with a committed state that names its job, minus those whose ingestion_config row
 * (same connection and table name) is disabled. States without a job name (older streams) are left out.
 */
export async function incrementalJobs(s: Session): Promise<IncrementalJob[]> {
  await ensureMetaTables(s);
  const known = new Set(allJobNames());
  const rows = await s.query<{ connection_name: string; table_name: string; state: string }>(
    `SELECT connection_name, table_name, state FROM coinlake_meta.ingestion_state ORDER BY connection_name, table_name`,
  );
  const disabled = new Set(
    (await s.query<{ connection_name: string; table_name: string }>(`SELECT connection_name, table_name FROM coinlake_meta.ingestion_config WHERE enabled = FALSE`)).map(
      (r) => `${r.connection_name}/${r.table_name}`,
    ),
  );
  const out: IncrementalJob[] = [];
  for (const r of rows) {
    let state: { job?: unknown; params?: unknown; watermark?: unknown };
    try {
      state = JSON.parse(r.state);
    } catch {
      continue;
    }
    if (typeof state.job !== 'string' || !known.has(state.job) || typeof state.watermark !== 'number') continue;
    if (disabled.has(`${r.connection_name}/${r.table_name}`)) continue;
    out.push({
      job: state.job,
      connectionName: r.connection_name,
      tableName: r.table_name,
      params: (state.params && typeof state.params === 'object' ? state.params : {}) as StreamParams,
      watermark: state.watermark,
    });
  }
  return out;
}

export interface DailyOptions {
  session: Session;
  lake: LocalLake;
  endpoints?: Endpoints;
  /** Catch up to this instant instead of now (exclusive). */
  to?: Date;
  logLevel?: string;
  printLog?: boolean;
  progress?: boolean;
  /** Called when a job starts, e.g. to print its name. */
  onJob?: (job: IncrementalJob) => void;
}

/**
 * Runs every incremental job from its watermark to `to` (default now): one runJob each, its window starting at
 * the watermark (the stream resumes after it). A job that fails is reported and the others still run.
 */
export async function runDaily(opts: DailyOptions): Promise<DailyOutcome[]> {
  const to = opts.to ?? new Date();
  const outcomes: DailyOutcome[] = [];
  for (const inc of await incrementalJobs(opts.session)) {
    try {
      const job = buildJob(inc.job, { params: inc.params, connectionName: inc.connectionName, tableName: inc.tableName }, opts.endpoints);
      // Up to date when the candle after the watermark cannot have closed before `to`.
      const interval = job.stream.series?.(job.params).interval;
      const nextClose = interval ? nextOpenTime(nextOpenTime(inc.watermark, interval), interval) : inc.watermark + 1;
      if (nextClose > to.getTime()) {
        outcomes.push({ kind: 'up-to-date', job: inc });
        continue;
      }
      opts.onJob?.(inc);
      job.window = { start: new Date(inc.watermark), end: to };
      const summary = await runJob(job, { session: opts.session, lake: opts.lake, logLevel: opts.logLevel, printLog: opts.printLog, progress: opts.progress });
      outcomes.push({ kind: 'ran', job: inc, summary });
    } catch (err) {
      const inner = err instanceof RunFailedError ? err.cause : err;
      outcomes.push({ kind: 'failed', job: inc, error: errorMessage(inner), runId: err instanceof RunFailedError ? err.summary.runId : undefined });
    }
  }
  return outcomes;
}
