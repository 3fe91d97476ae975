// coinlake_meta.backfill_task: one row per chunk task of a distributed backfill, so `coinlake status` and the
// coordinator see what every worker does. `committed` is written in the chunk's data transaction; the other states
// (queued, running, retrying, failed, skipped) on their own, as they happen.
import type { Session } from '../core/destination.ts';
import type { Chunk } from '../runner/backfill-chunks.ts';

export const BACKFILL_TASK_TABLE = 'coinlake_meta.backfill_task';

/** States of a task: waiting in the queue, being loaded, failed and given back, failed for good, loaded, or found loaded by another run. */
export const TASK_STATES = ['queued', 'running', 'retrying', 'failed', 'committed', 'skipped'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Figures of a committed chunk. */
export interface TaskFigures {
  pages: number;
  rowsExtracted: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  inserted: number;
  updated: number;
}

/** Inserts the tasks of a backfill as `queued` (several rows per statement). */
export async function queueTasks(s: Session, processId: number, chunks: Chunk[], at = new Date()): Promise<void> {
  for (let i = 0; i < chunks.length; i += 500) {
    const part = chunks.slice(i, i + 500);
    const values: string[] = [];
    const params: unknown[] = [];
    for (const c of part) {
      const base = params.length;
      values.push(`(${[1, 2, 3, 4, 5].map((n) => s.dialect.param(base + n)).join(', ')}, 'queued', 0)`);
      params.push(processId, c.job, c.window.start, c.window.end, at);
    }
    await s.exec(`INSERT INTO ${BACKFILL_TASK_TABLE} (process_id, job, chunk_start, chunk_end, updated_at, status, attempts) VALUES ${values.join(', ')}`, params);
  }
}

/** Sets a task's state (a task row missing — e.g. removed by hand — is recreated). Never turns a committed task back. */
async function setTask(
  s: Session,
  processId: number,
  c: Chunk,
  state: TaskState,
  fields: { worker: string | null; attempts: number; message?: string; figures?: TaskFigures },
): Promise<void> {
  const f = fields.figures;
  const values = [state, fields.worker, fields.attempts, fields.message ?? null, new Date(), f?.pages ?? null, f?.rowsExtracted ?? null, f?.rowsLoaded ?? null, f?.rowsQuarantined ?? null, f?.inserted ?? null, f?.updated ?? null];
  const changed = await s.exec(
    `UPDATE ${BACKFILL_TASK_TABLE}
        SET status = $4, worker = $5, attempts = $6, message = $7, updated_at = $8, pages = $9, rows_extracted = $10, rows_loaded = $11,
            rows_quarantined = $12, rows_inserted = $13, rows_updated = $14
      WHERE process_id = $1 AND job = $2 AND chunk_start = $3 AND status <> 'committed'`,
    [processId, c.job, c.window.start, ...values],
  );
  if (changed > 0) return;
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 AND job = $2 AND chunk_start = $3`, [processId, c.job, c.window.start]);
  if (Number(n) > 0) return;
  await s.exec(
    `INSERT INTO ${BACKFILL_TASK_TABLE} (process_id, job, chunk_start, chunk_end, status, worker, attempts, message, updated_at, pages, rows_extracted, rows_loaded,
        rows_quarantined, rows_inserted, rows_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [processId, c.job, c.window.start, c.window.end, ...values],
  );
}

/** A worker took the task (delivery number `attempt`). */
export const markTaskRunning = (s: Session, processId: number, c: Chunk, worker: string, attempt: number) =>
  setTask(s, processId, c, 'running', { worker, attempts: attempt });

/** The attempt failed: `retrying` when the queue will deliver it again, `failed` when it will not. */
export const markTaskFailed = (s: Session, processId: number, c: Chunk, worker: string | null, attempt: number, final: boolean, message: string) =>
  setTask(s, processId, c, final ? 'failed' : 'retrying', { worker, attempts: attempt, message });

/** The chunk is loaded; call inside the transaction that commits it. */
export const markTaskCommitted = (s: Session, processId: number, c: Chunk, worker: string, attempt: number, figures: TaskFigures) =>
  setTask(s, processId, c, 'committed', { worker, attempts: attempt, figures });

/** The chunk was found committed by another run (process `by`), so this task loads nothing. */
export const markTaskSkipped = (s: Session, processId: number, c: Chunk, worker: string, attempt: number, by: number) =>
  setTask(s, processId, c, 'skipped', { worker, attempts: attempt, message: `already loaded by process ${by}` });

/** One task as read back. */
export interface TaskRow {
  job: string;
  chunk_start: Date;
  chunk_end: Date;
  status: TaskState;
  worker: string | null;
  attempts: number;
  message: string | null;
}

/** Every task of a backfill, in chunk order. */
export async function backfillTasks(s: Session, processId: number): Promise<TaskRow[]> {
  const rows = await s.query<TaskRow>(
    `SELECT job, chunk_start, chunk_end, status, worker, attempts, message FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 ORDER BY chunk_start, job`,
    [processId],
  );
  return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
}

/** Number of tasks of a backfill per state (every state present, 0 when none). */
export async function taskCounts(s: Session, processId: number): Promise<Record<TaskState, number>> {
  const out = Object.fromEntries(TASK_STATES.map((t) => [t, 0])) as Record<TaskState, number>;
  const rows = await s.query<{ status: TaskState; n: number }>(`SELECT status, count(*) AS n FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 GROUP BY status`, [processId]);
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/** A text that changes whenever any task of the backfill changes state or attempt (how the coordinator sees progress). */
export async function taskProgressMark(s: Session, processId: number): Promise<string> {
  const [r] = await s.query<{ n: number; attempts: number | null; last: Date | null }>(
    `SELECT count(*) AS n, sum(attempts) AS attempts, max(updated_at) AS last FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1`,
    [processId],
  );
  return `${Number(r.n)}|${Number(r.attempts ?? 0)}|${r.last?.getTime() ?? ''}`;
}

/** Per worker: tasks it committed, is running, and whose last attempt failed with it (to retry or for good). */
export interface WorkerTaskCounts {
  worker: string;
  done: number;
  running: number;
  failed: number;
  rows: number;
  lastUpdate: Date;
}

export async function workerCounts(s: Session, processId: number): Promise<WorkerTaskCounts[]> {
  const rows = await s.query<{ worker: string; done: number; running: number; failed: number; rows: number | null; last_update: Date }>(
    `SELECT worker,
            sum(CASE WHEN status = 'committed' THEN 1 ELSE 0 END) AS done,
            sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS running,
            sum(CASE WHEN status IN ('retrying', 'failed') THEN 1 ELSE 0 END) AS failed,
            sum(CASE WHEN status = 'committed' THEN rows_loaded ELSE 0 END) AS rows,
            max(updated_at) AS last_update
       FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 AND worker IS NOT NULL GROUP BY worker ORDER BY worker`,
    [processId],
  );
  return rows.map((r) => ({ worker: r.worker, done: Number(r.done), running: Number(r.running), failed: Number(r.failed), rows: Number(r.rows ?? 0), lastUpdate: r.last_update }));
}

/** Sums over the committed tasks of a backfill. */
export async function committedFigures(s: Session, processId: number): Promise<TaskFigures & { chunks: number }> {
  const [r] = await s.query<Record<string, number | null>>(
    `SELECT count(*) AS chunks, sum(pages) AS pages, sum(rows_extracted) AS extracted, sum(rows_loaded) AS loaded, sum(rows_quarantined) AS quarantined,
            sum(rows_inserted) AS inserted, sum(rows_updated) AS updated
       FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 AND status = 'committed'`,
    [processId],
  );
  const n = (v: number | null | undefined) => Number(v ?? 0);
  return { chunks: n(r.chunks), pages: n(r.pages), rowsExtracted: n(r.extracted), rowsLoaded: n(r.loaded), rowsQuarantined: n(r.quarantined), inserted: n(r.inserted), updated: n(r.updated) };
}

/** Process ids of the backfills that have tasks, among `processIds`. */
export async function distributedRuns(s: Session, processIds: number[]): Promise<Set<number>> {
  if (processIds.length === 0) return new Set();
  const marks = processIds.map((_, i) => s.dialect.param(i + 1)).join(', ');
  const rows = await s.query<{ process_id: number }>(`SELECT DISTINCT process_id FROM ${BACKFILL_TASK_TABLE} WHERE process_id IN (${marks})`, processIds);
  return new Set(rows.map((r) => Number(r.process_id)));
}
