// Rows of coinlake_meta.workflow_action_history: opened with status 0, closed with 1, -1 or -2.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Session } from '../core/destination.ts';
import { META_SCHEMA, PROCESS_ID_SEQ } from '../catalog/meta-tables.ts';

export const RUN_IN_PROGRESS = 0;
export const RUN_COMPLETE = 1;
export const RUN_FAILED = -1;
/** Committed, but an `error`-severity quality check failed: the data stays, the status says so (and the CLI exits 1). */
export const RUN_FAILED_QUALITY = -2;

/** Identity of a run. */
export interface RunIds {
  processId: number;
  runId: string;
  startedAt: Date;
}

/** A sortable, unique run id: `YYYYMMDDTHHMMSSZ-<hex>`. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Inserts the in-progress row (committed on its own, so a crash leaves a visible trace). */
export async function openRun(
  s: Session,
  info: { connectionName: string; tableName: string; windowStart?: Date; windowEnd?: Date; logPath?: string; runId?: string },
): Promise<RunIds> {
  const [{ id }] = await s.query<{ id: number }>(`SELECT ${s.dialect.nextId(META_SCHEMA, PROCESS_ID_SEQ)} AS id`);
  const startedAt = new Date();
  const runId = info.runId ?? newRunId(startedAt);
  await s.exec(
    `INSERT INTO coinlake_meta.workflow_action_history
      (process_id, run_id, connection_name, table_name, executed_by, execution_start_datetime, execution_status, window_start, window_end, log_path)
     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)`,
    [Number(id), runId, info.connectionName, info.tableName, `${os.userInfo().username}@${os.hostname()}`, startedAt, info.windowStart ?? null, info.windowEnd ?? null, info.logPath ?? null],
  );
  return { processId: Number(id), runId, startedAt };
}

/** Final figures of a run. */
export interface RunOutcome {
  status: typeof RUN_COMPLETE | typeof RUN_FAILED | typeof RUN_FAILED_QUALITY;
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  lakePaths: string[];
  errorMessage?: string;
  details?: unknown;
}

/** Closes a run row; call inside the data transaction for success, on its own after a rollback for failure. */
export async function closeRun(s: Session, processId: number, o: RunOutcome): Promise<void> {
  await s.exec(
    `UPDATE coinlake_meta.workflow_action_history
        SET execution_status = $2, execution_end_datetime = $3, rows_extracted = $4, rows_loaded = $5,
            rows_quarantined = $6, lake_paths = $7, error_message = $8, details = $9
      WHERE process_id = $1`,
    [processId, o.status, new Date(), o.rowsExtracted, o.rowsLoaded, o.rowsQuarantined, JSON.stringify(o.lakePaths), o.errorMessage ?? null, o.details === undefined ? null : JSON.stringify(o.details)],
  );
}

/** A run row as read back. */
export interface RunRow {
  process_id: number;
  run_id: string;
  connection_name: string;
  table_name: string;
  execution_status: number;
  execution_start_datetime: Date;
  execution_end_datetime: Date | null;
  rows_extracted: number | null;
  rows_loaded: number | null;
  rows_quarantined: number | null;
  lake_paths: string | null;
  log_path: string | null;
  error_message: string | null;
  details: string | null;
}

/** The most recent runs, newest first. */
export async function recentRuns(s: Session, limit = 20): Promise<RunRow[]> {
  return s.query<RunRow>(
    `SELECT * FROM coinlake_meta.workflow_action_history ORDER BY process_id DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
  );
}
