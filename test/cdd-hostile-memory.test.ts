// `import cdd` of a hostile file stays as calm as a clean one (#27): a 200,000-line CryptoDataDownload file, half of
// its lines out of range or malformed, quarantines exactly those lines, keeps at most MAX_ENTRIES entries of each kind
// with their line numbers and reasons, and peaks at no more memory than the clean file of the same size (each import
// in its own process, its peak RSS measured there; a generous bound, no timing) — on DuckDB, where the warehouse
// reads the file itself, and on PostgreSQL, where the file engine reads it and the candles are copied in as CSV.
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { MAX_ENTRIES } from '../src/sources/cryptodatadownload/cdd-quarantine.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const REPORTER = path.resolve('test/helpers/max-rss-reporter.mjs');
const LINES = 200_000;
const LAST_MINUTE = Date.UTC(2024, 5, 1) - 60_000;
/** Epochs of the out-of-range lines: 2005, before the first Bitcoin block. */
const EARLY = Date.UTC(2005, 0, 1);

/** What data line `i` (1-based; file line i + 2) is: every 4th from the 1st out of range, every 4th from the 3rd malformed. */
const kindOf = (i: number, hostile: boolean) => (!hostile ? 'good' : i % 4 === 1 ? 'early' : i % 4 === 3 ? 'malformed' : 'good');
const epochOf = (i: number, hostile: boolean) => (kindOf(i, hostile) === 'early' ? EARLY + i * 60_000 : LAST_MINUTE - (i - 1) * 60_000);

async function writeFile(file: string, hostile: boolean): Promise<void> {
  const out = createWriteStream(file);
  out.write('https://www.CryptoDataDownload.com\nUnix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount\n');
  let text = '';
  for (let i = 1; i <= LINES; i++) {
    const open = kindOf(i, hostile) === 'malformed' ? 'n/a' : (30000 + (i % 100)).toFixed(2);
    text += `${epochOf(i, hostile)},x,BTCUSDT,${open},${30010 + (i % 100)},${29990 + (i % 100)},${30005 + (i % 100)},${10 + (i % 7)},${300000 + i},${100 + (i % 50)}\n`;
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end(text);
  await once(out, 'close');
}

interface Imported {
  stdout: string;
  maxRssMb: number;
  quarantine: { line?: number; reason: string; field?: string; value?: string; record: unknown }[];
}

/** `coinlake import cdd <file>` in its own process with a fresh lake, into `warehouse` (default a fresh DuckDB file). */
async function importInChild(dir: string, file: string, warehouse?: string): Promise<Imported> {
  const work = await mkdtemp(path.join(dir, 'run-'));
  const rssFile = path.join(work, 'max-rss');
  const r = spawnSync(process.execPath, ['--import', REPORTER, BIN, '--warehouse', warehouse ?? path.join(work, 'w.duckdb'), '--lake', path.join(work, 'lake'), 'import', 'cdd', file], {
    encoding: 'utf8',
    env: { ...process.env, COINLAKE_TEST_MAX_RSS_FILE: rssFile },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const qdir = path.join(work, 'lake/quarantine/ohlcv_1m');
  const qfiles = await readdir(qdir).catch(() => []);
  const quarantine = [];
  for (const f of qfiles) for (const l of (await readFile(path.join(qdir, f), 'utf8')).split('\n').filter(Boolean)) quarantine.push(JSON.parse(l));
  return { stdout: r.stdout, maxRssMb: Math.round(Number(await readFile(rssFile, 'utf8')) / 1024), quarantine };
}

describe.each(['DuckDB', 'PostgreSQL'])('import cdd into %s of a hostile file (half its lines out of range or malformed)', (engine) => {
  let dir: string;
  let clean: Imported;
  let hostile: Imported;
  const drops: (() => Promise<void>)[] = [];
  /** A fresh warehouse: undefined for a DuckDB file in the run's folder, else a new PostgreSQL database. */
  const warehouse = async () => {
    if (engine === 'DuckDB') return undefined;
    const db = await createTestDatabase();
    drops.push(db.drop);
    return db.url;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cdd-hostile-'));
    for (const kind of ['clean', 'hostile']) await mkdir(path.join(dir, kind));
    await writeFile(path.join(dir, 'hostile/Binance_BTCUSDT_minute.csv'), true);
    await writeFile(path.join(dir, 'clean/Binance_BTCUSDT_minute.csv'), false);
    clean = await importInChild(dir, path.join(dir, 'clean/Binance_BTCUSDT_minute.csv'), await warehouse());
    hostile = await importInChild(dir, path.join(dir, 'hostile/Binance_BTCUSDT_minute.csv'), await warehouse());
  }, 300_000);
  afterAll(async () => {
    for (const drop of drops) await drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts every bad line exactly and loads every good one', () => {
    expect(clean.stdout).toContain(`${LINES.toLocaleString('en-US')} candles (${LINES.toLocaleString('en-US')} inserted, 0 updated), 0 quarantined`);
    expect(hostile.stdout).toContain('import cdd: 1 file(s), 100,000 candles (100,000 inserted, 0 updated), 100,000 quarantined');
  });

  it(`keeps the first ${MAX_ENTRIES.toLocaleString('en-US')} malformed lines with their line numbers and reasons`, () => {
    const malformed = hostile.quarantine.filter((e) => e.field === 'open');
    const expected = Array.from({ length: LINES }, (_, k) => k + 1).filter((i) => kindOf(i, true) === 'malformed').slice(0, MAX_ENTRIES);
    expect(malformed.map((e) => e.line)).toEqual(expected.map((i) => i + 2));
    expect(malformed.every((e) => e.reason === 'column "open": "n/a" is not a number' && e.value === 'n/a')).toBe(true);
    expect(malformed[0].record).toBe(`${epochOf(3, true)},x,BTCUSDT,n/a,30013,29993,30008,13,300003,103`);
  });

  it(`keeps ${MAX_ENTRIES.toLocaleString('en-US')} out-of-range rows, each with its own line number and reason`, () => {
    const early = hostile.quarantine.filter((e) => e.reason.endsWith('is out of range'));
    expect(early).toHaveLength(MAX_ENTRIES);
    expect(hostile.quarantine).toHaveLength(2 * MAX_ENTRIES);
    const lines = early.map((e) => e.line!);
    expect(new Set(lines).size).toBe(MAX_ENTRIES);
    const wrong = early.filter((e) => kindOf(e.line! - 2, true) !== 'early' || e.reason !== `timestamp ${epochOf(e.line! - 2, true)} is out of range`);
    expect(wrong).toEqual([]);
  });

  it('peaks at no more memory than the clean file of the same size (+64 MB)', () => {
    expect(hostile.maxRssMb, `peak RSS: hostile ${hostile.maxRssMb} MB, clean ${clean.maxRssMb} MB`).toBeLessThanOrEqual(clean.maxRssMb + 64);
    console.log(`peak RSS: hostile ${hostile.maxRssMb} MB, clean ${clean.maxRssMb} MB`);
  });
});
