// The in-process engine coinlake reads and writes files with (CSV, Parquet) beside whatever warehouse a run loads:
// one line naming it, as the registry names the warehouses.
import type { Session } from '../core/destination.ts';
import { duckdbDestination } from './duckdb/index.ts';

/**
 * Opens a fresh session of the file engine (its dialect has readCsv and copyToParquet, and it exports Parquet); the
 * caller closes it. In memory by default; given a `file` (a new one, which the caller removes afterwards), its tables
 * live there, compressed, and stay within the engine's memory limit however large they grow.
 */
export function openFileEngine(file = ':memory:'): Promise<Session> {
  return duckdbDestination.open(file);
}
