// Runs a table's declared quality checks and records each result in coinlake_meta.quality_result — after every load
// (inside the run's transaction, see runner/after-load.ts) and on demand (`coinlake check`).
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { CheckSeverity, QualityCheck, QualityCheckType } from '../core/quality-check.ts';
import { LINEAGE_COLUMNS, type TableSpec } from '../core/table.ts';
import { qualifiedName } from '../load/change-events.ts';
import { SCD2_COLUMNS } from '../load/scd2.ts';
import { checkAcceptedRange, rangeText } from './accepted-range.ts';
import { checkCandleGaps } from './candle-gaps.ts';
import type { CheckContext, CheckOutcome } from './check-context.ts';
import { checkDivergence, divergenceColumns, divergenceName } from './divergence.ts';
import { checkFreshness } from './freshness.ts';
import { checkNotNull } from './not-null.ts';
import { checkUnique, uniqueColumns } from './unique.ts';

/** The result of one check, as recorded. */
export interface CheckResult extends CheckOutcome {
  name: string;
  type: QualityCheckType;
  severity: CheckSeverity;
}

/** The name a check is shown and stored under: its own, or e.g. `not_null(id,symbol)`, `accepted_range(price_usd > 0)`. */
function checkName(t: TableSpec, check: QualityCheck): string {
  if (check.name) return check.name;
  switch (check.type) {
    case 'not_null':
      return `not_null(${check.columns.join(',')})`;
    case 'unique':
      return `unique(${uniqueColumns({ t }, check).join(',')})`;
    case 'accepted_range':
      return `accepted_range(${rangeText(check)})`;
    case 'freshness':
      return `freshness(${check.column} within ${check.max_age})`;
    case 'candle_gaps':
      return `candle_gaps(${check.column} every ${check.interval})`;
    case 'divergence':
      return divergenceName(check);
  }
}

/** Columns a check reads. */
function columnsOf(t: TableSpec, check: QualityCheck): string[] {
  switch (check.type) {
    case 'not_null':
      return check.columns;
    case 'unique':
      return uniqueColumns({ t }, check);
    case 'candle_gaps':
      return [check.column, ...(check.partition_by ?? [])];
    case 'divergence':
      return divergenceColumns(check);
    default:
      return [check.column];
  }
}

/** Refuses checks on columns the table does not have (before any SQL runs, so the error names the check). */
export function validateChecks(t: TableSpec, checks: QualityCheck[] = t.checks ?? []): void {
  const known = new Set([...t.columns, ...LINEAGE_COLUMNS, ...SCD2_COLUMNS].map((c) => c.name));
  for (const check of checks) {
    const columns = columnsOf(t, check);
    if (columns.length === 0) {
      throw new ConfigError(`check ${checkName(t, check)} on ${qualifiedName(t)} names no columns and the table has no primary key`, {
        hint: 'list the columns of the unique check',
      });
    }
    const unknown = columns.filter((c) => !known.has(c));
    if (unknown.length > 0) {
      throw new ConfigError(`check ${checkName(t, check)} on ${qualifiedName(t)} names unknown column(s) ${unknown.join(', ')}`, {
        hint: `columns of the table: ${t.columns.map((c) => c.name).join(', ')}`,
      });
    }
  }
}

/** Lower-case names of the table's columns in the warehouse; empty when the table does not exist. */
export async function warehouseColumns(s: Session, t: TableSpec): Promise<Set<string>> {
  if (s.tableColumns) return new Set((await s.tableColumns(t.schema, t.name)).map((c) => c.toLowerCase()));
  const rows = await s.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2`,
    [t.schema, t.name],
  );
  return new Set(rows.map((r) => r.column_name.toLowerCase()));
}

function run(c: CheckContext, check: QualityCheck): Promise<CheckOutcome> {
  switch (check.type) {
    case 'not_null':
      return checkNotNull(c, check);
    case 'unique':
      return checkUnique(c, check);
    case 'accepted_range':
      return checkAcceptedRange(c, check);
    case 'freshness':
      return checkFreshness(c, check);
    case 'candle_gaps':
      return checkCandleGaps(c, check);
    case 'divergence':
      return checkDivergence(c, check);
  }
}

/**
 * Runs the table's checks (or `opts.checks`) in declaration order and inserts one quality_result row per check under
 * `processId` (null: an on-demand check). On a table with scd2 version columns only the current versions count.
 * A check that cannot run (unknown column, SQL error) throws: inside a run, that fails the run.
 */
export async function runChecks(
  s: Session,
  t: TableSpec,
  opts: { processId: number | null; now: Date; checks?: QualityCheck[] },
): Promise<CheckResult[]> {
  const checks = opts.checks ?? t.checks ?? [];
  if (checks.length === 0) return [];
  validateChecks(t, checks);
  const d = s.dialect;
  const columns = await warehouseColumns(s, t);
  const versioned = SCD2_COLUMNS.every((c) => columns.has(c.name));
  const ctx: CheckContext = { s, t, target: d.table(t.schema, t.name), scope: versioned ? d.ident('is_current') : 'TRUE', now: opts.now };
  const results: CheckResult[] = [];
  for (const check of checks) {
    const outcome = await run(ctx, check);
    results.push({ name: checkName(t, check), type: check.type, severity: check.severity ?? 'error', ...outcome });
  }
  const row = (i: number) => {
    const p = (j: number) => d.param(i * 10 + j);
    return `(CAST(${p(1)} AS BIGINT), ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, CAST(${p(7)} AS BIGINT), ${p(8)}, ${p(9)}, CAST(${p(10)} AS TIMESTAMPTZ))`;
  };
  await s.exec(
    `INSERT INTO coinlake_meta.quality_result
       (process_id, table_name, check_name, check_type, severity, status, failing_rows, observed, message, checked_at)
     VALUES ${results.map((_, i) => row(i)).join(', ')}`,
    results.flatMap((r) => [
      opts.processId,
      qualifiedName(t),
      r.name,
      r.type,
      r.severity,
      r.passed ? 'pass' : 'fail',
      r.failing,
      JSON.stringify(r.observed, jsonSafe),
      r.message,
      opts.now,
    ]),
  );
  return results;
}

/** Dates as ISO text and bigints as text inside `observed`. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** The failures of a set of results, split by severity into lines for people. */
export function failures(results: CheckResult[]): { errors: string[]; warnings: string[] } {
  const line = (r: CheckResult) => `quality check ${r.name} failed: ${r.message}`;
  return {
    errors: results.filter((r) => !r.passed && r.severity === 'error').map(line),
    warnings: results.filter((r) => !r.passed && r.severity === 'warn').map(line),
  };
}
