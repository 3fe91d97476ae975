// `import cdd` end to end: CryptoDataDownload files (both header styles, s/ms/µs epochs, newest first, malformed
// lines) → coinlake.ohlcv_1m merged on (exchange, symbol, ts), curated Parquet, quarantine with line numbers, one run
// row with the gaps — on DuckDB (bulk path) and PostgreSQL (staged path).
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { duckdbDestination } from '../src/destinations/duckdb/index.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { importFiles, type FileImportSummary } from '../src/runner/file-import.ts';
import { cddFileFormat, type CddFileDescription } from '../src/sources/cryptodatadownload/cdd-file-format.ts';
import { expandCddArguments } from '../src/sources/cryptodatadownload/cdd-file.ts';

/** What an import of CDD files returns. */
type CddImportSummary = FileImportSummary<CddFileDescription>;

const FIXTURES = path.resolve('test/fixtures/cdd');
const CURRENT = path.join(FIXTURES, 'current/Binance_BTCUSDT_minute.csv');
const LEGACY = path.join(FIXTURES, 'legacy/Binance_BTCUSDT_minute.csv');
const BNB = path.join(FIXTURES, 'real/Binance_BNBUSDT_minute.csv');
const HOSTILE = path.join(FIXTURES, 'real/Binance_BNBUSDT_minute_hostile.csv');
const T0 = Date.UTC(2024, 5, 10); // 2024-06-10T00:00Z, the first candle of the BTCUSDT fixtures

interface Env {
  dir: string;
  session: Session;
  lake: LocalLake;
  run(paths: string[], opts?: { exchange?: string }): Promise<CddImportSummary>;
  close(): Promise<void>;
}

