// Whether a table exists in the warehouse: the engine's own catalog where the session names one (Session.tableColumns,
// BigQuery's datasets), else information_schema.tables, which DuckDB and PostgreSQL both answer.
import type { Session } from '../core/destination.ts';

/** True when `schema.name` exists. */
export async function tableExists(s: Session, schema: string, name: string): Promise<boolean> {
  if (s.tableColumns) return (await s.tableColumns(schema, name)).length > 0;
  return (await s.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, name])).length > 0;
}
