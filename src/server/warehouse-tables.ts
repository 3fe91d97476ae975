// What the warehouse holds right now (tables and their columns in schemas coinlake and coinlake_meta). The
// dashboard's queries take table and column names only from here, never from a request.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Tables (by `schema.table`) with their column names, lower case. */
export class WarehouseTables {
  constructor(private readonly columns: Map<string, Set<string>>) {}

  /** True when `schema.table` exists. */
  has(schema: string, table: string): boolean {
    return this.columns.has(`${schema}.${table}`);
  }

  /** Columns of a table (empty when it does not exist). */
  columnsOf(schema: string, table: string): Set<string> {
    return this.columns.get(`${schema}.${table}`) ?? new Set();
  }

  /** True when the table exists and has every column named. */
  hasColumns(schema: string, table: string, names: string[]): boolean {
    const cols = this.columns.get(`${schema}.${table}`);
    return cols !== undefined && names.every((n) => cols.has(n));
  }

  /** Tables of a schema, sorted. */
  tablesOf(schema: string): string[] {
    return [...this.columns.keys()]
      .filter((k) => k.startsWith(`${schema}.`))
      .map((k) => k.slice(schema.length + 1))
      .sort();
  }
}

/**
 * Reads the tables and columns of the coinlake schemas from information_schema. Names that are not plain
 * identifiers are left out, so whatever a query builds from them quotes safely.
 */
export async function readWarehouseTables(s: Session): Promise<WarehouseTables> {
  const rows = await s.query<{ table_schema: string; table_name: string; column_name: string }>(
    `SELECT table_schema, table_name, column_name FROM information_schema.columns
      WHERE table_catalog = current_database() AND table_schema IN ($1, $2)
      ORDER BY table_schema, table_name, ordinal_position`,
    [DATA_SCHEMA, META_SCHEMA],
  );
  const partitions = await partitionTables(s);
  const columns = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!IDENT.test(r.table_name) || !IDENT.test(r.column_name)) continue;
    const key = `${r.table_schema}.${r.table_name}`;
    if (partitions.has(key)) continue;
    let set = columns.get(key);
    if (!set) columns.set(key, (set = new Set()));
    set.add(r.column_name.toLowerCase());
  }
  return new WarehouseTables(columns);
}

/**
 * Partitions of partitioned tables (`schema.table`): PostgreSQL lists them in information_schema like tables
 * (`ohlcv_1m_p202412`), but their rows belong to the parent. The dialect says how to list them
 * (Dialect.partitionTablesSql); a warehouse without such partitions (DuckDB) has none.
 */
async function partitionTables(s: Session): Promise<Set<string>> {
  if (!s.dialect.partitionTablesSql) return new Set();
  try {
    const rows = await s.query<{ schema_name: string; table_name: string }>(s.dialect.partitionTablesSql(2), [DATA_SCHEMA, META_SCHEMA]);
    return new Set(rows.map((r) => `${r.schema_name}.${r.table_name}`));
  } catch {
    return new Set();
  }
}
