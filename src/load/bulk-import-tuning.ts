// A warehouse's settings for a bulk file import (Session.tuneForBulkImport: DuckDB's memory limit with spilling, no
// insertion order, …), for as long as the import runs.
import type { Session } from '../core/destination.ts';

/**
 * Tunes `s` for a bulk import with memory limit `limit` (e.g. '256MB'); returns the function that undoes it.
 * Nothing where the warehouse has no such settings.
 */
export async function tuneForImport(s: Session, limit: string): Promise<() => Promise<void>> {
  return s.tuneForBulkImport ? s.tuneForBulkImport(limit) : async () => {};
}
