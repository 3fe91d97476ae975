// Property test of the whole typing path of a real run (fast-check): random CoinCap asset records — numbers as text
// with many digits, exponents, "NaN", "1e999", objects, booleans, blanks, missing fields — are served by the replay
// server and loaded by coincap.assets into DuckDB (whose pages DuckDB types itself, deferring what it cannot type
// plainly to the JS normalizer) and into PostgreSQL (JS normalizer only). The table must hold exactly the rows the JS
// normalizer gives for the same records, and the run must quarantine exactly the values it quarantines.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import { normalizeRecords } from '../../src/normalize/normalizer.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { buildJob } from '../../src/runner/job-builder.ts';
import { runJob } from '../../src/runner/run-job.ts';
import { assetsTable } from '../../src/sources/coincap/coincap-tables.ts';
import { compareRows, TRIALS } from './api-fault-env.ts';
import { recordTrial } from './fault-ledger.ts';

const SEED = process.env.COINLAKE_FAULT_SEED === undefined ? undefined : Number(process.env.COINLAKE_FAULT_SEED);

/** A number as a source may send it: plain, as text with up to 17 significant digits, in exponent form, or hostile. */
const numberish: fc.Arbitrary<unknown> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  // Mostly values as CoinCap sends them, which the warehouse types itself; the rest go through the JS normalizer.
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n.toPrecision(17)), weight: 4 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((n) => n.toFixed(16)), weight: 6 },
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n.toExponential()),
  fc.integer().map(String),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '-1e-999', ' 42 ', '+7', '.5', '5.', '0x10', '1,5', '', null, true, 'n/a'),
  fc.constantFrom({ usd: '1' }, [1], '1e308', '-0', '00012.50', '1E+2'),
);
const textish: fc.Arbitrary<unknown> = fc.oneof({ arbitrary: fc.string(), weight: 4 }, fc.string({ unit: 'grapheme' }), fc.constantFrom(null, '', 42, true, { a: 1 }, ['x']));
const rankish: fc.Arbitrary<unknown> = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 5000 }).map(String), weight: 6 }, fc.integer(), numberish);

const FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  rank: rankish,
  symbol: textish,
  name: textish,
  supply: numberish,
  maxSupply: numberish,
  marketCapUsd: numberish,
  volumeUsd24Hr: numberish,
  priceUsd: numberish,
  changePercent24Hr: numberish,
  vwap24Hr: numberish,
  explorer: textish,
};

/** 1 to 30 assets with unique ids; every other field random or missing. */
const assets = fc.array(fc.record(FIELDS, { requiredKeys: [] }), { minLength: 1, maxLength: 30 }).map((list) => list.map((r, i) => ({ id: `asset-${i}`, ...r })));

/**
 * Pages of one shape, as real APIs send them: every record has every field, and each field is text on every record of
 * the page or a number on every record (or null) — the pages DuckDB reads as a fixed structure (JsonPageFile.kinds).
 * Text holds the forms above, hostile ones included; numbers include -0, the extremes and integers beyond 2^53.
 */
const TEXT_NUMBER: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n.toPrecision(17)), weight: 4 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((n) => n.toFixed(16)), weight: 4 },
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n.toExponential()),
  fc.integer().map(String),
  fc.constantFrom('NaN', 'Infinity', '1e999', ' 42 ', '+7', '.5', '5.', '0x10', '1,5', '', 'n/a', '1e308', '-0', '00012.50', '1E+2', null),
);
const NUMBER: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 4 },
  fc.integer(),
  fc.constantFrom(-0, 0, 1e308, 5e-324, 1e21, 2 ** 53 + 2, -1234.5, null),
);
const PLAIN_TEXT: fc.Arbitrary<unknown> = fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9 .:/-]{0,12}$/), weight: 3 }, { arbitrary: fc.constantFrom('', null, '0', '12'), weight: 2 });
const oneShapeAssets = fc
  .record(Object.fromEntries(Object.keys(FIELDS).map((f) => [f, fc.boolean()])) as Record<string, fc.Arbitrary<boolean>>)
  .chain((asText) =>
    fc.array(
      fc.record(
        Object.fromEntries(
          Object.keys(FIELDS).map((f) => [f, ['symbol', 'name', 'explorer'].includes(f) ? (asText[f] ? PLAIN_TEXT : NUMBER) : asText[f] ? TEXT_NUMBER : NUMBER]),
        ) as Record<string, fc.Arbitrary<unknown>>,
      ),
      { minLength: 1, maxLength: 30 },
    ),
  )
  .map((list) => list.map((r, i) => ({ id: `asset-${i}`, ...r })));