async function env(warehouse?: string): Promise<Env> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cdd-'));
  const session = await openWarehouse(warehouse ?? path.join(dir, 'coinlake.duckdb'));
  const lake = new LocalLake(path.join(dir, 'lake'));
  return {
    dir,
    session,
    lake,
    run: (paths, opts = {}) => importFiles(cddFileFormat, paths, { session, lake, progress: false, options: opts }),
    async close() {
      await session.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Candle = { exchange: string; symbol: string; ts: Date; open: number; high: number; low: number; close: number; volume_base: number; volume_quote: number; trade_count: number | null };
const candles = (s: Session, where = 'TRUE') =>
  s.query<Candle>(`SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count FROM coinlake.ohlcv_1m WHERE ${where} ORDER BY exchange, symbol, ts`);

/** The data lines of a fixture, with the epoch column rewritten. */
function rewriteEpochs(file: string, f: (ms: number) => string, reverse = false): string {
  const [banner, header, ...rows] = readFileSync(file, 'utf8').trimEnd().split('\n');
  const data = rows.map((r) => {
    const [unix, ...rest] = r.split(',');
    return [f(Number(unix)), ...rest].join(',');
  });
  return [banner, header, ...(reverse ? data.reverse() : data)].join('\n') + '\n';
}

async function quarantineLines(e: Env, s: CddImportSummary): Promise<Record<string, unknown>[]> {
  const file = s.lakePaths.find((p) => p.startsWith('quarantine/'));
  if (!file) return [];
  return (await readFile(path.join(e.lake.root, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
}

describe('import cdd on DuckDB', () => {
  let e: Env;
  beforeEach(async () => {
    e = await env();
  });
  afterEach(() => e.close());

  it('current header style (Unix,Date,Symbol,…, BTCUSDT): exact candles, run row, curated Parquet', async () => {
    const s = await e.run([CURRENT]);
    expect(s.files.map((f) => [f.style, f.exchange, f.interval, f.table, f.lines, f.loaded, f.quarantined])).toEqual([['current', 'binance', '1m', 'coinlake.ohlcv_1m', 10, 10, 0]]);
    expect(s.load).toEqual({ inserted: 10, updated: 0, deleted: 0 });
    const rows = await candles(e.session);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toEqual({ exchange: 'binance', symbol: 'BTC-USDT', ts: new Date(T0), open: 69644.31, high: 69662.25, low: 69621.44, close: 69649.25, volume_base: 18.97431, volume_quote: 1321452.775112, trade_count: 2682 });
    expect(rows[9]).toEqual({ exchange: 'binance', symbol: 'BTC-USDT', ts: new Date(T0 + 9 * 60_000), open: 69683.19, high: 69715.44, low: 69675.05, close: 69709.42, volume_base: 17.28539, volume_quote: 1204718.652227, trade_count: 2632 });
    const [run] = await e.session.query<{ execution_status: number; rows_extracted: number; rows_loaded: number; rows_quarantined: number; connection_name: string; table_name: string; details: string }>(
      `SELECT * FROM coinlake_meta.workflow_action_history`,
    );
    expect(run).toMatchObject({ execution_status: 1, rows_extracted: 10, rows_loaded: 10, rows_quarantined: 0, connection_name: 'CRYPTODATADOWNLOAD', table_name: 'OHLCV_1M' });
    expect(JSON.parse(run.details).gaps).toEqual([
      { series: { exchange: 'binance', symbol: 'BTC-USDT' }, interval: '1m', from: '2024-06-10T00:00:00.000Z', to: '2024-06-10T00:10:00.000Z', expected: 10, present: 10, missing: 0 },
    ]);
    expect(s.lakePaths).toEqual([`curated/ohlcv_1m/dt=2024/${s.runId}-0001.parquet`]);
    const pq = await e.session.query<{ n: number; runs: number; lo: Date }>(
      `SELECT count(*) AS n, count(DISTINCT _run_id) AS runs, min(ts) AS lo FROM read_parquet('${path.join(e.lake.root, s.lakePaths[0])}')`,
    );
    expect(pq).toEqual([{ n: 10, runs: 1, lo: new Date(T0) }]);
  });

  it('older lower-case header style (unix,date,symbol,…, BTC/USDT) gives the same candles; merge updates what differs', async () => {
    const legacy = await e.run([LEGACY]);
    expect(legacy.files[0].style).toBe('legacy');
    expect(legacy.load).toEqual({ inserted: 10, updated: 0, deleted: 0 });
    const fromLegacy = await candles(e.session);
    expect(fromLegacy.map((r) => r.symbol)).toEqual(Array(10).fill('BTC-USDT'));
    // The current file has the same candles with the quote volume rounded to 6 decimals: 10 updates.
    const current = await e.run([CURRENT]);
    expect(current.load).toEqual({ inserted: 0, updated: 10, deleted: 0 });
    const fromCurrent = await candles(e.session);
    expect(fromCurrent.map(({ volume_quote: _v, ...r }) => r)).toEqual(fromLegacy.map(({ volume_quote: _v, ...r }) => r));
    expect(fromCurrent[0].volume_quote).toBe(1321452.775112);
    expect(fromLegacy[0].volume_quote).toBe(1321452.77511188);
    // Importing the same file again changes nothing, and the rows keep the lineage of the run that wrote them.
    const again = await e.run([CURRENT]);
    expect(again.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
    const lineage = await e.session.query<{ r: string; n: number }>(`SELECT _run_id AS r, count(*) AS n FROM coinlake.ohlcv_1m GROUP BY 1`);
    expect(lineage).toEqual([{ r: current.runId, n: 10 }]);
  });

  it('epochs in s, ms and µs load as the same candles; input order does not matter (newest first or oldest first)', async () => {
    const dirs = { s: 's', ms: 'ms', us: 'us', asc: 'asc' };
    for (const d of Object.values(dirs)) await mkdir(path.join(e.dir, d), { recursive: true });
    const file = (d: string) => path.join(e.dir, d, 'Binance_BTCUSDT_minute.csv');
    await writeFile(file('s'), rewriteEpochs(CURRENT, (ms) => String(ms / 1000)));
    await writeFile(file('ms'), rewriteEpochs(CURRENT, (ms) => String(ms)));
    await writeFile(file('us'), rewriteEpochs(CURRENT, (ms) => `${ms}000`));
    await writeFile(file('asc'), rewriteEpochs(CURRENT, (ms) => String(ms), true));
    expect(readFileSync(file('s'), 'utf8').split('\n')[2]).toMatch(/^1717978140,/);
    expect(readFileSync(file('us'), 'utf8').split('\n')[2]).toMatch(/^1717978140000000,/);
    const first = await e.run([file('s')]);
    expect(first.load.inserted).toBe(10);
    const reference = await candles(e.session);
    expect(reference.map((r) => r.ts.getTime())).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 60_000));
    for (const d of ['ms', 'us', 'asc']) {
      const s = await e.run([file(d)]);
      expect(s.load, d).toEqual({ inserted: 0, updated: 0, deleted: 0 });
      expect(s.files[0].loaded, d).toBe(10);
    }
    expect(await candles(e.session)).toEqual(reference);
  });

  it('the real BNB/USDT sample (legacy header, newest first) matches the reference reshaped by another project', async () => {
    const s = await e.run([BNB]);
    expect(s.load.inserted).toBe(100);
    expect(s.gaps).toEqual([
      { series: { exchange: 'binance', symbol: 'BNB-USDT' }, interval: '1m', from: '2021-12-29T22:38:00.000Z', to: '2021-12-30T00:18:00.000Z', expected: 100, present: 100, missing: 0 },
    ]);
    const [, ...ref] = readFileSync(path.join(FIXTURES, 'reference/bnbusdt-minute-sample.transformed.csv'), 'utf8').trim().split('\n');
    const expected = ref
      .map((line) => line.split(','))
      .map(([unix, , , o, h, l, c, vb, vq, n]) => ({ exchange: 'binance', symbol: 'BNB-USDT', ts: new Date(Number(unix)), open: Number(o), high: Number(h), low: Number(l), close: Number(c), volume_base: Number(vb), volume_quote: Number(vq), trade_count: Number(n) }))
      .sort((a, b) => a.ts.getTime() - b.ts.getTime());
    expect(await candles(e.session)).toEqual(expected);
  });

  it('hostile file (CRLF, s epochs, a malformed line, a repeated line): the line is quarantined with its number, the rest loads', async () => {
    const s = await e.run([HOSTILE]);
    expect(s.files[0]).toMatchObject({ style: 'current', lines: 101, loaded: 100, quarantined: 1, repeated: 1, load: { inserted: 99, updated: 0, deleted: 0 } });
    expect(await quarantineLines(e, s)).toEqual([
      {
        table: 'ohlcv_1m',
        line: 13,
        field: 'close',
        value: 'n/a',
        reason: 'column "close": "n/a" is not a number',
        record: '1640822820,2021-12-30 00:07:00,BNB/USDT,511.74,513.42,511.6,n/a,1217.3,624077.4432,843',
        origin: HOSTILE,
      },
    ]);
    expect(s.gaps).toEqual([
      { series: { exchange: 'binance', symbol: 'BNB-USDT' }, interval: '1m', from: '2021-12-29T22:38:00.000Z', to: '2021-12-30T00:18:00.000Z', expected: 100, present: 99, missing: 1 },
    ]);
    const [run] = await e.session.query<{ rows_quarantined: number; lake_paths: string }>(`SELECT rows_quarantined, lake_paths FROM coinlake_meta.workflow_action_history`);
    expect(run.rows_quarantined).toBe(1);
    expect(JSON.parse(run.lake_paths)).toContain(`quarantine/ohlcv_1m/${s.runId}.jsonl`);
    // The clean sample fills the missing minute; the 99 others are unchanged.
    const fill = await e.run([BNB]);
    expect(fill.load).toEqual({ inserted: 1, updated: 0, deleted: 0 });
    expect(fill.gaps[0].missing).toBe(0);
  });

  it('every kind of bad line is quarantined with its line number and reason', async () => {
    const lines = [
      'https://www.CryptoDataDownload.com',
      'Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount',
      '1717978140000,2024-06-10 00:09:00,BTCUSDT,69683.19,69715.44,69675.05,69709.42,17.28539,1204718.652227,2632', // 3 ok
      '1717978080000,2024-06-10 00:08:00,,69662.40,69690.44,69661.96,69683.19,14.77434,1029394.715394,864', // 4 no symbol
      '1717978020000,2024-06-10 00:07:00,BTCUSDT,69643.63,69668.15,69622.73', // 5 short
      '1717977960001,2024-06-10 00:06:00,BTCUSDT,69673.46,69687.89,69629.75,69643.63,18.02929,1255896.58781,2555', // 6 off grid
      '1717977900000,2024-06-10 00:05:00,BTCUSDT,69700.10,69706.83,69660.84,inf,20.36751,1419316.197359,1478', // 7 not finite
      '0,2024-06-10 00:04:00,BTCUSDT,69684.13,69724.18,69664.00,69700.10,7.30085,508818.887387,1642', // 8 epoch 0
      '1717977780000,2024-06-10 00:03:00,XYZ,69663.14,69705.12,69651.86,69684.13,10.62358,740209.224054,2903', // 9 not a pair
      '1717977720000,2024-06-10 00:02:00,BTCUSDT,69650.52,69679.92,69641.47,,10.12659,705405.727745,1061', // 10 empty close
      'abc,2024-06-10 00:01:00,BTCUSDT,69649.25,69654.32,69648.02,69650.52,9.52631,663512.516629,1518', // 11 epoch not a number
      '1717977600000,2024-06-10 00:00:00,BTCUSDT,69644.31,69662.25,69621.44,69649.25,18.97431,1321452.775112,2682,extra', // 12 too many
      '1717977540000,2024-06-09 23:59:00,BTCUSDT,69640.00,69650.00,69630.00,69644.31,-1,1000,10', // 13 negative volume
      '1717977480000,2024-06-09 23:58:00,BTCUSDT,69630.00,69645.00,69620.00,69640.00,5.5,383020.0,77', // 14 ok
    ];
    const file = path.join(e.dir, 'Binance_BTCUSDT_minute.csv');
    await writeFile(file, lines.join('\n') + '\n');
    const s = await e.run([file]);
    expect(s.files[0]).toMatchObject({ lines: 12, loaded: 2, quarantined: 10, load: { inserted: 2, updated: 0, deleted: 0 } });
    const q = await quarantineLines(e, s);
    expect(q.map((x) => [x.line, x.reason])).toEqual([
      [5, 'missing columns: expected 10, found 6'],
      [10, 'column "close" is empty'],
      [11, 'column "unix": "abc" is not a whole number'],
      [12, 'too many columns: expected 10, found 11'],
      [4, 'symbol "" is not a pair (BASE/QUOTE, or a known quote asset at the end)'],
      [6, 'open time 1717977960001 is not on the 1m grid'],
      [7, 'a price or volume is not a finite number'],
      [8, 'timestamp 0 is out of range'],
      [9, 'symbol "XYZ" is not a pair (BASE/QUOTE, or a known quote asset at the end)'],
      [13, 'a price or volume is negative'],
    ]);
    expect((await candles(e.session)).map((r) => r.ts.toISOString())).toEqual(['2024-06-09T23:58:00.000Z', '2024-06-10T00:09:00.000Z']);
    expect(s.gaps[0]).toMatchObject({ expected: 12, present: 2, missing: 10 });
  });

  it('a .csv.gz that DuckDB could not sniff (BOM, CRLF, blank lines, a stray quote, bad lines early): each bad line quarantined, the rest load once', async () => {
    // Written by the file fault suite (COINLAKE_FAULT_SEED=657866469): DuckDB's dialect sniffer gave up on it ("not
    // possible to automatically detect the CSV parsing dialect") and the import failed. The dialect is now given.
    const s = await e.run([path.join(FIXTURES, 'sniffer/Binance_BTCUSDT_minute.csv.gz')]);
    expect(s.files[0]).toMatchObject({ lines: 39, loaded: 34, quarantined: 5, repeated: 1, load: { inserted: 33, updated: 0, deleted: 0 } });
    const q = await quarantineLines(e, s);
    expect(q.map((x) => [x.line, x.reason])).toEqual([
      [3, 'too many columns: expected 10, found 11'],
      [20, 'column "unix": "abc" is not a whole number'],
      [27, 'column "close": "n/a" is not a number'],
      [9, 'symbol "XYZ" is not a pair (BASE/QUOTE, or a known quote asset at the end)'],
      [12, 'symbol ""BTCUSDT" is not a pair (BASE/QUOTE, or a known quote asset at the end)'],
    ]);
    const rows = await candles(e.session);
    expect(rows).toHaveLength(33);
    expect([rows[0].ts.toISOString(), rows[32].ts.toISOString()]).toEqual(['2024-07-27T05:11:00.000Z', '2024-07-27T05:47:00.000Z']);
  });

  it('a file across a new year: one curated file per year folder, on the first import and on a rerun', async () => {
    const at = (iso: string) => Date.parse(iso);
    const times = ['2024-01-01T00:01:00Z', '2024-01-01T00:00:00Z', '2023-12-31T23:59:00Z', '2023-12-31T23:58:00Z'].map(at);
    const file = path.join(e.dir, 'Binance_BTCUSDT_minute.csv');
    const lines = times.map((ms, i) => `${ms},${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')},BTCUSDT,${100 + i},${101 + i},${99 + i},${100.5 + i},1.5,150,${10 + i}`);
    await writeFile(file, ['https://www.CryptoDataDownload.com', 'Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount', ...lines].join('\n') + '\n');
    const perYear = async (s: CddImportSummary) =>
      Promise.all(
        [...s.lakePaths].sort().map(async (p) => {
          const [r] = await e.session.query<{ n: number; lo: Date; hi: Date; runs: number }>(
            `SELECT count(*) AS n, min(ts) AS lo, max(ts) AS hi, count(DISTINCT _run_id) AS runs FROM read_parquet('${path.join(e.lake.root, p)}')`,
          );
          return [p.replace(s.runId, 'RUN'), r.n, r.lo.toISOString(), r.hi.toISOString(), r.runs];
        }),
      );
    const expected = [
      ['curated/ohlcv_1m/dt=2023/RUN-0001.parquet', 2, '2023-12-31T23:58:00.000Z', '2023-12-31T23:59:00.000Z', 1],
      ['curated/ohlcv_1m/dt=2024/RUN-0001.parquet', 2, '2024-01-01T00:00:00.000Z', '2024-01-01T00:01:00.000Z', 1],
    ];
    const first = await e.run([file]);
    expect(first.load).toEqual({ inserted: 4, updated: 0, deleted: 0 });
    expect(await perYear(first)).toEqual(expected);
    // The rerun settles against the rows already there (nothing changes), and its Parquet holds the rows as read.
    const again = await e.run([file]);
    expect(again.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
    expect(await perYear(again)).toEqual(expected);
    expect((await candles(e.session)).map((r) => [r.ts.toISOString(), r.trade_count])).toEqual([
      ['2023-12-31T23:58:00.000Z', 13],
      ['2023-12-31T23:59:00.000Z', 12],
      ['2024-01-01T00:00:00.000Z', 11],
      ['2024-01-01T00:01:00.000Z', 10],
    ]);
  });

  it('takes files, directories and name patterns; one run row for all of them', async () => {
    expect(await expandCddArguments([path.join(FIXTURES, 'real')])).toEqual([BNB, HOSTILE]);
    expect(await expandCddArguments([path.join(FIXTURES, 'real/Binance_*_minute.csv'), BNB])).toEqual([BNB]);
    await expect(expandCddArguments([path.join(FIXTURES, 'nothing-*.csv')])).rejects.toThrow(/no CSV file found/);
    const s = await e.run([path.join(FIXTURES, 'real'), CURRENT]);
    expect(s.files.map((f) => path.basename(path.dirname(f.file)) + '/' + path.basename(f.file))).toEqual([
      'current/Binance_BTCUSDT_minute.csv',
      'real/Binance_BNBUSDT_minute.csv',
      'real/Binance_BNBUSDT_minute_hostile.csv',
    ]);
    const [{ n, runs }] = await e.session.query<{ n: number; runs: number }>(
      `SELECT (SELECT count(*) FROM coinlake.ohlcv_1m) AS n, (SELECT count(*) FROM coinlake_meta.workflow_action_history) AS runs`,
    );
    expect([n, runs]).toEqual([110, 1]);
  });

  it('a file whose name does not tell the exchange needs --exchange', async () => {
    const file = path.join(e.dir, 'candles.csv');
    await writeFile(file, readFileSync(CURRENT));
    await expect(e.run([file])).rejects.toThrow(/cannot tell the exchange of .*candles\.csv/);
    const s = await e.run([file], { exchange: 'kraken' });
    expect((await candles(e.session)).map((r) => r.exchange)).toEqual(Array(10).fill('kraken'));
    expect(s.files[0].exchange).toBe('kraken');
  });
});

describe('import cdd on PostgreSQL (candles copied in as the CSV the file engine writes)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('loads the same candles and quarantines the same lines as DuckDB', async () => {
    const pg = await env(db.url);
    const duck = await env();
    try {
      const a = await pg.run([HOSTILE, CURRENT]);
      const b = await duck.run([HOSTILE, CURRENT]);
      expect(a.files.map((f) => [f.lines, f.loaded, f.quarantined, f.repeated, f.load])).toEqual(b.files.map((f) => [f.lines, f.loaded, f.quarantined, f.repeated, f.load]));
      expect(await candles(pg.session)).toEqual(await candles(duck.session));
      expect((await quarantineLines(pg, a)).map((x) => x.line)).toEqual([13]);
      expect(a.gaps).toEqual(b.gaps);
      // The curated Parquet holds each file's candles as landed (the repeated line too), on both paths.
      const local = await duckdbDestination.open(':memory:');
      try {
        for (const [x, root] of [[a, pg.lake.root], [b, duck.lake.root]] as const) {
          const files = x.lakePaths.filter((p) => p.endsWith('.parquet')).map((p) => `'${path.join(root, p)}'`);
          const [{ n }] = await local.query<{ n: number }>(`SELECT count(*) AS n FROM read_parquet([${files.join(', ')}])`);
          expect(n).toBe(110);
        }
      } finally {
        await local.close();
      }
    } finally {
      await pg.close();
      await duck.close();
    }
  });
});
