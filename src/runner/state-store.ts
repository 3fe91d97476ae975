// Incremental state per (connection, table) in coinlake_meta.ingestion_state, written only with the data.
import type { Session } from '../core/destination.ts';

/** Reads the committed state, or undefined when the job never committed one. */
export async function readState<S>(s: Session, connectionName: string, tableName: string): Promise<S | undefined> {
  const rows = await s.query<{ state: string }>(
    `SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`,
    [connectionName, tableName],
  );
  return rows.length ? (JSON.parse(rows[0].state) as S) : undefined;
}

/** Upserts state; call inside the transaction that commits the data it describes. */
export async function writeState(s: Session, connectionName: string, tableName: string, state: unknown, processId: number): Promise<void> {
  await s.exec(`DELETE FROM coinlake_meta.ingestion_state WHERE connection_name = $1 AND table_name = $2`, [connectionName, tableName]);
  await s.exec(
    `INSERT INTO coinlake_meta.ingestion_state (connection_name, table_name, state, updated_at, process_id) VALUES ($1, $2, $3, $4, $5)`,
    [connectionName, tableName, JSON.stringify(state), new Date(), processId],
  );
}
