// `coinlake import <format> <files…>` as a plug-in point: the command finds the format in the registry (an unknown one
// is an error listing the known ones, before a warehouse is opened), its help comes from the formats, and the runner's
// file-import loop runs any format on the pipeline — here a small test-only format of `time,price` lines, landed
// through staging and write mode merge, with its run row, quarantine, gaps and output lines.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importLines } from '../src/cli/import-command.ts';
import type { Session } from '../src/core/destination.ts';
import { ConfigError } from '../src/core/errors.ts';
import type { FileFormat, LandedFile } from '../src/core/file-format.ts';
import type { Row, TableSpec } from '../src/core/table.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import type { QuarantineEntry } from '../src/lake/local-lake.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { applyWriteMode } from '../src/load/write-modes.ts';
import { importFiles } from '../src/runner/file-import.ts';
import { FILE_FORMATS, findFileFormat } from '../src/sources/file-format-registry.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-import-formats-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function coinlake(args: string[]) {
  return run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '' } }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

describe('the file-format registry and the import command', () => {
  it('lists one format, cdd; an unknown name is a ConfigError naming the known ones', () => {
    expect(FILE_FORMATS.map((f) => [f.name, f.title, f.connectionName])).toEqual([['cdd', 'CryptoDataDownload', 'CRYPTODATADOWNLOAD']]);
    expect(findFileFormat('cdd')).toBe(FILE_FORMATS[0]);
    let err: unknown;
    try {
      findFileFormat('csv');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('unknown import format "csv"');
    expect((err as ConfigError).hint).toBe('known formats: cdd (CryptoDataDownload); e.g. coinlake import cdd <files>');
  });

  it('`coinlake import csv …`: one error line with the known formats, exit 1, no warehouse opened', async () => {
    const r = await coinlake(['import', 'csv', 'a.csv']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: unknown import format "csv"\nhint: known formats: cdd (CryptoDataDownload); e.g. coinlake import cdd <files>\n' });
    expect(await readdir(dir)).toEqual([]);
  });

  it("`coinlake import --help` is built from the formats' help (the same text as before the registry)", async () => {
    const r = await coinlake(['import', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Usage: coinlake import [options] <format> <paths...>',
        '',
        'import files: `import cdd <file|dir|glob>…` loads CryptoDataDownload CSVs into',
        'coinlake.ohlcv_1m (merged) and the lake',
        '',
        'Arguments:',
        '  format                 file format: cdd (CryptoDataDownload)',
        '  paths                  files, directories of .csv files, or patterns such as',
        '                         data/Binance_*_minute.csv',
        '',
        'Options:',
        '  --exchange <name>      exchange of every file (default: from the file name,',
        '                         Binance_… → binance)',
        '  --interval <interval>  candle interval of every file (default: from the file',
        '                         name, _minute → 1m)',
        '  --memory-limit <size>  DuckDB memory limit while importing; bigger files spill',
        '                         to disk (default: "256MB")',
        '  -h, --help             display help for command',
        '',
      ].join('\n'),
    );
  });
});

/** A test-only format: `time,price` lines (ISO minute, number) of one market into coinlake.test_prices, merged on (market, minute). */
const PRICES: TableSpec = {
  schema: 'coinlake',
  name: 'test_prices',
  columns: [
    { name: 'market', type: 'varchar' },
    { name: 'ts', type: 'timestamptz' },
    { name: 'price', type: 'double' },
  ],
  primaryKey: ['market', 'ts'],
  partitionBy: 'ts',
};

const pricesFormat: FileFormat<{ unit: string }> = {
  name: 'prices',
  title: 'test prices',
  connectionName: 'TEST_PRICES',
  rowsNoun: 'prices',
  help: { usage: '`import prices <file>…`', paths: 'files', options: [{ flags: '--unit <unit>', description: 'price unit' }] },
  expand: async (args) => args.map((a) => path.resolve(a)).sort(),
  async plan(file, options) {
    const text = await readFile(file, 'utf8');
    return {
      file,
      bytes: Buffer.byteLength(text),
      table: PRICES,
      grid: { timeColumn: 'ts', interval: '1m' },
      description: { unit: options.unit ?? 'usd' },
      async land({ scope, load: ctx }) {
        const rows: Row[] = [];
        const quarantine: QuarantineEntry[] = [];
        for (const [i, line] of text.trimEnd().split('\n').entries()) {
          const [time, price] = line.split(',');
          const ts = new Date(time);
          if (Number.isNaN(ts.getTime()) || price === undefined || !Number.isFinite(Number(price))) quarantine.push({ table: PRICES.name, line: i + 1, reason: 'not a price line', record: line, origin: file });
          else rows.push({ market: 'm1', ts, price: Number(price) });
        }
        const times = rows.map((r) => (r.ts as Date).getTime());
        const series = rows.length ? [{ series: { market: 'm1' }, rows: rows.length, distinct: new Set(times).size, first: new Date(Math.min(...times)), last: new Date(Math.max(...times)) }] : [];
        return {
          curated: [],
          async load(): Promise<LandedFile> {
            const s: Session = scope.session;
            const staging = await s.stage(PRICES, rows, ctx);
            const load = await applyWriteMode(s, PRICES, staging, 'merge', ctx);
            await s.dropStaging(staging);
            return { appended: rows.length, load, repeated: 0, series, rejected: quarantine.length, invalid: 0, quarantine };
          },
          afterCommit: async () => {},
          close: async () => {},
        };
      },
    };
  },
  landing: () => ({ path: 'test-staged', inWarehouse: false }),
  note: (d) => `in ${d.unit}`,
};

describe('the file-import loop runs any format', () => {
  it('a test-only format: rows merged, malformed lines quarantined with line numbers, gaps, run row and output lines', async () => {
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.txt');
    await writeFile(a, '2024-01-01T00:00:00Z,10\n2024-01-01T00:01:00Z,11\nnot a line\n2024-01-01T00:03:00Z,13\n');
    await writeFile(b, '2024-01-01T00:03:00Z,13.5\n2024-01-01T00:04:00Z,14\n');
    const session = await openWarehouse(path.join(dir, 'w.duckdb'));
    const lake = new LocalLake(path.join(dir, 'lake'));
    try {
      const s = await importFiles(pricesFormat, [b, a], { session, lake, options: { unit: 'eur' }, progress: false });
      expect(s.files.map((f) => [path.basename(f.file), f.unit, f.table, f.lines, f.loaded, f.quarantined, f.load.inserted, f.load.updated])).toEqual([
        ['a.txt', 'eur', 'coinlake.test_prices', 4, 3, 1, 3, 0],
        ['b.txt', 'eur', 'coinlake.test_prices', 2, 2, 0, 1, 1],
      ]);
      const rows = await session.query<{ ts: Date; price: number }>('SELECT ts, price FROM coinlake.test_prices ORDER BY ts');
      expect(rows.map((r) => [r.ts.toISOString().slice(11, 16), r.price])).toEqual([['00:00', 10], ['00:01', 11], ['00:03', 13.5], ['00:04', 14]]);
      expect(s.gaps.map((g) => [g.expected, g.present, g.missing])).toEqual([[4, 3, 1], [2, 2, 0]]);
      const quarantineFile = s.lakePaths.find((p) => p.startsWith('quarantine/'))!;
      expect(quarantineFile).toBe(`quarantine/test_prices/${s.runId}.jsonl`);
      const q = (await readFile(path.join(lake.root, quarantineFile), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      expect(q).toEqual([{ table: 'test_prices', line: 3, reason: 'not a price line', record: 'not a line', origin: a }]);
      const [runRow] = await session.query<{ connection_name: string; table_name: string; execution_status: number; rows_extracted: number; rows_loaded: number; rows_quarantined: number; details: string }>(
        'SELECT connection_name, table_name, execution_status, rows_extracted, rows_loaded, rows_quarantined, details FROM coinlake_meta.workflow_action_history',
      );
      expect({ ...runRow, details: undefined }).toEqual({ connection_name: 'TEST_PRICES', table_name: 'TEST_PRICES', execution_status: 1, rows_extracted: 6, rows_loaded: 5, rows_quarantined: 1, details: undefined });
      const details = JSON.parse(runRow.details);
      expect(details.path).toBe('test-staged');
      expect(Object.keys(details.files[0])).toEqual(['file', 'unit', 'table', 'lines', 'loaded', 'quarantined', 'load', 'repeated']);
      const lines = importLines(pricesFormat, s, 2000);
      expect(lines.slice(0, 2).map((l) => l.replace(dir, '<dir>'))).toEqual([
        '<dir>/a.txt: 4 lines (in eur), 3 prices into coinlake.test_prices (3 inserted, 0 updated), 1 quarantined',
        '<dir>/b.txt: 2 lines (in eur), 2 prices into coinlake.test_prices (1 inserted, 1 updated), 0 quarantined',
      ]);
      expect(lines.slice(2)).toEqual([
        `import prices: 2 file(s), 5 prices (4 inserted, 1 updated), 1 quarantined in 2.0 s (3 lines/s) — run ${s.runId} (process ${s.processId})`,
        `  quarantine: ${quarantineFile}`,
        '  gaps: m1 1m: 4 expected, 3 present, 1 missing',
        '  gaps: m1 1m: 2 expected, 2 present, 0 missing',
      ]);
      expect(existsSync(path.join(lake.root, 'curated'))).toBe(false);
    } finally {
      await session.close();
    }
  });
});
