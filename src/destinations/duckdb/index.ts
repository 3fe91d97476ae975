// The embedded DuckDB warehouse plug-in.
export { DuckdbDestination, duckdbDestination, duckdbFileHeld, duckdbPath, openDuckdbSession, type DuckdbOptions } from './duckdb-destination.ts';
export { DuckdbSession, DUCKDB_CAPABILITIES } from './duckdb-session.ts';
export { duckdbDialect } from './duckdb-dialect.ts';
export { collidingSchema, duckdbCatalogName, duckdbTableReference } from './duckdb-file-name.ts';
