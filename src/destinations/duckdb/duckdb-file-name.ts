// The catalog name DuckDB gives a warehouse file a user opens directly (DuckDB CLI, Python, DBeaver), and the table
// references that work there. Pure string functions: nothing here loads the DuckDB driver.
import { basename } from 'node:path';

/**
 * The catalog DuckDB names a file opened directly: its base name up to the first dot (`./warehouse.duckdb` →
 * `warehouse`, `my.data.duckdb` → `my`). Undefined for `:memory:`.
 */
export function duckdbCatalogName(path: string): string | undefined {
  if (path === '' || path === ':memory:') return undefined;
  return basename(path).split('.')[0];
}

/** Among `schemas`, the one a file opened directly would be ambiguous with (names compare case-insensitively, as DuckDB's do). */
export function collidingSchema(path: string, schemas: readonly string[]): string | undefined {
  const catalog = duckdbCatalogName(path)?.toLowerCase();
  return catalog === undefined ? undefined : schemas.find((s) => s.toLowerCase() === catalog);
}

/**
 * How a user who opens the file directly names `schema.table`: `schema.table`, or `"catalog"."schema".table` when
 * the file's catalog has the schema's name (there `schema.table` is "Ambiguous reference to catalog or schema").
 */
export function duckdbTableReference(path: string, schema: string, table: string): string {
  const catalog = duckdbCatalogName(path);
  if (catalog === undefined || catalog.toLowerCase() !== schema.toLowerCase()) return `${schema}.${table}`;
  return `"${catalog.replace(/"/g, '""')}"."${schema}".${table}`;
}
