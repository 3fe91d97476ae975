// The in-process engine coinlake reads and writes files with (CSV, Parquet) beside whatever warehouse a run loads:
// one line naming it, as the registry names the warehouses.
import type { Session } from '../core/destination.ts';
import { duckdbDestination } from './duckdb/index.ts';

/**
 * Opens a fresh in-memory session of the file engine (its dialect has readCsv and copyToParquet, and it exports
 * Parquet); the caller closes it.
 */
export function openFileEngine(): Promise<Session> {
  return duckdbDestination.open(':memory:');
}
