// DuckDB's settings for a bulk import (Session.tuneForBulkImport): set for the import, undone afterwards.
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../../core/destination.ts';
import { sqlString } from './duckdb-file-sql.ts';

/**
 * DuckDB settings for a bulk import, undone afterwards: a memory limit with a temp directory to spill to; no
 * insertion order (parallel reads and writes; nothing depends on line order, see mergeAppended's preferDescending);
 * partitioned Parquet writes flushed every 65,536 rows (the writer's buffers are outside the memory limit: this
 * keeps a 5M-line import about 110 MB smaller at the same speed); freed memory handed back to the system once 32 MB
 * of it piles up (default 512 MB: measured on a 5M-line read into the table, peak RSS 377–436 MB → 348–366 MB at the
 * same CPU time); no FSST string compression tried — the candle tables' strings (exchange, symbol, run id) take
 * dictionary compression, and trying FSST on every row group is 9% of writing 5M candles (3.95 → 3.58 s CPU, the
 * same 85 MiB on disk).
 */
export async function duckdbTuneForBulkImport(s: Pick<Session, 'exec' | 'query'>, limit: string): Promise<() => Promise<void>> {
  const [before] = await s.query<{ mem: string; tmp: string; pio: boolean; flush: number; dealloc: string; disabled: string }>(
    `SELECT current_setting('memory_limit') AS mem, current_setting('temp_directory') AS tmp, current_setting('preserve_insertion_order') AS pio,
            current_setting('partitioned_write_flush_threshold') AS flush, current_setting('allocator_bulk_deallocation_flush_threshold') AS dealloc,
            current_setting('disabled_compression_methods') AS disabled`,
  );
  const disabled = new Set(before.disabled.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean));
  await s.exec(`SET memory_limit = ${sqlString(limit)}`);
  await s.exec(`SET preserve_insertion_order = false`);
  await s.exec(`SET partitioned_write_flush_threshold = 65536`);
  await s.exec(`SET allocator_bulk_deallocation_flush_threshold = '32MB'`);
  await s.exec(`SET disabled_compression_methods = ${sqlString([...new Set([...disabled, 'FSST', 'DICT_FSST'])].join(','))}`);
  let tmpChanged = false;
  try {
    await s.exec(`SET temp_directory = ${sqlString(path.join(os.tmpdir(), `coinlake-duckdb-spill-${process.pid}`))}`);
    tmpChanged = true;
  } catch {
    // The temp directory cannot change once used; the engine keeps its own.
  }
  return async () => {
    await s.exec(`SET memory_limit = ${sqlString(before.mem)}`).catch(() => undefined);
    await s.exec(`SET preserve_insertion_order = ${before.pio ? 'true' : 'false'}`).catch(() => undefined);
    await s.exec(`SET partitioned_write_flush_threshold = ${Number(before.flush)}`).catch(() => undefined);
    await s.exec(`SET allocator_bulk_deallocation_flush_threshold = ${sqlString(before.dealloc)}`).catch(() => undefined);
    await s.exec(`SET disabled_compression_methods = ${sqlString(before.disabled)}`).catch(() => undefined);
    if (tmpChanged && before.tmp) await s.exec(`SET temp_directory = ${sqlString(before.tmp)}`).catch(() => undefined);
  };
}
