// The in-process file engine (an in-memory DuckDB) used to write Parquet for warehouses that cannot export it themselves.
import type { Session } from '../core/destination.ts';
import { openFileEngine } from '../destinations/file-engine.ts';

/** Opens an in-memory file-engine session for the duration of fn. */
export async function withParquetWriter<T>(fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openFileEngine();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
