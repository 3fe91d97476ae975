// Write-mode conformance cases every destination runs: exact tables and counts after reruns and changed batches.
import { afterEach, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import type { LoadResult, Session, WriteMode } from '../../core/destination.ts';
import { ConfigError, TerminalError } from '../../core/errors.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { ensureMetaTables } from '../../catalog/meta-tables.ts';
import { applyWriteMode } from '../../load/write-modes.ts';

const SCHEMA = 'coinlake_conformance';

function spec(name: string, overrides: Partial<TableSpec> = {}): TableSpec {
  return {
    schema: SCHEMA,
    name,
    columns: [
      { name: 'asset_id', type: 'varchar' },
      { name: 'time', type: 'timestamptz' },
      { name: 'price', type: 'double' },
      { name: 'supply', type: 'decimal(20,8)' },
      { name: 'rank', type: 'integer' },
    ],
    primaryKey: ['asset_id', 'time'],
    partitionBy: 'time',
    ...overrides,
  };
}

const T1 = new Date('2024-01-01T00:00:00Z');

/** A staged source row. */
function src(asset: string, time: Date | string, price: number, supply: string | null, rank: number): Row {
  return { asset_id: asset, time: typeof time === 'string' ? new Date(time) : time, price, supply, rank };
}

/** The loaded row as the session returns it (decimals as exact strings with the column's scale). */
function loaded(r: Row, runId: string): Row {
  const supply = r.supply === null ? null : scale8(String(r.supply));
  return { ...r, supply, _run_id: runId, _loaded_at: loadedAt(runId) };
}

/** '19000000.5' → '19000000.50000000', as a decimal(20,8) column returns it. */
function scale8(text: string): string {
  const [whole, fraction = ''] = text.split('.');
  return `${whole}.${fraction.padEnd(8, '0')}`;
}

/** Each run id loads at its own fixed instant, so lineage is predictable. */
function loadedAt(runId: string): Date {
  return new Date(Date.UTC(2024, 5, 1, 12, 0, Number(runId.replace(/\D/g, '')) || 0));
}

/** Stages rows, applies the mode in one transaction, drops the staging table. */
async function load(s: Session, t: TableSpec, rows: Row[], mode: WriteMode, runId: string): Promise<LoadResult> {
  const ctx = { runId, processId: 1, loadedAt: loadedAt(runId) };
  return s.transaction(async () => {
    const staging = await s.stage(t, rows, ctx);
    const result = await applyWriteMode(s, t, staging, mode, ctx);
    await s.dropStaging(staging);
    return result;
  });
}

async function snapshot(s: Session, t: TableSpec): Promise<Row[]> {
  const d = s.dialect;
  const cols = ['asset_id', 'time', 'price', 'supply', 'rank', '_run_id', '_loaded_at'].map((c) => d.ident(c)).join(', ');
  return s.query(`SELECT ${cols} FROM ${d.table(t.schema, t.name)} ORDER BY ${d.ident('asset_id')}, ${d.ident('time')}, ${d.ident('_run_id')}`);
}

const counts = (inserted: number, updated: number, deleted: number): LoadResult => ({ inserted, updated, deleted });

/** Cases a destination skips: the case's title (`duplicate keys: <mode>` for those three) → the reason, shown with it. */
export type SkippedCases = Record<string, string>;

/**
 * Registers the write-mode cases for a destination. `openSession` opens a fresh session on a warehouse the
 * cases may write to (schema `coinlake_conformance`; each case drops and recreates its own table). Cases named in
 * `skip` are listed as skipped with their reason.
 */
export function writeModeCases(openSession: () => Promise<Session>, options: { skip?: SkippedCases } = {}): void {
  const skip = options.skip ?? {};
  const it = (title: string, fn: () => Promise<void>, key = title) =>
    skip[key] !== undefined ? vitestIt.skip(`${title} — skipped: ${skip[key]}`, fn) : vitestIt(title, fn);
  describe('write modes', () => {
    let s: Session;

    beforeEach(async () => {
      s = await openSession();
      await ensureMetaTables(s); // merge writes change events
      await s.ensureSchema(SCHEMA);
    });
    afterEach(async () => {
      await s?.close();
    });

    async function fresh(t: TableSpec): Promise<TableSpec> {
      await s.exec(`DROP TABLE IF EXISTS ${s.dialect.table(t.schema, t.name)}`);
      await s.ensureTable(t);
      return t;
    }

    const b1 = [
      src('bitcoin', T1, 100, '19000000.5', 1),
      src('ethereum', T1, 10, null, 2),
      src('tether', T1, 1, '1000.12345678', 3),
    ];

    it('append inserts every row of every batch', async () => {
      const t = await fresh(spec('wm_append', { primaryKey: [] }));
      expect(await load(s, t, b1, 'append', 'r1')).toEqual(counts(3, 0, 0));
      expect(await load(s, t, b1, 'append', 'r2')).toEqual(counts(3, 0, 0));
      const b2 = [src('bitcoin', T1, 101, '19000000.5', 1), src('solana', T1, 50, '500', 5)];
      expect(await load(s, t, b2, 'append', 'r3')).toEqual(counts(2, 0, 0));
      expect(await snapshot(s, t)).toEqual([
        loaded(b1[0], 'r1'),
        loaded(b1[0], 'r2'),
        loaded(b2[0], 'r3'),
        loaded(b1[1], 'r1'),
        loaded(b1[1], 'r2'),
        loaded(b2[1], 'r3'),
        loaded(b1[2], 'r1'),
        loaded(b1[2], 'r2'),
      ]);
    });

    it('replace swaps the whole table and a rerun leaves it identical', async () => {
      const t = await fresh(spec('wm_replace'));
      expect(await load(s, t, b1, 'replace', 'r1')).toEqual(counts(3, 0, 0));
      const first = await snapshot(s, t);
      expect(first).toEqual(b1.map((r) => loaded(r, 'r1')));
      expect(await load(s, t, b1, 'replace', 'r1')).toEqual(counts(3, 0, 3));
      expect(await snapshot(s, t)).toEqual(first);
      const b2 = [src('bitcoin', T1, 101, '19000000.5', 1), src('solana', T1, 50, '500', 5)];
      expect(await load(s, t, b2, 'replace', 'r2')).toEqual(counts(2, 0, 3));
      expect(await snapshot(s, t)).toEqual(b2.map((r) => loaded(r, 'r2')));
    });

    it('merge updates changed rows, inserts new keys and leaves unchanged rows and their lineage alone', async () => {
      const t = await fresh(spec('wm_merge'));
      expect(await load(s, t, b1, 'merge', 'r1')).toEqual(counts(3, 0, 0));
      const first = await snapshot(s, t);
      expect(first).toEqual(b1.map((r) => loaded(r, 'r1')));
      expect(await load(s, t, b1, 'merge', 'r2')).toEqual(counts(0, 0, 0));
      expect(await snapshot(s, t)).toEqual(first);
      const b2 = [
        src('bitcoin', T1, 101, '19000000.5', 1), // price changed
        src('ethereum', T1, 10, null, 2), // unchanged (NULL = NULL)
        src('solana', T1, 50, '500', 5), // new key
      ]; // tether absent: merge never deletes
      expect(await load(s, t, b2, 'merge', 'r3')).toEqual(counts(1, 1, 0));
      expect(await snapshot(s, t)).toEqual([
        loaded(b2[0], 'r3'),
        loaded(b1[1], 'r1'),
        loaded(b2[2], 'r3'),
        loaded(b1[2], 'r1'),
      ]);
    });

    it('merge counts a change to or from NULL as an update', async () => {
      const t = await fresh(spec('wm_merge_null'));
      await load(s, t, b1, 'merge', 'r1');
      const b2 = [src('ethereum', T1, 10, '120000000', 2), src('tether', T1, 1, null, 3)];
      expect(await load(s, t, b2, 'merge', 'r2')).toEqual(counts(0, 2, 0));
      expect(await snapshot(s, t)).toEqual([loaded(b1[0], 'r1'), loaded(b2[0], 'r2'), loaded(b2[1], 'r2')]);
    });

    it('delete_insert replaces only the UTC dates present in the batch', async () => {
      const t = await fresh(spec('wm_delete_insert'));
      const day1 = [src('bitcoin', '2024-01-01T00:00:00Z', 100, '1', 1), src('bitcoin', '2024-01-01T23:59:59.999Z', 101, '1', 1)];
      const day2 = [src('bitcoin', '2024-01-02T00:00:00Z', 102, '1', 1), src('ethereum', '2024-01-02T12:00:00Z', 10, null, 2)];
      const day3 = [src('ethereum', '2024-01-03T00:00:00Z', 11, '2', 2)];
      const batch = [...day1, ...day2, ...day3];
      expect(await load(s, t, batch, 'delete_insert', 'r1')).toEqual(counts(5, 0, 0));
      const first = await snapshot(s, t);
      expect(first).toEqual([...day1, day2[0], day2[1], ...day3].map((r) => loaded(r, 'r1')));
      expect(await load(s, t, batch, 'delete_insert', 'r1')).toEqual(counts(5, 0, 5));
      expect(await snapshot(s, t)).toEqual(first);
      const changed = [src('bitcoin', '2024-01-02T00:00:00Z', 202, '1.5', 1)];
      expect(await load(s, t, changed, 'delete_insert', 'r2')).toEqual(counts(1, 0, 2));
      expect(await snapshot(s, t)).toEqual([
        loaded(day1[0], 'r1'),
        loaded(day1[1], 'r1'),
        loaded(changed[0], 'r2'),
        loaded(day3[0], 'r1'),
      ]);
    });

    it('delete_insert treats NULL partition values as one partition, so reruns do not duplicate them', async () => {
      const t = await fresh(spec('wm_delete_insert_null', { primaryKey: ['asset_id'], partitionBy: 'time' }));
      const batch = [{ asset_id: 'bitcoin', time: null, price: 1, supply: null, rank: 1 }];
      expect(await load(s, t, batch, 'delete_insert', 'r1')).toEqual(counts(1, 0, 0));
      expect(await load(s, t, batch, 'delete_insert', 'r1')).toEqual(counts(1, 0, 1));
      expect(await snapshot(s, t)).toEqual([loaded(batch[0], 'r1')]);
    });

    describe('duplicate keys inside one batch keep the last row', () => {
      const dup = [
        src('bitcoin', T1, 1, '1', 1),
        src('bitcoin', T1, 2, '2', 1),
        src('ethereum', T1, 3, '3', 2),
        src('bitcoin', T1, 4, '4', 1),
      ];
      const expected = [loaded(dup[3], 'r1'), loaded(dup[2], 'r1')];
      for (const mode of ['replace', 'merge', 'delete_insert'] as const) {
        it(mode, async () => {
          const t = await fresh(spec(`wm_dup_${mode}`));
          expect(await load(s, t, dup, mode, 'r1')).toEqual(counts(2, 0, 0));
          expect(await snapshot(s, t)).toEqual(expected);
          const again = await load(s, t, dup, mode, 'r1');
          expect(again).toEqual(mode === 'merge' ? counts(0, 0, 0) : counts(2, 0, 2));
          expect(await snapshot(s, t)).toEqual(expected);
        }, `duplicate keys: ${mode}`);
      }

      it('merge updating an existing key from a batch with duplicates', async () => {
        const t = await fresh(spec('wm_dup_merge_update'));
        await load(s, t, b1, 'merge', 'r1');
        expect(await load(s, t, dup, 'merge', 'r2')).toEqual(counts(0, 2, 0));
        expect(await snapshot(s, t)).toEqual([loaded(dup[3], 'r2'), loaded(dup[2], 'r2'), loaded(b1[2], 'r1')]);
      });
    });

    it('a failing transaction leaves the table as it was', async () => {
      const t = await fresh(spec('wm_rollback'));
      await load(s, t, b1, 'merge', 'r1');
      const before = await snapshot(s, t);
      await expect(
        s.transaction(async () => {
          await load(s, t, [src('bitcoin', T1, 999, '1', 1)], 'merge', 'r2');
          throw new TerminalError('boom', { hint: 'thrown on purpose by the conformance case to roll the transaction back' });
        }),
      ).rejects.toThrow('boom');
      expect(await snapshot(s, t)).toEqual(before);
    });

    describe('configuration errors', () => {
      it('merge without a primary key', async () => {
        const t = await fresh(spec('wm_err_merge', { primaryKey: [] }));
        const staging = await s.stage(t, b1, { runId: 'r1', processId: 1, loadedAt: T1 });
        await expect(applyWriteMode(s, t, staging, 'merge', { runId: 'r1', processId: 1, loadedAt: T1 })).rejects.toThrow(ConfigError);
        await s.dropStaging(staging);
      });

      it('merge with a NULL key value', async () => {
        const t = await fresh(spec('wm_err_null_key'));
        const rows = [{ asset_id: null, time: T1, price: 1, supply: null, rank: 1 }];
        await expect(load(s, t, rows, 'merge', 'r1')).rejects.toThrow(/NULL in the primary key \(asset_id, time\)/);
        expect(await snapshot(s, t)).toEqual([]);
      });

      it('delete_insert without a partition column', async () => {
        const t = await fresh(spec('wm_err_partition', { partitionBy: undefined }));
        await expect(load(s, t, b1, 'delete_insert', 'r1')).rejects.toThrow(ConfigError);
        expect(await snapshot(s, t)).toEqual([]);
      });

      it('scd2 without a primary key', async () => {
        const t = await fresh(spec('wm_err_scd2', { primaryKey: [] }));
        await expect(load(s, t, b1, 'scd2', 'r1')).rejects.toThrow(ConfigError);
        expect(await snapshot(s, t)).toEqual([]);
      });
    });
  });
}
