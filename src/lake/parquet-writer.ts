// An in-memory DuckDB used to write Parquet for warehouses that cannot export it themselves.
import type { Session } from '../core/destination.ts';
import { duckdbDestination } from '../destinations/duckdb/index.ts';

/** Opens an in-memory DuckDB session for the duration of fn. */
export async function withParquetWriter<T>(fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await duckdbDestination.open(':memory:');
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
