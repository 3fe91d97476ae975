// The runner's row-count audit and after-load step on every warehouse: running mean / variance / sd computed by the
// warehouse, the k-standard-deviation rule, and afterLoad's audit row, failed-quality and warnings. Moved here from the
// destination conformance suite, which exercises the Destination contract only (it imports no runner code).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoadContext, Session, WriteMode } from '../src/core/destination.ts';
import type { QualityCheck } from '../src/core/quality-check.ts';
import type { Row, TableSpec } from '../src/core/table.ts';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { physicalTable } from '../src/load/scd2.ts';
import { applyWriteMode } from '../src/load/write-modes.ts';
import { afterLoad } from '../src/runner/after-load.ts';
import { countRows, recordAudit } from '../src/runner/audit.ts';
import { WAREHOUSES } from './helpers/spine-env.ts';

const SCHEMA = 'coinlake_conformance';

/** Run n loads at 2024-06-01T12:00:0n Z as process n. */
function ctxOf(n: number): LoadContext {
  return { runId: `r${n}`, processId: n, loadedAt: at(n) };
}
function at(n: number): Date {
  return new Date(Date.UTC(2024, 5, 1, 12, 0, n));
}

async function load(s: Session, t: TableSpec, rows: Row[], mode: WriteMode, n: number): Promise<void> {
  const ctx = ctxOf(n);
  await s.transaction(async () => {
    const staging = await s.stage(t, rows, ctx);
    await applyWriteMode(s, t, staging, mode, ctx);
    await s.dropStaging(staging);
  });
}

let pg: TestDatabase | undefined;
beforeAll(async () => {
  pg = await createTestDatabase();
});
afterAll(async () => {
  await pg?.drop();
});

