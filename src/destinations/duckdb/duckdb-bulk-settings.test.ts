// The bulk-import settings a DuckDB session applies for import cdd, and their undo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/destination.ts';
import { duckdbDestination } from './index.ts';

const SETTINGS = `SELECT current_setting('memory_limit') AS mem, current_setting('preserve_insertion_order') AS pio,
  current_setting('partitioned_write_flush_threshold') AS flush, current_setting('allocator_bulk_deallocation_flush_threshold') AS dealloc,
  current_setting('disabled_compression_methods') AS disabled`;

describe('DuckdbSession.tuneForBulkImport', () => {
  let s: Session;
  beforeAll(async () => {
    s = await duckdbDestination.open(':memory:');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('sets the memory limit, no insertion order, 65,536-row flushes, 32 MB deallocation, no FSST; undo restores every one', async () => {
    const [before] = await s.query(SETTINGS);
    const undo = await s.tuneForBulkImport!('256MB');
    expect(await s.query(SETTINGS)).toEqual([
      { mem: '244.1 MiB', pio: false, flush: 65536, dealloc: '30.5 MiB', disabled: 'FSST,DICT_FSST' },
    ]);
    await undo();
    // The memory limit comes back as its text was read ('18.8 GiB' is set again, which DuckDB may report as 18.7 GiB).
    const probe = await duckdbDestination.open(':memory:');
    await probe.exec(`SET memory_limit = '${String(before.mem)}'`);
    const [{ mem }] = await probe.query<{ mem: string }>(`SELECT current_setting('memory_limit') AS mem`);
    await probe.close();
    expect(await s.query(SETTINGS)).toEqual([{ ...before, mem }]);
  });
});
