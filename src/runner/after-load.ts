// What a run does after its write mode, inside the same transaction: the row-count audit and the table's quality
// checks. One call for the runner; nothing here throws for bad data — failures become warnings or a quality status.
import type { LoadContext, Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';
import { failures, runChecks, type CheckResult } from '../quality/run-checks.ts';
import { countRows, recordTableAudit, type AuditRecord } from './audit.ts';

/** What the runner needs from before the load. */
export interface AfterLoadOptions {
  /** countRows(session, table) taken before the write mode ran (in the same transaction). */
  countBefore: number;
}

/** What the audit and the checks found. */
export interface AfterLoadResult {
  audit: AuditRecord;
  checks: CheckResult[];
  /** For the run log and the run row's details: an unusual row-count delta, failed `warn` checks. */
  warnings: string[];
  /** An `error`-severity check failed: close the run with RUN_FAILED_QUALITY (the data still commits). */
  qualityFailed: boolean;
  /** The failed error-severity checks in one line, for the run row's error_message; undefined when none failed. */
  qualityMessage?: string;
}

/**
 * Records the run's audit row (counts before/after, running delta statistics; k from `t.audit`) and runs and records
 * the table's quality checks against `ctx.loadedAt`. Call inside the data transaction, after applyWriteMode, with the
 * logical table spec (not physicalTable). Throws only when a check cannot run (e.g. names an unknown column).
 */
export async function afterLoad(s: Session, t: TableSpec, ctx: LoadContext, opts: AfterLoadOptions): Promise<AfterLoadResult> {
  const after = await countRows(s, t);
  const audit = await recordTableAudit(s, ctx.processId, t, opts.countBefore, after, ctx.loadedAt);
  const checks = await runChecks(s, t, { processId: ctx.processId, now: ctx.loadedAt });
  const { errors, warnings } = failures(checks);
  return {
    audit,
    checks,
    warnings: [...(audit.warning ? [audit.warning] : []), ...warnings],
    qualityFailed: errors.length > 0,
    qualityMessage: errors.length > 0 ? errors.join('; ') : undefined,
  };
}