describe.each(WAREHOUSES)('row-count audit and afterLoad on %s', (kind) => {
  let s: Session;

  beforeEach(async () => {
    s = await openWarehouse(kind === 'duckdb' ? ':memory:' : pg!.url);
    await ensureMetaTables(s);
    await s.ensureSchema(SCHEMA);
  });
  afterEach(async () => {
    await s?.close();
  });

  /** Drops the table and forgets its events, audit rows and check results. */
  async function fresh(t: TableSpec, mode: WriteMode = 'merge'): Promise<TableSpec> {
    await s.exec(`DROP TABLE IF EXISTS ${s.dialect.table(t.schema, t.name)}`);
    const name = `${t.schema}.${t.name}`;
    for (const meta of ['change_event', 'workflow_audit_details', 'quality_result']) {
      await s.exec(`DELETE FROM coinlake_meta.${meta} WHERE table_name = $1`, [name]);
    }
    await s.ensureTable(physicalTable(t, mode));
    return t;
  }

  describe('audit statistics', () => {
    /** Mean and sample variance computed here, independently of the warehouse. */
    function stats(xs: number[]): { mean: number; variance: number | null } {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.length < 2 ? null : xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
      return { mean, variance };
    }

    it('running mean / variance / sd equal an independent computation; a delta beyond k sd after 5 runs is flagged', async () => {
      const table = `${SCHEMA}.ce_audit`;
      await s.exec(`DELETE FROM coinlake_meta.workflow_audit_details WHERE table_name = $1`, [table]);
      const deltas = [100, 5, 7, -6, 4, 5, 6, 500, 5];
      let count = 0;
      const flagged: number[] = [];
      for (const [i, delta] of deltas.entries()) {
        const rec = await s.transaction(() => recordAudit(s, 1000 + i, table, count, count + delta, { at: at(i) }));
        count += delta;
        const upTo = stats(deltas.slice(0, i + 1));
        expect(rec.delta).toBe(delta);
        expect(rec.runningAvg).toBeCloseTo(upTo.mean, 9);
        if (upTo.variance === null) {
          expect(rec.runningVariance).toBeNull();
          expect(rec.runningStddev).toBeNull();
        } else {
          expect(rec.runningVariance).toBeCloseTo(upTo.variance, 9);
          expect(rec.runningStddev).toBeCloseTo(Math.sqrt(upTo.variance), 9);
        }
        if (rec.warning) flagged.push(i);
      }
      expect(flagged).toEqual([7]);
      const rows = await s.query<Record<string, number | null>>(
        `SELECT process_id, record_cnt_before, record_cnt_after, record_cnt_delta, delta_running_avg, delta_running_variance, delta_running_stddev
           FROM coinlake_meta.workflow_audit_details WHERE table_name = $1 ORDER BY process_id`,
        [table],
      );
      let before = 0;
      rows.forEach((r, i) => {
        const upTo = stats(deltas.slice(0, i + 1));
        expect([r.process_id, r.record_cnt_before, r.record_cnt_after, r.record_cnt_delta]).toEqual([1000 + i, before, before + deltas[i], deltas[i]]);
        expect(r.delta_running_avg).toBeCloseTo(upTo.mean, 9);
        if (upTo.variance !== null) expect(r.delta_running_stddev).toBeCloseTo(Math.sqrt(upTo.variance), 9);
        before += deltas[i];
      });
      expect(rows).toHaveLength(deltas.length);
    });

    it('nothing is flagged before 5 earlier runs; with sd 0 any different delta is; k is configurable', async () => {
      const table = `${SCHEMA}.ce_audit_k`;
      await s.exec(`DELETE FROM coinlake_meta.workflow_audit_details WHERE table_name = $1`, [table]);
      const warn = async (i: number, delta: number, k?: number) => (await recordAudit(s, 2000 + i, table, 0, delta, { k })).warning;
      for (let i = 0; i < 4; i++) expect(await warn(i, 0)).toBeUndefined();
      expect(await warn(4, 1)).toBeUndefined(); // only 4 earlier runs
      expect(await warn(5, 0)).toBeUndefined(); // 5 earlier runs: mean 0.2, sd 0.447; |0 - 0.2| < 3 sd
      expect(await warn(6, 3, 100)).toBeUndefined(); // k = 100
      expect(await warn(7, 10)).toMatch(/^row-count delta \+10 on coinlake_conformance\.ce_audit_k is 8\.3 standard deviations from the mean 0\.57 of the 7 earlier runs \(sd 1\.13, k = 3\)$/);
      const zero = `${SCHEMA}.ce_audit_zero`;
      await s.exec(`DELETE FROM coinlake_meta.workflow_audit_details WHERE table_name = $1`, [zero]);
      for (let i = 0; i < 5; i++) await recordAudit(s, 3000 + i, zero, 10, 10);
      expect((await recordAudit(s, 3005, zero, 10, 10)).warning).toBeUndefined();
      expect((await recordAudit(s, 3006, zero, 10, 11)).warning).toBe(
        'row-count delta +1 on coinlake_conformance.ce_audit_zero is a change (standard deviation 0) from the mean 0 of the 6 earlier runs (sd 0, k = 3)',
      );
    });
  });

  describe('afterLoad', () => {
    const spec: TableSpec = {
      schema: SCHEMA,
      name: 'qc_ohlcv',
      columns: [
        { name: 'symbol', type: 'varchar' },
        { name: 'time', type: 'timestamptz' },
        { name: 'close', type: 'double' },
        { name: 'volume', type: 'decimal(20,8)' },
      ],
      primaryKey: ['symbol', 'time'],
    };
    const checks: QualityCheck[] = [
      { type: 'not_null', columns: ['symbol', 'close'] },
      { type: 'unique' },
      { type: 'accepted_range', column: 'close', gt: 0 },
    ];
    const minute = (m: number) => new Date(Date.UTC(2024, 5, 1, 11, m));
    const candles = (symbol: string, minutes: number[], close = 1): Row[] => minutes.map((m) => ({ symbol, time: minute(m), close, volume: '5' }));
    const good = [...candles('BTC-USDT', [0, 1, 2, 3, 4]), ...candles('ETH-USDT', [2, 3, 4])];

    it('afterLoad: audit row with the counts, error checks mark the run failed-quality, warn checks are warnings', async () => {
      const t = await fresh({ ...spec, name: 'qc_after_load', checks: [checks[0], { ...checks[2], severity: 'warn' }, checks[1]] }, 'merge');
      const run = (n: number, rows: Row[]) =>
        s.transaction(async () => {
          const countBefore = await countRows(s, t);
          await load(s, t, rows, 'merge', n);
          return afterLoad(s, t, ctxOf(n), { countBefore });
        });
      const first = await run(1, good);
      expect([first.qualityFailed, first.warnings, first.qualityMessage]).toEqual([false, [], undefined]);
      expect([first.audit.before, first.audit.after, first.audit.delta]).toEqual([0, 8, 8]);
      const second = await run(2, [{ symbol: 'BTC-USDT', time: minute(9), close: null, volume: '1' }, { symbol: 'SOL-USDT', time: minute(9), close: -5, volume: '1' }]);
      expect(second.qualityFailed).toBe(true);
      expect(second.qualityMessage).toBe('quality check not_null(symbol,close) failed: 1 row(s) with a NULL (close 1)');
      expect(second.warnings).toEqual(['quality check accepted_range(close > 0) failed: 1 row(s) outside close > 0 (min -5, max 1)']);
      expect([second.audit.before, second.audit.after, second.audit.delta]).toEqual([8, 10, 2]);
      const audit = await s.query(
        `SELECT process_id, record_cnt_before, record_cnt_after, record_cnt_delta FROM coinlake_meta.workflow_audit_details WHERE table_name = $1 ORDER BY process_id`,
        [`${t.schema}.${t.name}`],
      );
      expect(audit).toEqual([
        { process_id: 1, record_cnt_before: 0, record_cnt_after: 8, record_cnt_delta: 8 },
        { process_id: 2, record_cnt_before: 8, record_cnt_after: 10, record_cnt_delta: 2 },
      ]);
    });
  });
});
