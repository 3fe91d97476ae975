// Row-count audit of every run (coinlake_meta.workflow_audit_details): counts before and after the load, the delta,
// and the running mean / sample variance / sample standard deviation of the table's deltas, computed by the warehouse
// over the committed audit rows; a delta far from the earlier ones is a warning on the run.
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';
import { qualifiedName } from '../load/change-events.ts';

/** Default k of the k-standard-deviation rule. */
export const DEFAULT_AUDIT_K = 3;
/** Earlier runs a table needs before its deltas are judged. */
export const DEFAULT_AUDIT_MIN_RUNS = 5;

/** One run's audit row as written. */
export interface AuditRecord {
  table: string;
  before: number;
  after: number;
  delta: number;
  /** Running statistics over this table's deltas up to and including this run (variance and sd: null for the first run). */
  runningAvg: number;
  runningVariance: number | null;
  runningStddev: number | null;
  /** Mean, sample standard deviation and count of the earlier deltas, which this run's delta is judged against. */
  prior: { runs: number; mean: number | null; stddev: number | null };
  /** Set when |delta − prior mean| > k · prior sd after at least minRuns earlier runs. */
  warning?: string;
}

/** Rows in the table now (every version, for an scd2 table). */
export async function countRows(s: Session, t: TableSpec): Promise<number> {
  const [row] = await s.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${s.dialect.table(t.schema, t.name)}`);
  return Number(row.n);
}

const AUDIT = 'coinlake_meta.workflow_audit_details';

/**
 * Writes the audit row of one run of `table` (qualified `schema.name`) and judges its delta: a warning when at least
 * `minRuns` earlier runs exist and |delta − their mean| > k × their sample standard deviation (so with a standard
 * deviation of 0, any different delta). Call inside the run's transaction, so a rolled-back run leaves no row.
 */
export async function recordAudit(
  s: Session,
  processId: number,
  table: string,
  before: number,
  after: number,
  opts: { k?: number; minRuns?: number; at?: Date } = {},
): Promise<AuditRecord> {
  const k = opts.k ?? DEFAULT_AUDIT_K;
  const minRuns = opts.minRuns ?? DEFAULT_AUDIT_MIN_RUNS;
  const delta = after - before;
  const history = `SELECT CAST(record_cnt_delta AS DOUBLE PRECISION) AS d FROM ${AUDIT} WHERE table_name = $1`;
  const [prior] = await s.query<{ runs: number | string; mean: number | null; sd: number | null }>(
    `SELECT COUNT(*) AS runs, AVG(d) AS mean, STDDEV_SAMP(d) AS sd FROM (${history}) AS h`,
    [table],
  );
  // Computed first and then inserted (no INSERT … RETURNING: BigQuery has none), in the run's transaction.
  const [row] = await s.query<{ avg: number; variance: number | null; sd: number | null }>(
    `SELECT AVG(d) AS avg, VAR_SAMP(d) AS variance, STDDEV_SAMP(d) AS sd FROM (${history} UNION ALL SELECT CAST($2 AS DOUBLE PRECISION)) AS h`,
    [table, delta],
  );
  await s.exec(
    `INSERT INTO ${AUDIT}
       (process_id, table_name, record_cnt_before, record_cnt_after, record_cnt_delta,
        delta_running_avg, delta_running_variance, delta_running_stddev, created_at)
     VALUES (CAST($1 AS BIGINT), $2, CAST($3 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS BIGINT),
             CAST($6 AS DOUBLE PRECISION), CAST($7 AS DOUBLE PRECISION), CAST($8 AS DOUBLE PRECISION), CAST($9 AS TIMESTAMPTZ))`,
    [processId, table, before, after, delta, row.avg, row.variance, row.sd, opts.at ?? new Date()],
  );
  const runs = Number(prior.runs);
  const record: AuditRecord = {
    table,
    before,
    after,
    delta,
    runningAvg: row.avg,
    runningVariance: row.variance,
    runningStddev: row.sd,
    prior: { runs, mean: prior.mean, stddev: prior.sd },
  };
  if (runs >= minRuns && prior.mean !== null && prior.sd !== null && Math.abs(delta - prior.mean) > k * prior.sd) {
    const sds = prior.sd > 0 ? `${(Math.abs(delta - prior.mean) / prior.sd).toFixed(1)} standard deviations` : 'a change (standard deviation 0)';
    record.warning =
      `row-count delta ${delta >= 0 ? '+' : ''}${delta} on ${table} is ${sds} from the mean ${round(prior.mean)} ` +
      `of the ${runs} earlier runs (sd ${round(prior.sd)}, k = ${k})`;
  }
  return record;
}

/** The audit row of a table spec: see recordAudit. */
export function recordTableAudit(
  s: Session,
  processId: number,
  t: TableSpec,
  before: number,
  after: number,
  at?: Date,
): Promise<AuditRecord> {
  return recordAudit(s, processId, qualifiedName(t), before, after, { k: t.audit?.k, minRuns: t.audit?.minRuns, at });
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
