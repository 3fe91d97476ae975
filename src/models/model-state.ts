// What an incremental model remembers between runs, in `coinlake_meta.model_state`: the parameters its rows were
// built with and when (the row's `_loaded_at` is the run's load time, the watermark of the next incremental run).
// Written in the model's own transaction, so it always describes the rows that committed.
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';

/** `coinlake_meta.model_state`: one row per incremental model. */
export const modelStateTable: TableSpec = {
  schema: 'coinlake_meta',
  name: 'model_state',
  columns: [
    { name: 'model_name', type: 'varchar' },
    /** The model's parameters as JSON text (keys sorted); a run with other parameters rebuilds the model. */
    { name: 'params', type: 'varchar' },
  ],
  primaryKey: ['model_name'],
};

export interface ModelState {
  params: string;
  runId: string;
  loadedAt: Date;
}

/** Parameters as canonical JSON text (sorted keys), the form stored and compared. */
export function paramsText(params: object): string {
  return JSON.stringify(Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** The stored state of a model, or undefined before its first run. */
export async function readModelState(s: Session, model: string): Promise<ModelState | undefined> {
  await s.ensureTable(modelStateTable);
  const [row] = await s.query<{ params: string; _run_id: string; _loaded_at: Date }>(
    `SELECT params, _run_id, _loaded_at FROM coinlake_meta.model_state WHERE model_name = $1`,
    [model],
  );
  return row ? { params: row.params, runId: row._run_id, loadedAt: row._loaded_at } : undefined;
}

/** Replaces the stored state of a model (inside the caller's transaction). */
export async function writeModelState(s: Session, model: string, params: string, runId: string, loadedAt: Date): Promise<void> {
  await s.ensureTable(modelStateTable);
  await s.exec(`DELETE FROM coinlake_meta.model_state WHERE model_name = $1`, [model]);
  await s.exec(`INSERT INTO coinlake_meta.model_state (model_name, params, _run_id, _loaded_at) VALUES ($1, $2, $3, CAST($4 AS TIMESTAMPTZ))`, [
    model,
    params,
    runId,
    loadedAt.toISOString(),
  ]);
}
