// `coinlake repair` and the repair step of `coinlake daily`, as a user runs them (subprocesses) against the replay
// server, on DuckDB and PostgreSQL: minutes deleted after a backfill come back exactly as the replay series has them,
// nearby missing ranges sharing one request; the replay series' maintenance minutes (no candle on the exchange) are asked for
// once, remembered in coinlake_meta.candle_known_missing and not asked again; --max-minutes bounds the work.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { kline, klineOpenTimes, startReplayServer, type ReplayServer } from '../src/replay/index.ts';
import { klineExists } from '../src/sources/binance/binance-replay-klines.ts';
import { repairLines } from '../src/cli/repair-command.ts';
import { runBackfill } from '../src/runner/backfill.ts';
import { runRepair } from '../src/runner/candle-repair.ts';
import { marketEnv } from './helpers/market-env.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const MIN = 60_000;
const DAY = 86_400_000;
const MAR_4 = Date.UTC(2024, 2, 4);
/** 2024-03-05 02:00–02:30 is a maintenance window of the replay series: no candles. */
const MAR_5 = Date.UTC(2024, 2, 5);
const at = (iso: string) => Date.parse(iso);

let server: ReplayServer;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-repair-'));
  server = await startReplayServer();
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Warehouse {
  location: string;
  lake: string;
  drop(): Promise<void>;
}

const WAREHOUSES: [string, (name: string) => Promise<Warehouse>][] = [
  ['duckdb', async (name) => ({ location: path.join(dir, `${name}.duckdb`), lake: path.join(dir, `lake-${name}`), drop: async () => {} })],
  [
    'postgres',
    async (name) => {
      const db: TestDatabase = await createTestDatabase();
      return { location: db.url, lake: path.join(dir, `lake-${name}`), drop: () => db.drop() };
    },
  ],
];