/**
 * The assets table without its JSON column `tokens` (v3 only), as column details would give it: DuckDB types pages
 * itself only for tables without JSON columns.
 */
const TABLE = { ...assetsTable, columns: assetsTable.columns.filter((c) => c.name !== 'tokens') };
const COLUMNS = TABLE.columns.filter((c) => !c.volatile);

/** A typed row as comparable text: doubles as numbers (-0 apart from 0), NULL as null. */
function rowText(row: Record<string, unknown>): string {
  return JSON.stringify(COLUMNS.map((c) => (row[c.name] === undefined ? null : Object.is(row[c.name], -0) ? '-0' : row[c.name])));
}

describe.each(['duckdb', 'postgres'] as const)('property: a real run types random assets as the normalizer does (%s)', (kind) => {
  let replay: ReplayServer;
  let dir: string;
  let db: TestDatabase | undefined;
  let session: Session;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-typing-'));
    replay = await startReplayServer();
    db = kind === 'postgres' ? await createTestDatabase() : undefined;
    session = await openWarehouse(db ? db.url : path.join(dir, 'w.duckdb'));
  });
  afterAll(async () => {
    await session?.close();
    await replay?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['random assets', assets],
    ['pages of one shape', oneShapeAssets],
  ] as const)('%s: table rows and quarantine counts equal the JS normalizer’s for the same records', async (label, arbitrary) => {
    const lake = new LocalLake(path.join(dir, 'lake'));
    const totals = { runs: 0, rows: 0, quarantined: 0, lost: 0, duplicated: 0, oneShape: 0 };
    let failure: unknown;
    try {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (records) => {
          replay.setData('assets', records);
          const job = { ...buildJob('coincap.assets', { mode: 'replace' }, { baseUrls: { coincap: replay.coincapV2Url }, rateLimitPerMinute: 0 }), table: TABLE };
          const summary = await runJob(job, { session, lake, progress: false, logLevel: 'debug' });
          // On DuckDB the pages went the warehouse-typed path (what this test is about), not the plain one.
          if (kind === 'duckdb') {
            const log = await readFile(summary.logPath, 'utf8');
            expect(log).toContain('pages are typed by the warehouse as they land');
            if (/"pagesOfOneShape":[1-9]/.test(log)) totals.oneShape++;
          }
          // What the JS normalizer makes of the same records (with the envelope's timestamp, as the source adds it).
          const expected = normalizeRecords(TABLE, records.map((r) => ({ ...r, timestamp: 0 })));
          const want = new Map<string, number>();
          for (const r of expected.rows) want.set(rowText(r), (want.get(rowText(r)) ?? 0) + 1);
          const cols = COLUMNS.map((c) => session.dialect.ident(c.name)).join(', ');
          const got = new Map<string, number>();
          for (const r of await session.query<Record<string, unknown>>(`SELECT ${cols} FROM coinlake.coincap_assets`)) {
            const text = rowText(Object.fromEntries(COLUMNS.map((c) => [c.name, typeof r[c.name] === 'bigint' ? Number(r[c.name]) : r[c.name]])));
            got.set(text, (got.get(text) ?? 0) + 1);
          }
          const outcome = compareRows(want, got);
          totals.runs++;
          totals.rows += expected.rows.length;
          totals.quarantined += expected.quarantined.length;
          if (outcome.lost || outcome.duplicated || summary.rowsQuarantined !== expected.quarantined.length) {
            totals.lost = outcome.lost + Math.abs(summary.rowsQuarantined - expected.quarantined.length);
            totals.duplicated = outcome.duplicated;
          }
          expect(outcome).toEqual({ lost: 0, duplicated: 0 });
          expect(summary.rowsQuarantined).toBe(expected.quarantined.length);
          expect(summary.rowsLoaded).toBe(records.length);
        }),
        { numRuns: (label === 'pages of one shape' ? 10 : 5) * TRIALS, seed: SEED },
      );
    } catch (err) {
      failure = err;
      totals.lost = Math.max(totals.lost, 1);
    }
    recordTrial({ suite: 'property', case: `warehouse typing of ${label} (${kind})`, faults: totals.quarantined, rowsLost: totals.lost, rowsDuplicated: totals.duplicated, clearError: null });
    if (failure) throw failure;
    expect(totals.quarantined).toBeGreaterThan(0);
    // Pages of one shape do take DuckDB's fixed-structure read (unless a value needed a JSON escape).
    if (kind === 'duckdb' && label === 'pages of one shape') expect(totals.oneShape).toBeGreaterThan(totals.runs / 2);
  }, 300_000);
});
