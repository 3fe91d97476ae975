// The warehouse typing path (DuckDB reads the landed JSON pages) against the JavaScript path (normalizeRecords +
// stage()), on the same pages: the same staged rows in the same order, the same quarantine entries, the same drift
// and the same strict failures — and the plain values really do take the warehouse path.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadContext, Session } from '../core/destination.ts';
import type { JsonRecordsLayout, Page } from '../core/source.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { openWarehouse } from '../destinations/registry.ts';
import { normalizeRecords, type NormalizeOptions } from './normalizer.ts';
import { StagedNormalizer } from './staged-normalizer.ts';

const table: TableSpec = {
  schema: 'main',
  name: 'every_type',
  primaryKey: ['id'],
  columns: [
    { name: 'id', type: 'varchar' },
    { name: 'price', type: 'double' },
    { name: 'volume', type: 'decimal(12,4)' },
    { name: 'count', type: 'bigint' },
    { name: 'rank', type: 'integer' },
    { name: 'active', type: 'boolean' },
    { name: 'updated', type: 'timestamptz' },
    { name: 'listed', type: 'date' },
    { name: 'label', type: 'varchar' },
    { name: 'feed', type: 'varchar', derived: true },
    { name: 'snapshot', source: 'timestamp', type: 'timestamptz' },
  ],
};
const derive = (row: Row) => {
  row.feed = 'replay';
};
const LAYOUT: JsonRecordsLayout = { recordsKey: 'data', envelopeFields: { timestamp: 'timestamp' }, derived: { feed: 'replay' } };
const ctx: LoadContext = { runId: 'run-1', processId: 1, loadedAt: new Date('2026-01-02T03:04:05.678Z') };

/** A record every column of which takes the warehouse path. */
const plain = (id: string): Record<string, unknown> => ({
  id,
  price: '103.0791174900832914',
  volume: '12.5',
  count: '42',
  rank: '7',
  active: true,
  updated: '2024-01-02T03:04:05.678Z',
  listed: '2024-02-29',
  label: 'Zürich 東京 😀',
});

