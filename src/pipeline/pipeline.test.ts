// The engine on its own, on DuckDB and PostgreSQL: units extracted on its p-queue within `concurrency` and the
// committer's back-pressure, committed in groups once each; a failing unit fails the run row with the hooks' figures
// and leaves the groups committed before it.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WAREHOUSES, spineEnv, type SpineEnv } from '../../test/helpers/spine-env.ts';
import { TerminalError } from '../core/errors.ts';
import type { TableSpec } from '../core/table.ts';
import { RUN_COMPLETE } from '../runner/run-history.ts';
import { runPipeline, type PipelineHooks } from './pipeline.ts';
import type { ExtractedBatch } from './run-steps.ts';

const TABLE: TableSpec = { schema: 'coinlake', name: 'pipeline_units', columns: [{ name: 'id', type: 'bigint' }], primaryKey: ['id'] };

let env: SpineEnv;
afterEach(async () => env?.close());

/** The batch of unit n: one row. */
function batchOf(n: number): ExtractedBatch {
  return { rows: [{ id: n }], records: 1, pages: 0, lakePaths: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set(), missingFields: new Set() };
}

async function ids(): Promise<number[]> {
  const rows = await env.session.query<{ id: number }>(`SELECT id FROM coinlake.pipeline_units ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

async function runRow(processId: number) {
  const [r] = await env.session.query<{ execution_status: number; rows_extracted: number; rows_loaded: number; error_message: string | null }>(
    `SELECT execution_status, rows_extracted, rows_loaded, error_message FROM coinlake_meta.workflow_action_history WHERE process_id = $1`,
    [processId],
  );
  return { status: Number(r.execution_status), extracted: Number(r.rows_extracted), loaded: Number(r.rows_loaded), error: r.error_message };
}

/** Hooks over units 1..n that load one row each and count what the engine did. */
function countingHooks(opts: { extractMs: number; commitMs: number; failAt?: number }) {
  const seen = { running: 0, maxRunning: 0, waiting: 0, maxWaiting: 0, groups: [] as number[][], processId: 0 };
  const hooks: PipelineHooks<number, number> = {
    plan: (scope) => {
      seen.processId = scope.processId;
      return Array.from({ length: 20 }, (_, i) => i + 1);
    },
    extract: async (n) => {
      seen.maxRunning = Math.max(seen.maxRunning, ++seen.running);
      try {
        await sleep(opts.extractMs);
        if (n === opts.failAt) throw new TerminalError(`unit ${n}: the source broke`);
        return batchOf(n);
      } finally {
        seen.running--;
      }
    },
    extracted: () => {
      seen.maxWaiting = Math.max(seen.maxWaiting, ++seen.waiting);
    },
    target: (group) => {
      seen.waiting -= group.length;
      return { table: TABLE, writeMode: 'append', lockKey: 'test/pipeline_units', afterLoad: false };
    },
    inTransaction: async () => {
      await sleep(opts.commitMs);
    },
    committed: ({ group }) => {
      seen.groups.push(group.map((g) => g.unit));
    },
    complete: async () => {
      const loaded = seen.groups.flat().length;
      return { result: loaded, outcome: { status: RUN_COMPLETE, rowsExtracted: loaded, rowsLoaded: loaded, rowsQuarantined: 0, lakePaths: [] } };
    },
    failed: (err) => {
      const loaded = seen.groups.flat().length;
      return { figures: { rowsExtracted: loaded, rowsLoaded: loaded, rowsQuarantined: 0, lakePaths: [] }, error: new TerminalError(`pipeline test failed: ${(err as Error).message}`) };
    },
  };
  return { hooks, seen };
}

describe.each(WAREHOUSES)('on %s', (kind) => {
  it('extracts at most `concurrency` units at once, none started while 4 × concurrency wait for a slow committer, and commits each once in groups', async () => {
    env = await spineEnv(kind);
    const { hooks, seen } = countingHooks({ extractMs: 5, commitMs: 40 });
    const loaded = await runPipeline({
      session: env.session,
      lake: env.lake,
      run: { open: { connectionName: 'TEST', tableName: 'PIPELINE_UNITS' } },
      hooks,
      concurrency: 2,
      group: { maxRows: 5, maxBatches: 1000 },
    });
    expect(loaded).toBe(20);
    expect(await ids()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen.maxRunning).toBe(2);
    // A unit starts only while fewer than 4 × 2 batches wait: with the 2 in flight, at most 8 + 2 − 1 (without the
    // back-pressure the 20 units would pile up).
    expect(seen.maxWaiting).toBeLessThanOrEqual(9);
    expect(seen.groups.every((g) => g.length >= 1 && g.length <= 5)).toBe(true);
    expect(seen.groups.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await runRow(seen.processId)).toEqual({ status: 1, extracted: 20, loaded: 20, error: null });
  });

  it('a unit that fails: the run row gets -1 with the hooks figures and message, the units committed before it stay', async () => {
    env = await spineEnv(kind);
    const { hooks, seen } = countingHooks({ extractMs: 1, commitMs: 1, failAt: 4 });
    const run = runPipeline({
      session: env.session,
      lake: env.lake,
      run: { open: { connectionName: 'TEST', tableName: 'PIPELINE_UNITS' } },
      hooks,
      // The next unit is extracted once the previous one committed: units 1–3 commit, unit 4 fails, 5–20 never start.
      lookahead: 0,
    });
    await expect(run).rejects.toThrow('pipeline test failed: unit 4: the source broke');
    expect(await ids()).toEqual([1, 2, 3]);
    expect(seen.groups).toEqual([[1], [2], [3]]);
    expect(await runRow(seen.processId)).toEqual({ status: -1, extracted: 3, loaded: 3, error: 'unit 4: the source broke' });
  });
});
