// The embedded DuckDB warehouse plug-in.
export { DuckdbDestination, duckdbDestination, duckdbPath, openDuckdbSession, type DuckdbOptions } from './duckdb-destination.ts';
export { DuckdbSession, DUCKDB_CAPABILITIES } from './duckdb-session.ts';
export { duckdbDialect } from './duckdb-dialect.ts';