let dir: string;
let session: Session;
let fileNo = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-staged-'));
  session = await openWarehouse(':memory:');
});
afterAll(async () => {
  await session?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A page as the CoinCap source makes it: raw JSON text, its records with the envelope timestamp, minus `skipped`. */
async function landedPage(raw: string, skipped: number[] = []): Promise<{ page: Page; file: string }> {
  const body = JSON.parse(raw) as { data: unknown[]; timestamp?: number };
  const records = body.data
    .map((r) => (typeof r === 'object' && r !== null && !Array.isArray(r) ? { ...r, timestamp: body.timestamp ?? null } : r))
    .filter((_, i) => !skipped.includes(i)) as Record<string, unknown>[];
  const file = path.join(dir, `page-${++fileNo}.json.gz`);
  await writeFile(file, gzipSync(raw));
  return { page: { raw: Buffer.from(raw), records, origin: `http://replay/page-${fileNo}`, json: { ...LAYOUT, skipped } }, file };
}

const pageOf = (records: unknown[], timestamp: number | null = 1704164645678) => JSON.stringify({ data: records, timestamp });

/** Staged rows in ordinal order, without the ordinal (quarantined non-objects shift it on the JavaScript path). */
async function stagedRows(staging: string): Promise<Row[]> {
  const rows = await session.query(`SELECT * FROM ${staging} ORDER BY _ord`);
  await session.dropStaging(staging);
  return rows.map(({ _ord, ...r }) => r);
}

/** Both paths over the same pages. */
async function bothPaths(pages: { page: Page; file: string }[], opts: Omit<NormalizeOptions, 'origin'> = {}, groupSize = 2) {
  const js = { rows: [] as Row[], quarantined: [] as unknown[], unknown: new Set<string>(), missing: new Set<string>() };
  for (const { page } of pages) {
    const n = normalizeRecords(table, page.records, { ...opts, origin: page.origin });
    n.rows.forEach(derive);
    js.rows.push(...n.rows);
    js.quarantined.push(...n.quarantined);
    n.unknownFields.forEach((f) => js.unknown.add(f));
    n.missingFields.forEach((f) => js.missing.add(f));
  }
  const jsRows = js.rows.length ? await stagedRows(await session.stage(table, js.rows, ctx)) : [];
  const staging = await session.jsonStaging!(table);
  const staged = new StagedNormalizer(staging!, table, { ...opts, derive, groupSize });
  for (const { page, file } of pages) await staged.add(page, file);
  const batch = await staged.finish();
  const nativeRows = await stagedRows(await staged.complete(ctx));
  return {
    js: { ...js, rows: jsRows },
    native: { rows: nativeRows, quarantined: batch.quarantined, unknown: batch.unknownFields, missing: batch.missingFields, rowCount: staging!.rowCount },
    typedHere: staged.recordsTypedHere,
  };
}

describe('typing JSON pages in DuckDB', () => {
  it('plain values take the warehouse path and stage exactly what the JavaScript path stages', async () => {
    const numbers = { ...plain('n1'), price: 96146.87, count: 42, rank: -7, updated: 1704164645678, volume: '-0.0001' };
    const epochs = [
      { ...plain('s1'), updated: 1704164645 },
      { ...plain('u1'), updated: 1704164645678901 },
      { ...plain('z1'), updated: null, listed: null, price: null, volume: null, active: false, label: '' },
      { ...plain('f1'), active: 'false', price: '-0', count: '-12', rank: '2147483647', volume: '+3.25' },
    ];
    const pages = [
      await landedPage(pageOf([plain('a1'), plain('a2'), numbers])),
      await landedPage(pageOf(epochs, null)),
      await landedPage(pageOf([plain('b1')])),
    ];
    const { js, native, typedHere } = await bothPaths(pages);
    expect(typedHere).toBe(0);
    expect(native.rows).toEqual(js.rows);
    expect(native.rows).toHaveLength(8);
    expect(native.rowCount).toBe(8);
    expect(native.rows[2]).toEqual({
      id: 'n1', price: 96146.87, volume: '-0.0001', count: 42, rank: -7, active: true, updated: new Date(1704164645678),
      listed: '2024-02-29', label: 'Zürich 東京 😀', feed: 'replay', snapshot: new Date(1704164645678), _run_id: 'run-1', _loaded_at: ctx.loadedAt,
    });
    expect(native.rows[3]).toMatchObject({ id: 's1', updated: new Date(1704164645000), snapshot: null });
    expect(native.rows[4]).toMatchObject({ id: 'u1', updated: new Date(1704164645678) });
    expect(native.rows[6]).toMatchObject({ id: 'f1', active: false, price: 0, count: -12, rank: 2147483647, volume: '3.2500' });
    // `timestamp`, the envelope's field, is read by a column (snapshot): nothing is unknown.
    expect([...native.unknown]).toEqual([]);
    expect(native.unknown).toEqual(js.unknown);
    expect(native.quarantined).toEqual([]);
  });

  it('every other value is deferred to JavaScript: same rows, same quarantine entries in the same order, same drift', async () => {
    const odd: Record<string, unknown>[] = [
      { ...plain('q1'), price: 'n/a' },
      { ...plain('q2'), price: ' 5' },
      { ...plain('q3'), price: '1e400' },
      { ...plain('q4'), price: 0, count: 9007199254740993 },
      { ...plain('q5'), price: '+5', volume: '123456789.12345' },
      { ...plain('q6'), volume: '1.23456', count: '12.0', rank: '2147483648' },
      { ...plain('q7'), rank: -2147483648, active: 'yes' },
      { ...plain('q8'), active: 'TRUE', updated: '2024-02-30T00:00:00Z' },
      { ...plain('q9'), updated: '2024-01-02 03:04:05', listed: '2024-01-02T00:00:00Z' },
      { ...plain('q10'), updated: '2024-01-02T03:04:05.123456Z', listed: '2024-02-30' },
      { ...plain('q11'), updated: '0000-00-00 00:00:00', listed: '0000-00-00' },
      { ...plain('q12'), updated: '1704164645', label: 'quote " and \\ backslash' },
      { ...plain('q13'), label: 123 },
      { ...plain('q14'), label: { nested: [1, 'two'] } },
      { ...plain('q15'), updated: '0000-01-01T00:00:00Z', volume: 1.5 },
      { ...plain('q16'), extra: 'unknown field', also: 1 },
    ];
    const missing = { ...plain('m1') } as Record<string, unknown>;
    delete missing.rank;
    delete missing.label;
    const pages = [
      await landedPage(pageOf([plain('p1'), ...odd.slice(0, 8), plain('p2')])),
      await landedPage(pageOf([...odd.slice(8), missing, plain('p3')])),
      // A repeated key: JavaScript keeps the last value.
      await landedPage(`{"data":[{"id":"r1","id":"r2","price":"1.5","volume":"1","count":"1","rank":"1","active":true,"updated":null,"listed":null,"label":"x"}],"timestamp":5}`),
    ];
    const { js, native, typedHere } = await bothPaths(pages);
    expect(typedHere).toBe(odd.length + 2);
    expect(native.rows).toEqual(js.rows);
    expect(native.rows.map((r) => r.id)).toEqual(['p1', ...odd.slice(0, 8).map((r) => r.id), 'p2', ...odd.slice(8).map((r) => r.id), 'm1', 'p3', 'r2']);
    expect(native.quarantined).toEqual(js.quarantined);
    expect(native.quarantined.map((q) => `${(q.record as { id: string }).id} ${q.field}: ${q.reason}`)).toEqual([
      'q1 price: "n/a" is not a number',
      'q3 price: "1e400" is not a finite number',
      'q4 count: 9007199254740992 is beyond the exact integer range',
      'q5 volume: 123456789.12345 does not fit decimal(12,4)',
      'q6 rank: 2147483648 does not fit a 32-bit integer',
      'q7 rank: -2147483648 does not fit a 32-bit integer',
      'q7 active: "yes" is not a boolean',
      'q8 active: "TRUE" is not a boolean',
      'q8 updated: "2024-02-30T00:00:00Z" is not a time',
      'q10 listed: "2024-02-30" is not a date (YYYY-MM-DD)',
      'q15 updated: "0000-01-01T00:00:00Z" is not a time between the years 0001 and 9999',
    ]);
    expect(new Set(native.unknown)).toEqual(new Set(['extra', 'also']));
    expect(native.unknown).toEqual(js.unknown);
    expect([...native.missing].sort()).toEqual(['label', 'rank']);
    expect(native.missing).toEqual(js.missing);
  });

  it('records that are not objects send their whole group to JavaScript, with the same outcome', async () => {
    const pages = [
      await landedPage(pageOf([plain('x1'), null, 5, [1, 2], 'text', plain('x2')])),
      await landedPage(pageOf([plain('x3')])),
      await landedPage(pageOf([plain('x4')])),
    ];
    const { js, native, typedHere } = await bothPaths(pages);
    // Group 1 (pages 1 and 2) could not be read as objects; group 2 took the warehouse path.
    expect(typedHere).toBe(7);
    expect(native.rows).toEqual(js.rows);
    expect(native.rows.map((r) => r.id)).toEqual(['x1', 'x2', 'x3', 'x4']);
    expect(native.quarantined).toEqual(js.quarantined);
    expect(native.quarantined.map((q) => q.reason)).toEqual(Array(4).fill('record is not an object'));
  });

  it('elements the stream skipped are left out, and derived values come from the layout', async () => {
    const raw = pageOf([plain('k0'), plain('k1'), plain('k2'), { ...plain('k3'), price: 'bad' }, plain('k4')]);
    const pages = [await landedPage(raw, [0, 2]), await landedPage(pageOf([plain('k5')]), [])];
    const { js, native, typedHere } = await bothPaths(pages, {}, 5);
    expect(typedHere).toBe(1);
    expect(native.rows.map((r) => [r.id, r.feed])).toEqual([['k1', 'replay'], ['k3', 'replay'], ['k4', 'replay'], ['k5', 'replay']]);
    expect(native.rows).toEqual(js.rows);
    expect(native.quarantined).toEqual(js.quarantined);
  });

  it('strict casts and on_missing: fail stop with the message of the JavaScript path', async () => {
    const missing = { ...plain('m2') } as Record<string, unknown>;
    delete missing.count;
    const bad = [await landedPage(pageOf([plain('s1')])), await landedPage(pageOf([plain('s2'), { ...plain('s3'), rank: 'seven' }, missing]))];
    const failure = async (opts: Omit<NormalizeOptions, 'origin'>) => {
      let jsError: unknown;
      try {
        for (const { page } of bad) normalizeRecords(table, page.records, { ...opts, origin: page.origin });
      } catch (err) {
        jsError = err;
      }
      const staged = new StagedNormalizer((await session.jsonStaging!(table))!, table, { ...opts, derive });
      const nativeError = await (async () => {
        for (const { page, file } of bad) await staged.add(page, file);
        await staged.finish();
      })().catch((err: unknown) => err);
      await staged.discard();
      return [String(jsError), String(nativeError)];
    };
    const [jsStrict, nativeStrict] = await failure({ onInvalid: 'strict' });
    expect(nativeStrict).toBe(jsStrict);
    expect(nativeStrict).toBe(`TerminalError: invalid value "seven" in field "rank" of every_type (http://replay/page-${fileNo}): "seven" is not an integer`);
    const [jsMissing, nativeMissing] = await failure({ onMissing: 'fail' });
    expect(nativeMissing).toBe(jsMissing);
    expect(nativeMissing).toBe(`TerminalError: field "count" is missing from a record of every_type (http://replay/page-${fileNo})`);
  });

  it('random values of every type: both paths agree (fast-check)', async () => {
    const value = fc.oneof(
      fc.constantFrom(null, '', 'n/a', ' 1', '1e400', '-0', '0', 0, true, false, 'true', '1', '0000-00-00', '2024-02-30'),
      fc.double({ noNaN: true }).map((n) => (Number.isFinite(n) ? n : 1)),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.integer({ min: -3_000_000_000, max: 3_000_000_000 }).map(String),
      fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }).map(Number),
      fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
      fc
        .tuple(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }), fc.nat(2))
        .map(([d, form]) => [d.getTime(), Math.floor(d.getTime() / 1000), d.toISOString().slice(0, 10)][form]),
      fc.tuple(fc.integer({ min: -1e6, max: 1e9 }), fc.bigInt({ min: 0n, max: 10n ** 16n - 1n })).map(([i, f]) => `${i}.${String(f).padStart(16, '0')}`),
      fc.string(),
    );
    const fields = ['price', 'volume', 'count', 'rank', 'active', 'updated', 'listed', 'label'];
    const record = fc.record(Object.fromEntries(fields.map((f) => [f, value])), { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 30 }), async (records) => {
        const raw = pageOf(records.map((r, i) => ({ id: `r${i}`, ...r })));
        const { js, native } = await bothPaths([await landedPage(raw)]);
        expect(native.rows).toEqual(js.rows);
        expect(native.quarantined).toEqual(js.quarantined);
        expect(native.unknown).toEqual(js.unknown);
        expect(native.missing).toEqual(js.missing);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
