// Change-history and data-quality conformance cases every destination runs: change events of merge (exact JSON text),
// scd2 history, and each quality check passing and failing. Exact rows and counts. (The runner's row-count audit and
// after-load step run on every warehouse in test/run-audit.test.ts: this suite imports no runner code.)
import { afterEach, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import type { LoadContext, LoadResult, Session, WriteMode } from '../../core/destination.ts';
import { ConfigError, TerminalError } from '../../core/errors.ts';
import type { QualityCheck } from '../../core/quality-check.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { ensureMetaTables } from '../../catalog/meta-tables.ts';
import { physicalTable } from '../../load/scd2.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { runChecks } from '../../quality/run-checks.ts';

const SCHEMA = 'coinlake_conformance';

/** Run n loads at 2024-06-01T12:00:0n Z as process n. */
function ctxOf(n: number): LoadContext {
  return { runId: `r${n}`, processId: n, loadedAt: at(n) };
}
function at(n: number): Date {
  return new Date(Date.UTC(2024, 5, 1, 12, 0, n));
}
/** The JSON text of a load time as change events and images write it. */
function iso(n: number): string {
  return `2024-06-01T12:00:${String(n).padStart(2, '0')}.000000Z`;
}

async function load(s: Session, t: TableSpec, rows: Row[], mode: WriteMode, n: number): Promise<LoadResult> {
  const ctx = ctxOf(n);
  return s.transaction(async () => {
    const staging = await s.stage(t, rows, ctx);
    const result = await applyWriteMode(s, t, staging, mode, ctx);
    await s.dropStaging(staging);
    return result;
  });
}

const counts = (inserted: number, updated: number, deleted: number): LoadResult => ({ inserted, updated, deleted });

/** Rows in the table now (every version, for an scd2 table). */
async function countRows(s: Session, t: TableSpec): Promise<number> {
  const [row] = await s.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${s.dialect.table(t.schema, t.name)}`);
  return Number(row.n);
}

/** An event as stored: JSON columns as their exact text. */
interface EventRow {
  process_id: number;
  primary_key: string;
  operation: string;
  before: string | null;
  after: string | null;
  changed_columns: string;
  event_time: Date;
}

/**
 * Registers the change-history and quality cases for a destination. `openSession` opens a session on a warehouse the
 * cases may write to (schema `coinlake_conformance` and the meta tables; each case starts from its own fresh table).
 * Cases named (by title) in `skip` are listed as skipped with their reason.
 */
export function changeCases(openSession: () => Promise<Session>, options: { skip?: Record<string, string> } = {}): void {
  const skip = options.skip ?? {};
  const it = (title: string, fn: () => Promise<void> | void) =>
    skip[title] !== undefined ? vitestIt.skip(`${title} — skipped: ${skip[title]}`, fn) : vitestIt(title, fn);
  describe('change history and data quality', () => {
    let s: Session;

    beforeEach(async () => {
      s = await openSession();
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

    async function events(t: TableSpec, processId?: number): Promise<EventRow[]> {
      return s.query<EventRow>(
        `SELECT process_id, primary_key, operation, "before", "after", changed_columns, event_time FROM coinlake_meta.change_event
          WHERE table_name = $1 ${processId === undefined ? '' : 'AND process_id = $2'} ORDER BY process_id, operation, primary_key`,
        processId === undefined ? [`${t.schema}.${t.name}`] : [`${t.schema}.${t.name}`, processId],
      );
    }

    const ev = (n: number, operation: string, key: string, before: string | null, after: string | null, changed: string): EventRow => ({
      process_id: n,
      primary_key: key,
      operation,
      before,
      after,
      changed_columns: changed,
      event_time: at(n),
    });

    describe('change events of merge', () => {
      const spec: TableSpec = {
        schema: SCHEMA,
        name: 'ce_merge',
        columns: [
          { name: 'asset_id', type: 'varchar' },
          { name: 'price', type: 'double' },
          { name: 'supply', type: 'decimal(20,8)' },
          { name: 'rank', type: 'integer' },
          { name: 'listed', type: 'date' },
          { name: 'seen_at', type: 'timestamptz', volatile: true },
        ],
        primaryKey: ['asset_id'],
        deleteMissing: true,
      };
      const row = (asset_id: string, price: number, supply: string | null, rank: number, listed: string, seen: number): Row => ({
        asset_id,
        price,
        supply,
        rank,
        listed,
        seen_at: at(seen),
      });
      const ALL = '["asset_id","price","supply","rank","listed"]';
      const img = (asset: string, price: string, supply: string, rank: number, listed: string, seen: number) =>
        `{"asset_id":"${asset}","price":${price},"supply":${supply},"rank":${rank},"listed":"${listed}","seen_at":"${iso(seen)}"}`;
      const b1 = [row('bitcoin', 100, '19000000.5', 1, '2009-01-03', 1), row('ethereum', 10.25, null, 2, '2015-07-30', 1), row('tether', 1, '1000', 3, '2014-10-06', 1)];
      const btc1 = img('bitcoin', '100', '"19000000.50000000"', 1, '2009-01-03', 1);
      const eth1 = img('ethereum', '10.25', 'null', 2, '2015-07-30', 1);
      const usdt1 = img('tether', '1', '"1000.00000000"', 3, '2014-10-06', 1);

      it('insert, update and delete events are exact; unchanged rows and volatile-only changes write none', async () => {
        const t = await fresh(spec);
        expect(await load(s, t, b1, 'merge', 1)).toEqual(counts(3, 0, 0));
        expect(await events(t)).toEqual([
          ev(1, 'insert', '{"asset_id":"bitcoin"}', null, btc1, ALL),
          ev(1, 'insert', '{"asset_id":"ethereum"}', null, eth1, ALL),
          ev(1, 'insert', '{"asset_id":"tether"}', null, usdt1, ALL),
        ]);

        // The same data seen again later: only the volatile column differs, so nothing changes and nothing is written.
        const again = b1.map((r) => ({ ...r, seen_at: at(2) }));
        expect(await load(s, t, again, 'merge', 2)).toEqual(counts(0, 0, 0));
        expect(await events(t, 2)).toEqual([]);

        const b3 = [
          row('bitcoin', 101.5, '19000000.5', 1, '2009-01-03', 3), // price changed
          row('ethereum', 10.25, '120000000', 2, '2015-07-30', 3), // supply NULL → value
          row('solana', 150, '500', 5, '2020-03-16', 3), // new key
        ]; // tether absent: deleted (deleteMissing)
        expect(await load(s, t, b3, 'merge', 3)).toEqual(counts(1, 2, 1));
        expect(await events(t, 3)).toEqual([
          ev(3, 'delete', '{"asset_id":"tether"}', usdt1, null, ALL),
          ev(3, 'insert', '{"asset_id":"solana"}', null, img('solana', '150', '"500.00000000"', 5, '2020-03-16', 3), ALL),
          ev(3, 'update', '{"asset_id":"bitcoin"}', btc1, img('bitcoin', '101.5', '"19000000.50000000"', 1, '2009-01-03', 3), '["price"]'),
          ev(3, 'update', '{"asset_id":"ethereum"}', eth1, img('ethereum', '10.25', '"120000000.00000000"', 2, '2015-07-30', 3), '["supply"]'),
        ]);
        for (const e of await events(t)) {
          for (const text of [e.primary_key, e.before, e.after, e.changed_columns]) if (text !== null) expect(() => JSON.parse(text)).not.toThrow();
        }

        // Rerunning the same batch changes nothing and writes nothing.
        expect(await load(s, t, b3, 'merge', 4)).toEqual(counts(0, 0, 0));
        expect(await events(t, 4)).toEqual([]);
        expect(await s.query(`SELECT asset_id, price, _run_id FROM ${s.dialect.table(t.schema, t.name)} ORDER BY asset_id`)).toEqual([
          { asset_id: 'bitcoin', price: 101.5, _run_id: 'r3' },
          { asset_id: 'ethereum', price: 10.25, _run_id: 'r3' },
          { asset_id: 'solana', price: 150, _run_id: 'r3' },
        ]);
      });

      it('without deleteMissing merge never deletes and writes no delete event; an empty batch deletes nothing', async () => {
        const t = await fresh({ ...spec, name: 'ce_merge_keep', deleteMissing: false });
        await load(s, t, b1, 'merge', 1);
        expect(await load(s, t, [b1[0]], 'merge', 2)).toEqual(counts(0, 0, 0));
        expect(await events(t, 2)).toEqual([]);
        const snapshot = await fresh({ ...spec, name: 'ce_merge_empty' });
        await load(s, snapshot, b1, 'merge', 1);
        expect(await load(s, snapshot, [], 'merge', 2)).toEqual(counts(0, 0, 0));
        expect(await countRows(s, snapshot)).toBe(3);
        expect(await events(snapshot, 2)).toEqual([]);
      });

      it('changeEvents changes writes the updates and deletes but no insert; none writes nothing; the rows are the same', async () => {
        const b3 = [row('bitcoin', 101.5, '19000000.5', 1, '2009-01-03', 3), row('ethereum', 10.25, null, 2, '2015-07-30', 3), row('solana', 150, '500', 5, '2020-03-16', 3)];
        const rows = (t: TableSpec) => s.query(`SELECT asset_id, price, _run_id FROM ${s.dialect.table(t.schema, t.name)} ORDER BY asset_id`);
        const changes = await fresh({ ...spec, name: 'ce_merge_changes', changeEvents: 'changes' });
        expect(await load(s, changes, b1, 'merge', 1)).toEqual(counts(3, 0, 0));
        expect(await events(changes)).toEqual([]);
        expect(await load(s, changes, b3, 'merge', 3)).toEqual(counts(1, 1, 1));
        expect(await events(changes)).toEqual([
          ev(3, 'delete', '{"asset_id":"tether"}', usdt1, null, ALL),
          ev(3, 'update', '{"asset_id":"bitcoin"}', btc1, img('bitcoin', '101.5', '"19000000.50000000"', 1, '2009-01-03', 3), '["price"]'),
        ]);
        const none = await fresh({ ...spec, name: 'ce_merge_none', changeEvents: 'none' });
        await load(s, none, b1, 'merge', 1);
        expect(await load(s, none, b3, 'merge', 3)).toEqual(counts(1, 1, 1));
        expect(await events(none)).toEqual([]);
        expect(await rows(none)).toEqual(await rows(changes));
      });

      it('a batch with repeated keys writes one event per key, from the last row', async () => {
        const t = await fresh({ ...spec, name: 'ce_merge_dup' });
        const dup = [row('bitcoin', 1, null, 1, '2009-01-03', 1), row('bitcoin', 2, null, 1, '2009-01-03', 1)];
        expect(await load(s, t, dup, 'merge', 1)).toEqual(counts(1, 0, 0));
        expect(await events(t)).toEqual([ev(1, 'insert', '{"asset_id":"bitcoin"}', null, img('bitcoin', '2', 'null', 1, '2009-01-03', 1), ALL)]);
      });

      it('events roll back with the data', async () => {
        const t = await fresh({ ...spec, name: 'ce_merge_rollback' });
        await expect(
          s.transaction(async () => {
            await load(s, t, b1, 'merge', 1);
            throw new TerminalError('boom', { hint: 'thrown on purpose by the conformance case to roll the transaction back' });
          }),
        ).rejects.toThrow('boom');
        expect(await events(t)).toEqual([]);
        expect(await countRows(s, t)).toBe(0);
      });

      it('composite keys: the key JSON holds every key column in key order', async () => {
        const t = await fresh({
          schema: SCHEMA,
          name: 'ce_merge_composite',
          columns: [
            { name: 'time', type: 'timestamptz' },
            { name: 'asset_id', type: 'varchar' },
            { name: 'close', type: 'double' },
          ],
          primaryKey: ['asset_id', 'time'],
        });
        await load(s, t, [{ time: at(0), asset_id: 'bitcoin', close: 1 }], 'merge', 1);
        await load(s, t, [{ time: at(0), asset_id: 'bitcoin', close: 2 }], 'merge', 2);
        expect(await events(t)).toEqual([
          ev(1, 'insert', `{"asset_id":"bitcoin","time":"${iso(0)}"}`, null, `{"time":"${iso(0)}","asset_id":"bitcoin","close":1}`, '["asset_id","time","close"]'),
          ev(2, 'update', `{"asset_id":"bitcoin","time":"${iso(0)}"}`, `{"time":"${iso(0)}","asset_id":"bitcoin","close":1}`, `{"time":"${iso(0)}","asset_id":"bitcoin","close":2}`, '["close"]'),
        ]);
      });
    });

    describe('images are the same JSON text on every warehouse', () => {
      const spec: TableSpec = {
        schema: SCHEMA,
        name: 'ce_types',
        columns: [
          { name: 'id', type: 'bigint' },
          { name: 'label', type: 'varchar' },
          { name: 'price', type: 'double' },
          { name: 'amount', type: 'decimal(38,18)' },
          { name: 'flag', type: 'boolean' },
          { name: 'n', type: 'integer' },
          { name: 'day', type: 'date' },
          { name: 'ts', type: 'timestamptz' },
        ],
        primaryKey: ['id'],
      };
      /** [value given to stage(), the JSON text expected in the image]. */
      const doubles: [number, string][] = [
        [100, '100'],
        [0.1, '0.1'],
        [10.25, '10.25'],
        [96146.87, '96146.87'],
        [1 / 3, '0.3333333333333333'],
        [0.0001, '0.0001'],
        [0.00001, '1e-05'],
        [1.5e-7, '1.5e-07'],
        [5e-324, '5e-324'],
        [999999999999999, '999999999999999'],
        [123456780000000, '123456780000000'],
        [1e15, '1e+15'],
        [1000000000000000.5, '1.0000000000000005e+15'],
        [-9999999999999998, '-9.999999999999998e+15'],
        [1e16, '1e+16'],
        [123456789012345680, '1.2345678901234568e+17'],
        [1e21, '1e+21'],
        [Number.MAX_VALUE, '1.7976931348623157e+308'],
        [-1.5e300, '-1.5e+300'],
        [Number.NaN, '"NaN"'],
        [Number.POSITIVE_INFINITY, '"Infinity"'],
        [Number.NEGATIVE_INFINITY, '"-Infinity"'],
      ];
      const strings = [
        'Zürich 東京 Україна 😀',
        'quote " backslash \\ slash /',
        'tab\tnewline\nreturn\rbackspace\bformfeed\f',
        'controls \u0001 \u000b \u000e \u001a \u001f del \u007f',
        'literal \\u001A stays',
        '',
      ];
      const others: [Row, string][] = [
        [{ amount: '12345678901234567890.123456789012345678' }, '"amount":"12345678901234567890.123456789012345678"'],
        [{ amount: '-0.000000000000000001' }, '"amount":"-0.000000000000000001"'],
        [{ amount: '0' }, '"amount":"0.000000000000000000"'],
        [{ flag: true, n: 2147483647 }, '"flag":true,"n":2147483647'],
        [{ flag: false, n: -2147483648 }, '"flag":false,"n":-2147483648'],
        [{ day: '2024-02-29', ts: new Date('2024-01-02T03:04:05.678Z') }, '"day":"2024-02-29","ts":"2024-01-02T03:04:05.678000Z"'],
        [{ day: '1970-01-01', ts: '1999-12-31T23:59:59.999Z' }, '"day":"1970-01-01","ts":"1999-12-31T23:59:59.999000Z"'],
      ];

      it('every type renders to its canonical JSON text', async () => {
        const t = await fresh(spec);
        const nulls = { label: null, price: null, amount: null, flag: null, n: null, day: null, ts: null };
        const allNull = '"label":null,"price":null,"amount":null,"flag":null,"n":null,"day":null,"ts":null';
        const rows: Row[] = [];
        const expected: Record<string, string> = {};
        doubles.forEach(([v, text], i) => {
          rows.push({ id: 100 + i, ...nulls, price: v });
          expected[100 + i] = `{"id":${100 + i},${allNull.replace('"price":null', `"price":${text}`)}}`;
        });
        strings.forEach((v, i) => {
          rows.push({ id: 200 + i, ...nulls, label: v });
          expected[200 + i] = `{"id":${200 + i},${allNull.replace('"label":null', `"label":${JSON.stringify(v)}`)}}`;
        });
        others.forEach(([values, text], i) => {
          rows.push({ id: 300 + i, ...nulls, ...values });
          let json = allNull;
          for (const pair of text.split(/,(?=")/)) json = json.replace(`${pair.slice(0, pair.indexOf(':'))}:null`, pair);
          expected[300 + i] = `{"id":${300 + i},${json}}`;
        });
        expected[1] = `{"id":1,${allNull}}`;
        rows.push({ id: 1, ...nulls });
        await load(s, t, rows, 'merge', 1);
        const got = await s.query<{ primary_key: string; after: string }>(
          `SELECT primary_key, "after" FROM coinlake_meta.change_event WHERE table_name = $1`,
          [`${t.schema}.${t.name}`],
        );
        const byId = Object.fromEntries(got.map((e) => [JSON.parse(e.primary_key).id, e.after]));
        expect(byId).toEqual(expected);
        // Valid JSON that parses back to the staged values.
        for (const [i, v] of strings.entries()) expect(JSON.parse(byId[200 + i]).label).toBe(v);
        for (const [i, [v]] of doubles.entries()) {
          const parsed = JSON.parse(byId[100 + i]).price;
          expect(typeof parsed === 'string' ? Number(parsed) : parsed).toBe(v);
        }
      });

      it('json columns are embedded as JSON values (equal after parsing; PostgreSQL spaces and orders JSONB keys)', async () => {
        const t = await fresh({ schema: SCHEMA, name: 'ce_json', columns: [{ name: 'id', type: 'integer' }, { name: 'meta', type: 'json' }], primaryKey: ['id'] });
        const meta = { b: [1, 'two', null, true], a: { 'z"q': 'Zürich\n' }, n: 1.5 };
        await load(s, t, [{ id: 1, meta }, { id: 2, meta: null }], 'merge', 1);
        const got = await s.query<{ after: string }>(`SELECT "after" FROM coinlake_meta.change_event WHERE table_name = $1 ORDER BY primary_key`, [`${t.schema}.${t.name}`]);
        expect(got.map((e) => JSON.parse(e.after))).toEqual([{ id: 1, meta }, { id: 2, meta: null }]);
      });
    });

    describe('scd2', () => {
      const spec: TableSpec = {
        schema: SCHEMA,
        name: 'ce_scd2',
        columns: [
          { name: 'asset_id', type: 'varchar' },
          { name: 'price', type: 'double' },
          { name: 'rank', type: 'integer' },
          { name: 'seen_at', type: 'timestamptz', volatile: true },
        ],
        primaryKey: ['asset_id'],
        scd2: { closeMissing: true },
      };
      const row = (asset_id: string, price: number, rank: number, seen: number): Row => ({ asset_id, price, rank, seen_at: at(seen) });
      const snap1 = [row('bitcoin', 100, 1, 1), row('ethereum', 10, 2, 1), row('tether', 1, 3, 1)];
      const snap2 = [row('bitcoin', 101, 1, 2), row('ethereum', 10, 2, 2), row('solana', 150, 4, 2)]; // tether gone
      const snap3 = [row('bitcoin', 101, 1, 3), row('ethereum', 11, 2, 3), row('tether', 1, 3, 3)]; // solana gone, tether back

      async function history(t: TableSpec): Promise<Row[]> {
        const cols = ['asset_id', 'price', 'rank', 'seen_at', 'valid_from', 'valid_to', 'is_current', '_run_id'];
        return s.query(`SELECT ${cols.map((c) => s.dialect.ident(c)).join(', ')} FROM ${s.dialect.table(t.schema, t.name)} ORDER BY asset_id, valid_from`);
      }
      const version = (r: Row, from: number, to: number | null, run: number) => ({
        ...r,
        valid_from: at(from),
        valid_to: to === null ? null : at(to),
        is_current: to === null,
        _run_id: `r${run}`,
      });

      it('history is exact after three snapshots (closeMissing); an unchanged row makes no version; reruns change nothing', async () => {
        const t = await fresh(spec, 'scd2');
        expect(await load(s, t, snap1, 'scd2', 1)).toEqual(counts(3, 0, 0));
        expect(await load(s, t, snap2, 'scd2', 2)).toEqual(counts(1, 1, 1));
        expect(await load(s, t, snap3, 'scd2', 3)).toEqual(counts(1, 1, 1));
        const expected = [
          version(snap1[0], 1, 2, 1),
          version(snap2[0], 2, null, 2),
          version(snap1[1], 1, 3, 1),
          version(snap3[1], 3, null, 3),
          version(snap2[2], 2, 3, 2),
          version(snap1[2], 1, 2, 1),
          version(snap3[2], 3, null, 3),
        ];
        expect(await history(t)).toEqual(expected);
        expect(await load(s, t, snap3, 'scd2', 4)).toEqual(counts(0, 0, 0));
        expect(await history(t)).toEqual(expected);

        const img = (r: Row, seen: number) => `{"asset_id":"${r.asset_id}","price":${r.price},"rank":${r.rank},"seen_at":"${iso(seen)}"}`;
        const ALL = '["asset_id","price","rank"]';
        const key = (id: string) => `{"asset_id":"${id}"}`;
        expect(await events(t)).toEqual([
          ev(1, 'insert', key('bitcoin'), null, img(snap1[0], 1), ALL),
          ev(1, 'insert', key('ethereum'), null, img(snap1[1], 1), ALL),
          ev(1, 'insert', key('tether'), null, img(snap1[2], 1), ALL),
          ev(2, 'delete', key('tether'), img(snap1[2], 1), null, ALL),
          ev(2, 'insert', key('solana'), null, img(snap2[2], 2), ALL),
          ev(2, 'update', key('bitcoin'), img(snap1[0], 1), img(snap2[0], 2), '["price"]'),
          ev(3, 'delete', key('solana'), img(snap2[2], 2), null, ALL),
          ev(3, 'insert', key('tether'), null, img(snap3[2], 3), ALL),
          ev(3, 'update', key('ethereum'), img(snap1[1], 1), img(snap3[1], 3), '["price"]'),
        ]);
      });

      it('without closeMissing, keys absent from a batch stay current', async () => {
        const t = await fresh({ ...spec, name: 'ce_scd2_keep', scd2: {} }, 'scd2');
        await load(s, t, snap1, 'scd2', 1);
        expect(await load(s, t, snap2, 'scd2', 2)).toEqual(counts(1, 1, 0));
        expect(await history(t)).toEqual([
          version(snap1[0], 1, 2, 1),
          version(snap2[0], 2, null, 2),
          version(snap1[1], 1, null, 1),
          version(snap2[2], 2, null, 2),
          version(snap1[2], 1, null, 1),
        ]);
      });

      it('scd2 adds its version columns itself when the table was made from the logical spec', async () => {
        const t = await fresh({ ...spec, name: 'ce_scd2_logical' }); // ensureTable(t), not physicalTable
        expect(await load(s, t, snap1, 'scd2', 1)).toEqual(counts(3, 0, 0));
        expect(await load(s, t, snap2, 'scd2', 2)).toEqual(counts(1, 1, 1));
        expect(await countRows(s, t)).toBe(5);
      });

      it('physicalTable adds valid_from, valid_to, is_current and keys versions by valid_from; refuses a clashing column', () => {
        const p = physicalTable(spec, 'scd2');
        expect(p.columns.map((c) => c.name)).toEqual(['asset_id', 'price', 'rank', 'seen_at', 'valid_from', 'valid_to', 'is_current']);
        expect(p.primaryKey).toEqual(['asset_id', 'valid_from']);
        expect(physicalTable(p, 'scd2')).toBe(p);
        expect(physicalTable(spec, 'merge')).toBe(spec);
        expect(() => physicalTable({ ...spec, columns: [...spec.columns, { name: 'is_current', type: 'boolean' }] }, 'scd2')).toThrow(ConfigError);
      });
    });

    describe('quality checks', () => {
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
        { type: 'accepted_range', column: 'volume', gte: 0, lte: 1000, severity: 'warn' },
        { type: 'freshness', column: 'time', max_age: '2h' },
        { type: 'candle_gaps', column: 'time', interval: '1m', partition_by: ['symbol'] },
      ];
      const minute = (m: number) => new Date(Date.UTC(2024, 5, 1, 11, m));
      const candles = (symbol: string, minutes: number[], close = 1): Row[] => minutes.map((m) => ({ symbol, time: minute(m), close, volume: '5' }));
      const good = [...candles('BTC-USDT', [0, 1, 2, 3, 4]), ...candles('ETH-USDT', [2, 3, 4])];
      const now = new Date(Date.UTC(2024, 5, 1, 12, 0)); // 56 minutes after the last candle

      it('each check passes on good data and fails on bad data, with exact figures; results are recorded', async () => {
        const t = await fresh({ ...spec, checks }, 'append');
        await load(s, t, good, 'append', 1);
        const pass = await runChecks(s, t, { processId: 1, now });
        expect(pass.map((r) => [r.name, r.passed, r.failing])).toEqual([
          ['not_null(symbol,close)', true, 0],
          ['unique(symbol,time)', true, 0],
          ['accepted_range(close > 0)', true, 0],
          ['accepted_range(volume >= 0 and volume <= 1000)', true, 0],
          ['freshness(time within 2h)', true, null],
          ['candle_gaps(time every 1m)', true, 0],
        ]);

        const bad: Row[] = [
          { symbol: 'BTC-USDT', time: minute(4), close: 2, volume: '5' }, // duplicate key
          { symbol: 'BTC-USDT', time: minute(8), close: -1, volume: '5000' }, // 3 missing minutes; close ≤ 0; volume > 1000
          { symbol: 'ETH-USDT', time: minute(6), close: null, volume: '-1' }, // 1 missing minute; NULL close; volume < 0
          { symbol: null, time: minute(0), close: 1, volume: '5' }, // NULL symbol
        ];
        await load(s, t, bad, 'append', 2);
        const later = new Date(Date.UTC(2024, 5, 1, 14, 0)); // 2h52m after the last candle
        const fail = await runChecks(s, t, { processId: 2, now: later });
        expect(fail.map((r) => [r.name, r.passed, r.failing, r.message])).toEqual([
          ['not_null(symbol,close)', false, 2, '2 row(s) with a NULL (symbol 1, close 1)'],
          ['unique(symbol,time)', false, 1, '1 value(s) of symbol, time occur more than once (2 rows)'],
          ['accepted_range(close > 0)', false, 1, '1 row(s) outside close > 0 (min -1, max 2)'],
          ['accepted_range(volume >= 0 and volume <= 1000)', false, 2, '2 row(s) outside volume >= 0 and volume <= 1000 (min -1.00000000, max 5000.00000000)'],
          ['freshness(time within 2h)', false, null, 'latest time 2024-06-01T11:08:00.000Z is 2.9h old (more than 2h)'],
          ['candle_gaps(time every 1m)', false, 2, '2 gap(s), 4 missing 1m candle(s)'],
        ]);
        expect(fail[5].observed.first).toEqual([
          { symbol: 'BTC-USDT', gap_from: minute(4), gap_to: minute(8) },
          { symbol: 'ETH-USDT', gap_from: minute(4), gap_to: minute(6) },
        ]);
        expect(fail[1].observed.examples).toEqual([{ symbol: 'BTC-USDT', time: minute(4), n: 2 }]);

        const recorded = await s.query(
          `SELECT process_id, check_name, check_type, severity, status, failing_rows, checked_at FROM coinlake_meta.quality_result
            WHERE table_name = $1 ORDER BY process_id, check_name`,
          [`${t.schema}.${t.name}`],
        );
        const rowOf = (p: number, name: string, type: string, status: string, failing: number | null, severity = 'error') => ({
          process_id: p,
          check_name: name,
          check_type: type,
          severity,
          status,
          failing_rows: failing,
          checked_at: p === 1 ? now : later,
        });
        expect(recorded).toEqual([
          rowOf(1, 'accepted_range(close > 0)', 'accepted_range', 'pass', 0),
          rowOf(1, 'accepted_range(volume >= 0 and volume <= 1000)', 'accepted_range', 'pass', 0, 'warn'),
          rowOf(1, 'candle_gaps(time every 1m)', 'candle_gaps', 'pass', 0),
          rowOf(1, 'freshness(time within 2h)', 'freshness', 'pass', null),
          rowOf(1, 'not_null(symbol,close)', 'not_null', 'pass', 0),
          rowOf(1, 'unique(symbol,time)', 'unique', 'pass', 0),
          rowOf(2, 'accepted_range(close > 0)', 'accepted_range', 'fail', 1),
          rowOf(2, 'accepted_range(volume >= 0 and volume <= 1000)', 'accepted_range', 'fail', 2, 'warn'),
          rowOf(2, 'candle_gaps(time every 1m)', 'candle_gaps', 'fail', 2),
          rowOf(2, 'freshness(time within 2h)', 'freshness', 'fail', null),
          rowOf(2, 'not_null(symbol,close)', 'not_null', 'fail', 2),
          rowOf(2, 'unique(symbol,time)', 'unique', 'fail', 1),
        ]);
      });

      it('freshness fails on an empty table; an unknown column is a configuration error before any SQL', async () => {
        const t = await fresh({ ...spec, name: 'qc_empty' }, 'append');
        const [r] = await runChecks(s, t, { processId: null, now, checks: [{ type: 'freshness', column: 'time', max_age: '1d' }] });
        expect([r.passed, r.message]).toEqual([false, 'no time at all (the table is empty)']);
        await expect(runChecks(s, t, { processId: null, now, checks: [{ type: 'not_null', columns: ['nope'] }] })).rejects.toThrow(ConfigError);
      });

      it('on an scd2 table the checks look at current versions only', async () => {
        const t = await fresh({ ...spec, name: 'qc_scd2' }, 'scd2');
        await load(s, t, good, 'scd2', 1);
        await load(s, t, good.map((r) => ({ ...r, close: 2 })), 'scd2', 2);
        expect(await countRows(s, t)).toBe(16);
        const [unique, gaps] = await runChecks(s, t, {
          processId: null,
          now,
          checks: [{ type: 'unique' }, { type: 'candle_gaps', column: 'time', interval: '1m', partition_by: ['symbol'] }],
        });
        expect([unique.passed, gaps.passed]).toEqual([true, true]);
      });
    });
  });
}