function coinlake(w: Warehouse, args: string[]) {
  const env = { ...process.env, COINLAKE_WAREHOUSE: w.location, COINLAKE_LAKE: w.lake, COINLAKE_REPLAY: '', COINLAKE_BINANCE_URL: server.binanceUrl };
  return run(process.execPath, [BIN, ...args], { cwd: dir, env }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** Runs fn on a session of the warehouse, closed afterwards (the embedded file is free again for the next command). */
async function withSession<T>(w: Warehouse, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openWarehouse(w.location);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** The klines requests the replay server received since `from` (index into its request list): [startTime, endTime] each. */
function klinesRequests(from: number): [string, string, string][] {
  return server.requests
    .slice(from)
    .filter((r) => r.path.endsWith('/api/v3/klines'))
    .map((r) => [r.query.symbol, new Date(Number(r.query.startTime)).toISOString(), new Date(Number(r.query.endTime)).toISOString()]);
}

/** The candles the replay series holds for a symbol over [from, to), as table rows. */
function expectedRows(symbol: string, pair: string, from: number, to: number) {
  return klineOpenTimes('1m', from, to - 1).map((t) => {
    const k = kline(symbol, '1m', t);
    return { exchange: 'binance', symbol: pair, ts: new Date(t), open: Number(k[1]), high: Number(k[2]), low: Number(k[3]), close: Number(k[4]), volume_base: Number(k[5]), volume_quote: Number(k[7]), trade_count: k[8] };
  });
}

const tableRows = (s: Session): Promise<Record<string, unknown>[]> =>
  s.query<Record<string, unknown>>(`SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count FROM coinlake.ohlcv_1m ORDER BY symbol, ts`).then((rows) =>
    rows.map((r) => ({ ...r, trade_count: Number(r.trade_count) })),
  );

/** Deletes the candles of `pair` with open time in [fromIso, fromIso + minutes). */
const deleteMinutes = (s: Session, pair: string, fromIso: string, minutes: number) =>
  s.exec(`DELETE FROM coinlake.ohlcv_1m WHERE symbol = $1 AND ts >= $2 AND ts < $3`, [pair, new Date(at(fromIso)), new Date(at(fromIso) + minutes * MIN)]);

/** The minutes of [from, to) the replay series has no candle for (its maintenance windows). */
function maintenanceMinutes(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += MIN) if (!klineExists('1m', t)) out.push(t);
  return out;
}

const RUN = /run (\S+) \(process (\d+)\)/;

describe.each(WAREHOUSES)('coinlake repair on %s', (engine, makeWarehouse) => {
  it('fills exactly the deleted minutes, nearby missing ranges in one request; maintenance minutes are remembered and not asked again', async () => {
    const w = await makeWarehouse(`${engine}-fill`);
    try {
      const back = await coinlake(w, ['backfill', '--job', 'binance.klines', '--symbols', 'BTCUSDT,ETHUSDT', '--from', '2024-03-04', '--to', '2024-03-07']);
      expect([back.code, back.stderr]).toEqual([0, '']);
      const full = [...expectedRows('BTCUSDT', 'BTC-USDT', MAR_4, MAR_4 + 3 * DAY), ...expectedRows('ETHUSDT', 'ETH-USDT', MAR_4, MAR_4 + 3 * DAY)];
      await withSession(w, async (s) => {
        expect(await tableRows(s)).toEqual(full);
        // 15 minutes in 4 ranges: three in a row and one before the last candle (BTC), one after the first and ten in a row (ETH).
        expect(await deleteMinutes(s, 'BTC-USDT', '2024-03-04T10:00:00Z', 3)).toBe(3);
        expect(await deleteMinutes(s, 'BTC-USDT', '2024-03-06T23:58:00Z', 1)).toBe(1);
        expect(await deleteMinutes(s, 'ETH-USDT', '2024-03-04T00:01:00Z', 1)).toBe(1);
        expect(await deleteMinutes(s, 'ETH-USDT', '2024-03-05T12:00:00Z', 10)).toBe(10);
      });
      const before = server.requests.length;
      const r = await coinlake(w, ['repair']);
      expect([r.code, r.stderr]).toEqual([0, '']);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('repair coinlake.ohlcv_1m: 2 series, 75 missing minute(s) in 6 range(s) (0 known missing left alone)');
      expect(lines[1]).toMatch(/^ {2}binance: 15 repaired, 60 known missing \(the exchange has no candle\) of 75 requested in 2 series — run \S+ \(process 2\)$/);
      expect(lines).toHaveLength(2);
      const runId = RUN.exec(lines[1])![1];
      // Each range in one request, exactly (endTime inclusive); ranges of a series less than 1,000 minutes apart share
      // one (BTC 03-04 10:00 and the maintenance window 16 h later; ETH's window and 12:00 on the same day).
      expect(klinesRequests(before).sort()).toEqual(
        [
          ['ETHUSDT', '2024-03-04T00:01:00.000Z', '2024-03-04T00:01:59.999Z'],
          ['BTCUSDT', '2024-03-04T10:00:00.000Z', '2024-03-05T02:29:59.999Z'],
          ['ETHUSDT', '2024-03-05T02:00:00.000Z', '2024-03-05T12:09:59.999Z'],
          ['BTCUSDT', '2024-03-06T23:58:00.000Z', '2024-03-06T23:58:59.999Z'],
        ].sort(),
      );
      await withSession(w, async (s) => {
        expect(await tableRows(s)).toEqual(full);
        const known = await s.query<{ table_name: string; exchange: string; symbol: string; ts: Date; run_id: string }>(
          `SELECT table_name, exchange, symbol, ts, run_id FROM coinlake_meta.candle_known_missing ORDER BY symbol, ts`,
        );
        const window = maintenanceMinutes(MAR_5, MAR_5 + DAY);
        expect(window).toHaveLength(30);
        expect(known).toEqual(
          ['BTC-USDT', 'ETH-USDT'].flatMap((symbol) => window.map((t) => ({ table_name: 'ohlcv_1m', exchange: 'binance', symbol, ts: new Date(t), run_id: runId }))),
        );
        const [row] = await s.query<{ connection_name: string; table_name: string; execution_status: number; rows_loaded: number; details: string }>(
          `SELECT connection_name, table_name, execution_status, rows_loaded, details FROM coinlake_meta.workflow_action_history WHERE run_id = $1`,
          [runId],
        );
        expect({ ...row, rows_loaded: Number(row.rows_loaded), details: undefined }).toEqual({
          connection_name: 'BINANCE',
          table_name: 'REPAIR_OHLCV_1M',
          execution_status: 1,
          rows_loaded: 15,
          details: undefined,
        });
        expect(JSON.parse(row.details)).toMatchObject({
          note: 'repaired 15, known missing 60 of 75 requested',
          repair: { table: 'coinlake.ohlcv_1m', exchange: 'binance', interval: '1m', series: 2, ranges: 6, windows: 4, requested: 75, repaired: 15, knownMissing: 60, status: 'complete' },
        });
      });
      const st = await coinlake(w, ['status']);
      expect(st.stdout).toMatch(/\n2\s+\S+\s+BINANCE\s+REPAIR_OHLCV_1M\s+ok\s.*repaired 15, known missing 60 of 75 requested\n/);
      // Nothing is missing now: the next repair asks the exchange nothing.
      const again = server.requests.length;
      const r2 = await coinlake(w, ['repair']);
      expect([r2.code, r2.stdout, r2.stderr]).toEqual([0, 'repair coinlake.ohlcv_1m: 2 series, nothing missing (60 known missing left alone)\n', '']);
      expect(server.requests.length).toBe(again);
      // A minute deleted again is asked for alone; the known-missing window is not.
      await withSession(w, (s) => deleteMinutes(s, 'ETH-USDT', '2024-03-05T02:30:00Z', 1));
      const third = server.requests.length;
      const r3 = await coinlake(w, ['repair', '--exchange', 'binance', '--symbols', 'ETH-USDT']);
      expect(r3.stdout.split('\n')[0]).toBe('repair coinlake.ohlcv_1m: 1 series, 1 missing minute(s) in 1 range(s) (30 known missing left alone)');
      expect(klinesRequests(third)).toEqual([['ETHUSDT', '2024-03-05T02:30:00.000Z', '2024-03-05T02:30:59.999Z']]);
      await withSession(w, async (s) => expect(await tableRows(s)).toEqual(full));
    } finally {
      await w.drop();
    }
  }, 180_000);

  it('--max-minutes bounds the candles asked for (oldest first, a range cut short) and says so; the next run does the rest', async () => {
    const w = await makeWarehouse(`${engine}-bound`);
    try {
      expect((await coinlake(w, ['backfill', '--job', 'binance.klines', '--symbols', 'BTCUSDT', '--from', '2024-03-05', '--to', '2024-03-06'])).code).toBe(0);
      await withSession(w, (s) => deleteMinutes(s, 'BTC-USDT', '2024-03-05T10:00:00Z', 20));
      const before = server.requests.length;
      const r = await coinlake(w, ['repair', '--max-minutes', '40']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('repair coinlake.ohlcv_1m: 1 series, 50 missing minute(s) in 2 range(s) (0 known missing left alone)');
      expect(lines[1]).toMatch(/^ {2}binance: 10 repaired, 30 known missing \(the exchange has no candle\) of 40 requested in 1 series — run \S+ \(process 2\)$/);
      expect(lines[2]).toBe('  --max-minutes 40 reached: 10 missing minute(s) left for the next run');
      expect(lines).toHaveLength(3);
      // The window and the first 10 deleted minutes, in one request (only the missing minutes are loaded).
      expect(klinesRequests(before)).toEqual([['BTCUSDT', '2024-03-05T02:00:00.000Z', '2024-03-05T10:09:59.999Z']]);
      const next = server.requests.length;
      const r2 = await coinlake(w, ['repair', '--max-minutes', '40']);
      expect(r2.stdout.trimEnd().split('\n')).toEqual([
        'repair coinlake.ohlcv_1m: 1 series, 10 missing minute(s) in 1 range(s) (30 known missing left alone)',
        expect.stringMatching(/^ {2}binance: 10 repaired, 0 known missing \(the exchange has no candle\) of 10 requested in 1 series — run \S+ \(process 3\)$/),
      ]);
      expect(klinesRequests(next)).toEqual([['BTCUSDT', '2024-03-05T10:10:00.000Z', '2024-03-05T10:19:59.999Z']]);
      await withSession(w, async (s) => expect(await tableRows(s)).toEqual(expectedRows('BTCUSDT', 'BTC-USDT', MAR_5, MAR_5 + DAY)));
    } finally {
      await w.drop();
    }
  }, 120_000);

  it('daily repairs after its jobs: deleted minutes back, maintenance minutes remembered; --no-repair skips the step', async () => {
    const w = await makeWarehouse(`${engine}-daily`);
    try {
      expect((await coinlake(w, ['backfill', '--job', 'binance.klines', '--symbols', 'BTCUSDT', '--from', '2024-03-04', '--to', '2024-03-06'])).code).toBe(0);
      await withSession(w, (s) => deleteMinutes(s, 'BTC-USDT', '2024-03-04T08:00:00Z', 5));
      const skipped = await coinlake(w, ['daily', '--to', '2024-03-06T12:00:00Z', '--no-repair']);
      expect(skipped.stdout).toMatch(/^binance\.klines BINANCE\/KLINES_BTCUSDT_1M: 720 rows since 2024-03-05T23:59:00\.000Z into coinlake\.ohlcv_1m \(720 inserted, 0 updated\) from 1 page\(s\) — run \S+ \(process 2\)\n$/);
      const d = await coinlake(w, ['daily', '--to', '2024-03-07']);
      expect([d.code, d.stderr]).toEqual([0, '']);
      expect(d.stdout.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^binance\.klines BINANCE\/KLINES_BTCUSDT_1M: 720 rows since 2024-03-06T11:59:00\.000Z into coinlake\.ohlcv_1m \(720 inserted, 0 updated\) from 1 page\(s\) — run \S+ \(process 3\)$/),
        'repair coinlake.ohlcv_1m: 1 series, 35 missing minute(s) in 2 range(s) (0 known missing left alone)',
        expect.stringMatching(/^ {2}binance: 5 repaired, 30 known missing \(the exchange has no candle\) of 35 requested in 1 series — run \S+ \(process 4\)$/),
      ]);
      await withSession(w, async (s) => {
        expect(await tableRows(s)).toEqual(expectedRows('BTCUSDT', 'BTC-USDT', MAR_4, MAR_4 + 3 * DAY));
        const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.candle_known_missing`);
        expect(Number(n)).toBe(30);
      });
      const before = server.requests.length;
      const again = await coinlake(w, ['daily', '--to', '2024-03-07']);
      expect(again.stdout.trimEnd().split('\n')).toEqual([
        'binance.klines BINANCE/KLINES_BTCUSDT_1M: up to date (watermark 2024-03-06T23:59:00.000Z)',
        'repair coinlake.ohlcv_1m: 1 series, nothing missing (30 known missing left alone)',
      ]);
      expect(server.requests.length).toBe(before);
    } finally {
      await w.drop();
    }
  }, 120_000);
});

describe('coinlake repair refuses what it cannot repair, naming it', () => {
  it('an unknown --table or --exchange is one clear error; a candle table not loaded yet is nothing to repair', async () => {
    const w: Warehouse = { location: path.join(dir, 'errors.duckdb'), lake: path.join(dir, 'lake-errors'), drop: async () => {} };
    const table = await coinlake(w, ['repair', '--table', 'ohlcv_2m']);
    expect([table.code, table.stdout, table.stderr]).toEqual([
      1,
      '',
      'error: unknown candle table "ohlcv_2m"\nhint: --table takes a candle table: ohlcv_1s, ohlcv_1m, ohlcv_3m, ohlcv_5m, ohlcv_15m, ohlcv_30m, ohlcv_1h, ohlcv_2h, ohlcv_4h, ohlcv_6h, ohlcv_8h, ohlcv_12h, ohlcv_1d, ohlcv_3d, ohlcv_1w, ohlcv_1mo\n',
    ]);
    const exchange = await coinlake(w, ['repair', '--exchange', 'nosuchvenue']);
    expect([exchange.code, exchange.stdout]).toEqual([1, '']);
    const [error, hint, ...rest] = exchange.stderr.split('\n');
    expect(error).toBe('error: no source refetches candles of exchange "nosuchvenue"');
    expect(hint).toMatch(/^hint: exchanges coinlake repair can refetch: (\S+, )*binance(, |$)/);
    expect(rest).toEqual(['']);
    const bound = await coinlake(w, ['repair', '--max-minutes', '0']);
    expect([bound.code, bound.stderr]).toEqual([1, 'error: --max-minutes must be a positive whole number, got "0"\n']);
    const empty = await coinlake(w, ['repair', '--table', 'ohlcv_1h']);
    expect([empty.code, empty.stdout, empty.stderr]).toEqual([0, 'repair coinlake.ohlcv_1h: the table does not exist yet; nothing to repair\n', '']);
  }, 60_000);
});

describe('a repair that cannot fetch everything says what it left', () => {
  it('an exchange run that fails is one FAILED line with its run (status -1, nothing remembered); series of an exchange no source serves are listed', async () => {
    const env = await marketEnv();
    try {
      await runBackfill(
        { job: 'binance.klines', from: new Date(MAR_4), to: new Date(MAR_4 + DAY), symbols: ['BTCUSDT', 'ETHUSDT'], params: { interval: '1m' }, endpoints: env.endpoints },
        { session: env.session, lake: env.lake, progress: false },
      );
      await deleteMinutes(env.session, 'ETH-USDT', '2024-03-04T06:00:00Z', 2);
      await env.session.exec(
        `INSERT INTO coinlake.ohlcv_1m (exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count)
         VALUES ('elsewhere', 'BTC-EUR', $1, 1, 1, 1, 1, 1, 1, 1), ('elsewhere', 'BTC-EUR', $2, 1, 1, 1, 1, 1, 1, 1)`,
        [new Date(MAR_4), new Date(MAR_4 + 3 * MIN)],
      );
      // ETHUSDT is no longer listed on the exchange.
      const delisted = await marketEnv({ binanceSymbols: ['BTCUSDT'] });
      try {
        const s = await runRepair({ endpoints: delisted.endpoints }, { session: env.session, lake: env.lake, progress: false });
        const lines = repairLines(s);
        expect(lines[0]).toBe('repair coinlake.ohlcv_1m: 3 series, 4 missing minute(s) in 2 range(s) (0 known missing left alone)');
        expect(lines[1]).toMatch(/^ {2}binance: FAILED — Binance rejected klines ETHUSDT 1m: Invalid symbol\. \(code -1121\) — run \S+ \(process 2\)$/);
        expect(lines.slice(2)).toEqual(['  elsewhere: 1 series, 2 missing minute(s) not repaired: no source refetches them']);
        expect(s.runs.map((r) => [r.status, r.requested, r.repaired, r.knownMissing])).toEqual([['failed', 2, 0, 0]]);
        const [row] = await env.session.query<{ execution_status: number; table_name: string }>(`SELECT execution_status, table_name FROM coinlake_meta.workflow_action_history WHERE process_id = 2`);
        expect(row).toEqual({ execution_status: -1, table_name: 'REPAIR_OHLCV_1M' });
        const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.candle_known_missing`);
        expect(Number(n)).toBe(0);
      } finally {
        await delisted.close();
      }
      // The exchange lists it again: the next repair fills the two minutes.
      const fixed = await runRepair({ exchange: 'binance', endpoints: env.endpoints }, { session: env.session, lake: env.lake, progress: false });
      expect(fixed.runs.map((r) => [r.status, r.requested, r.repaired, r.knownMissing])).toEqual([['ok', 2, 2, 0]]);
      expect((await tableRows(env.session)).filter((r) => r.exchange === 'binance')).toEqual([
        ...expectedRows('BTCUSDT', 'BTC-USDT', MAR_4, MAR_4 + DAY),
        ...expectedRows('ETHUSDT', 'ETH-USDT', MAR_4, MAR_4 + DAY),
      ]);
    } finally {
      await env.close();
    }
  }, 60_000);
});
