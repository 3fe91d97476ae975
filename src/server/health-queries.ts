// Pipeline health for the page: recent runs (workflow_action_history), freshness of every data table, and the
// latest result of every quality check (quality_result). Parameterised SQL; names only from the warehouse's catalog.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';
import { iso, num } from './query-parts.ts';
import type { WarehouseTables } from './warehouse-tables.ts';

/** A run's status code as a word. */
export const RUN_STATUS: Record<number, string> = { 0: 'running', 1: 'ok', [-1]: 'failed', [-2]: 'failed-quality' };

/** One run as the page lists it. */
export interface RunItem {
  processId: number;
  runId: string;
  job: string;
  status: string;
  statusCode: number;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  rowsExtracted: number | null;
  rowsLoaded: number | null;
  rowsQuarantined: number | null;
  inserted: number | null;
  updated: number | null;
  deleted: number | null;
  error: string | null;
  logPath: string | null;
}

function loadCounts(details: unknown): { inserted: number | null; updated: number | null; deleted: number | null } {
  try {
    const load = (JSON.parse(String(details)) as { load?: Record<string, unknown> }).load ?? {};
    return { inserted: num(load.inserted), updated: num(load.updated), deleted: num(load.deleted) };
  } catch {
    return { inserted: null, updated: null, deleted: null };
  }
}

/** The newest runs (newest first), with status, rows, duration and error. */
export async function recentRunItems(s: Session, t: WarehouseTables, limit: number): Promise<RunItem[]> {
  if (!t.has(META_SCHEMA, 'workflow_action_history')) return [];
  const details = t.columnsOf(META_SCHEMA, 'workflow_action_history').has('details') ? 'details' : 'NULL AS details';
  const rows = await s.query<Record<string, unknown>>(
    `SELECT process_id, run_id, connection_name, table_name, execution_status, execution_start_datetime, execution_end_datetime,
            rows_extracted, rows_loaded, rows_quarantined, error_message, log_path, ${details}
       FROM coinlake_meta.workflow_action_history ORDER BY process_id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => {
    const start = r.execution_start_datetime as Date | null;
    const end = r.execution_end_datetime as Date | null;
    const code = Number(r.execution_status);
    return {
      processId: Number(r.process_id),
      runId: String(r.run_id),
      job: `${r.connection_name ?? ''}/${r.table_name ?? ''}`,
      status: RUN_STATUS[code] ?? String(code),
      statusCode: code,
      startedAt: iso(start),
      endedAt: iso(end),
      durationSeconds: start && end ? (end.getTime() - start.getTime()) / 1000 : null,
      rowsExtracted: num(r.rows_extracted),
      rowsLoaded: num(r.rows_loaded),
      rowsQuarantined: num(r.rows_quarantined),
      ...loadCounts(r.details),
      error: (r.error_message as string | null) ?? null,
      logPath: (r.log_path as string | null) ?? null,
    };
  });
}

/** Columns that say how recent a table's data is, in order of preference. */
const DATA_TIME_COLUMNS = ['snapshot_time', 'ts', 'time', 'processing_timestamp', 'event_time'];

/** Freshness of one data table. */
export interface FreshnessItem {
  table: string;
  rows: number;
  lastLoadedAt: string | null;
  ageSeconds: number | null;
  lastRunId: string | null;
  timeColumn: string | null;
  latest: string | null;
}

/** Per data table: rows, when it was last loaded (and by which run), and its newest data time. */
export async function freshness(s: Session, t: WarehouseTables, now = new Date()): Promise<FreshnessItem[]> {
  const out: FreshnessItem[] = [];
  for (const name of t.tablesOf(DATA_SCHEMA)) {
    const cols = t.columnsOf(DATA_SCHEMA, name);
    if (!cols.has('_loaded_at')) continue;
    const table = s.dialect.table(DATA_SCHEMA, name);
    const timeColumn = DATA_TIME_COLUMNS.find((c) => cols.has(c)) ?? null;
    const latest = timeColumn ? `max(${s.dialect.ident(timeColumn)})` : 'NULL';
    const [r] = await s.query<{ n: unknown; loaded: Date | null; latest: Date | null }>(
      `SELECT count(*) AS n, max(_loaded_at) AS loaded, ${latest} AS latest FROM ${table}`,
    );
    let lastRunId: string | null = null;
    if (r.loaded && cols.has('_run_id')) {
      const [run] = await s.query<{ id: string }>(`SELECT _run_id AS id FROM ${table} WHERE _loaded_at = $1 LIMIT 1`, [r.loaded]);
      lastRunId = run?.id ?? null;
    }
    out.push({
      table: `${DATA_SCHEMA}.${name}`,
      rows: Number(r.n),
      lastLoadedAt: iso(r.loaded),
      ageSeconds: r.loaded ? Math.max(0, Math.round((now.getTime() - r.loaded.getTime()) / 1000)) : null,
      lastRunId,
      timeColumn,
      latest: iso(r.latest),
    });
  }
  return out;
}

/** The latest result of one quality check. */
export interface QualityItem {
  table: string;
  check: string;
  type: string;
  severity: string;
  status: string;
  failingRows: number | null;
  message: string | null;
  checkedAt: string | null;
  processId: number | null;
}

/** The latest result of every quality check (`coinlake_meta.quality_result`); undefined when the table is absent. */
export async function latestQuality(s: Session, t: WarehouseTables): Promise<QualityItem[] | undefined> {
  if (!t.has(META_SCHEMA, 'quality_result')) return undefined;
  const rows = await s.query<Record<string, unknown>>(
    `SELECT q.table_name, q.check_name, q.check_type, q.severity, q.status, q.failing_rows, q.message, q.checked_at, q.process_id
       FROM coinlake_meta.quality_result q
       JOIN (SELECT table_name, check_name, max(checked_at) AS at FROM coinlake_meta.quality_result GROUP BY table_name, check_name) l
         ON q.table_name = l.table_name AND q.check_name = l.check_name AND q.checked_at = l.at
      ORDER BY q.table_name, q.check_name`,
  );
  return rows.map((r) => ({
    table: String(r.table_name),
    check: String(r.check_name),
    type: String(r.check_type),
    severity: String(r.severity),
    status: String(r.status),
    failingRows: num(r.failing_rows),
    message: (r.message as string | null) ?? null,
    checkedAt: iso(r.checked_at),
    processId: num(r.process_id),
  }));
}
