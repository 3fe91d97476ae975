// Backfill of Binance klines through the replay server: exact candles for several symbols in parallel, one run row
// with per-chunk records and a gap report, resumable after an interruption, a row limit, 1,000 chunks recorded
// quickly, and the weight limit kept (429s waited out).
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { klineOpenTimes, kline } from '../src/replay/index.ts';
import { runBackfill, type BackfillRequest, type BackfillSummary } from '../src/runner/backfill.ts';
import { RunFailedError } from '../src/runner/run-job.ts';
import { marketEnv, type MarketEnv } from './helpers/market-env.ts';

const DAY = 86_400_000;
const MIN = 60_000;
const MAR_4 = Date.UTC(2024, 2, 4);
let env: MarketEnv;
afterEach(async () => env?.close());

function request(over: Partial<BackfillRequest> = {}): BackfillRequest {
  return {
    job: 'binance.klines',
    from: new Date(MAR_4),
    to: new Date(MAR_4 + 3 * DAY),
    symbols: ['BTCUSDT', 'ETHUSDT'],
    params: { interval: '1m' },
    concurrency: 3,
    endpoints: env.endpoints,
    ...over,
  };
}

const backfill = (over: Partial<BackfillRequest> = {}, opts: { signal?: AbortSignal; beforeCommit?: () => Promise<void>; maxRowsPerCommit?: number } = {}): Promise<BackfillSummary> =>
  runBackfill(request(over), { session: env.session, lake: env.lake, progress: false, ...opts });

/** Row count and a checksum over every data column (not lineage, which differs between runs). */
async function fingerprint(s: Session): Promise<{ n: number; keys: number; sum: string }> {
  const [r] = await s.query<{ n: number; keys: number; sum: string | number }>(
    `SELECT count(*) AS n, count(DISTINCT (exchange, symbol, ts)) AS keys,
            CAST(sum(hash(exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count)) AS VARCHAR) AS sum
       FROM coinlake.ohlcv_1m`,
  );
  return { n: Number(r.n), keys: Number(r.keys), sum: String(r.sum) };
}

/** The candles the replay series holds for a symbol over [from, to), as table rows. */
function expectedRows(symbol: string, pair: string, from: number, to: number) {
  return klineOpenTimes('1m', from, to - 1).map((t) => {
    const k = kline(symbol, '1m', t);
    return { exchange: 'binance', symbol: pair, ts: new Date(t), open: Number(k[1]), high: Number(k[2]), low: Number(k[3]), close: Number(k[4]), volume_base: Number(k[5]), volume_quote: Number(k[7]), trade_count: k[8] };
  });
}

describe('backfill binance.klines', () => {
  it('loads exactly the series of every symbol, in parallel, under one run row with per-chunk records and gaps', async () => {
    env = await marketEnv();
    const s = await backfill();
    // 2024-03-05 has a 30-minute maintenance window without candles.
    const perSymbol = 3 * 1440 - 30;
    expect(s).toMatchObject({ status: 1, table: 'coinlake.ohlcv_1m', chunks: { total: 6, skipped: 0, committed: 6, remaining: 0 }, rowsLoaded: 2 * perSymbol, stoppedAtLimit: false });
    expect(s.load).toEqual({ inserted: 2 * perSymbol, updated: 0, deleted: 0 });
    const rows = await env.session.query(`SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count FROM coinlake.ohlcv_1m ORDER BY symbol, ts`);
    expect(rows).toEqual([...expectedRows('BTCUSDT', 'BTC-USDT', MAR_4, MAR_4 + 3 * DAY), ...expectedRows('ETHUSDT', 'ETH-USDT', MAR_4, MAR_4 + 3 * DAY)]);
    expect(s.gaps.map((g) => [g.series.symbol, g.expected, g.present, g.missing])).toEqual([
      ['BTC-USDT', 4320, perSymbol, 30],
      ['ETH-USDT', 4320, perSymbol, 30],
    ]);
    const runs = await env.session.query<{ process_id: number; execution_status: number; table_name: string; rows_loaded: number; details: string; lake_paths: string }>(
      `SELECT * FROM coinlake_meta.workflow_action_history`,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ execution_status: 1, table_name: 'KLINES_1M', rows_loaded: 2 * perSymbol });
    expect(JSON.parse(runs[0].details)).toMatchObject({ chunks: { total: 6, committed: 6, skipped: 0 }, gaps: s.gaps });
    const chunks = await env.session.query<{ job: string; n: number; rows: number }>(
      `SELECT job, count(*) AS n, sum(rows_loaded) AS rows FROM coinlake_meta.backfill_chunk WHERE process_id = $1 AND status = 'committed' GROUP BY job ORDER BY job`,
      [s.processId],
    );
    expect(chunks).toEqual([
      { job: 'BINANCE/KLINES_BTCUSDT_1M', n: 3, rows: perSymbol },
      { job: 'BINANCE/KLINES_ETHUSDT_1M', n: 3, rows: perSymbol },
    ]);
    const states = await env.session.query<{ table_name: string; state: string }>(`SELECT table_name, state FROM coinlake_meta.ingestion_state ORDER BY table_name`);
    expect(states.map((r) => [r.table_name, JSON.parse(r.state)])).toEqual([
      ['KLINES_BTCUSDT_1M', { watermark: MAR_4 + 3 * DAY - MIN, job: 'binance.klines', params: { symbol: 'BTCUSDT', interval: '1m' } }],
      ['KLINES_ETHUSDT_1M', { watermark: MAR_4 + 3 * DAY - MIN, job: 'binance.klines', params: { symbol: 'ETHUSDT', interval: '1m' } }],
    ]);
    // Running it again finds every chunk committed and requests nothing.
    const before = env.replay.requests.length;
    const again = await backfill();
    expect(again.chunks).toEqual({ total: 6, skipped: 6, committed: 0, remaining: 0 });
    expect(env.replay.requests.length).toBe(before);
  });

  it('an interrupted backfill, run again, skips the committed chunks and ends equal to a clean run', async () => {
    env = await marketEnv();
    const clean = await marketEnv();
    try {
      await runBackfill(request({ endpoints: clean.endpoints }), { session: clean.session, lake: clean.lake, progress: false });
      const abort = new AbortController();
      let commits = 0;
      // One chunk per commit; stop while the second commits.
      const interrupted = backfill({ concurrency: 2 }, { maxRowsPerCommit: 1500, signal: abort.signal, beforeCommit: async () => void (++commits === 2 && abort.abort(new Error('stopped'))) });
      await expect(interrupted).rejects.toBeInstanceOf(RunFailedError);
      const [{ n: done }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.backfill_chunk`);
      expect(Number(done)).toBe(2);
      const [failed] = await env.session.query<{ execution_status: number; error_message: string }>(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history`);
      expect(failed.execution_status).toBe(-1);
      const rerun = await backfill();
      expect(rerun.chunks.skipped).toBe(Number(done));
      expect(rerun.chunks.committed).toBe(6 - Number(done));
      expect(await fingerprint(env.session)).toEqual(await fingerprint(clean.session));
      const fp = await fingerprint(env.session);
      expect(fp.n).toBe(fp.keys);
    } finally {
      await clean.close();
    }
  });

  it('--limit stops starting chunks once that many rows are loaded; a rerun finishes the range', async () => {
    env = await marketEnv();
    const first = await backfill({ symbols: ['BTCUSDT'], concurrency: 1, limitRows: 1000 });
    expect(first).toMatchObject({ stoppedAtLimit: true, rowsLoaded: 1440, chunks: { total: 3, committed: 1, remaining: 2 } });
    const rest = await backfill({ symbols: ['BTCUSDT'] });
    expect(rest.chunks).toEqual({ total: 3, skipped: 1, committed: 2, remaining: 0 });
    expect((await fingerprint(env.session)).n).toBe(3 * 1440 - 30);
  });

  it('records 1,000 daily chunks in seconds, with a compact run row', async () => {
    env = await marketEnv();
    const started = Date.now();
    const from = Date.UTC(2021, 0, 1);
    const s = await backfill({ symbols: ['BTCUSDT'], params: { interval: '1d' }, from: new Date(from), to: new Date(from + 1000 * DAY), concurrency: 8 });
    const ms = Date.now() - started;
    expect(s.chunks).toEqual({ total: 1000, skipped: 0, committed: 1000, remaining: 0 });
    expect(s.rowsLoaded).toBe(1000);
    expect(s.commits).toBeLessThan(1000);
    expect(ms).toBeLessThan(30_000);
    const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.ohlcv_1d`);
    expect(n).toBe(1000);
    const [run] = await env.session.query<{ details: string; lake_paths: string }>(`SELECT details, lake_paths FROM coinlake_meta.workflow_action_history`);
    expect(run.details.length).toBeLessThan(2_000);
    expect(run.lake_paths.length).toBeLessThan(1_000);
    expect(JSON.parse(run.details).gaps).toEqual([{ series: { exchange: 'binance', symbol: 'BTC-USDT' }, interval: '1d', from: '2021-01-01T00:00:00.000Z', to: '2023-09-28T00:00:00.000Z', expected: 1000, present: 1000, missing: 0 }]);
    const [{ chunks }] = await env.session.query<{ chunks: number }>(`SELECT count(*) AS chunks FROM coinlake_meta.backfill_chunk WHERE process_id = $1`, [s.processId]);
    expect(chunks).toBe(1000);
  }, 60_000);

  it('stays under the weight limit with several symbols in parallel, and waits out 429s', async () => {
    // 24 weight per window of 1.5 s (time scaled), shared by 3 symbols.
    env = await marketEnv({ binanceWeightPerMinute: 24, binanceWindowMs: 1_500 });
    env.replay.inject({ kind: 'status429', path: '/binance/api/v3/klines', times: 2, retryAfterSeconds: 1 });
    const s = await backfill({
      symbols: ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'],
      from: new Date(MAR_4),
      to: new Date(MAR_4 + 12 * 3_600_000),
      chunkMs: 3_600_000,
      concurrency: 6,
      params: { interval: '1m', weightLimit: 24, weightWindowMs: 1_500 },
    });
    expect(s.status).toBe(1);
    expect(s.rowsLoaded).toBe(3 * 12 * 60);
    const usage = env.replay.binanceUsage();
    expect(usage.maxWindowWeight).toBeLessThanOrEqual(24);
    expect(usage.rejected + usage.banned).toBe(0);
    expect(usage.accepted).toBe(36);
    expect(env.replay.requests.filter((r) => r.status === 429)).toHaveLength(2);
  }, 30_000);

  it('an unknown symbol fails the run with Binance\'s message and status -1', async () => {
    env = await marketEnv();
    const err = await backfill({ symbols: ['NOPEUSDT'] }).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect(err.message).toBe('Binance rejected klines NOPEUSDT 1m: Invalid symbol. (code -1121)');
    const [run] = await env.session.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history`);
    expect(run.execution_status).toBe(-1);
  });

  it('works the same on PostgreSQL: chunks, state and a rerun that skips them', async () => {
    const db = await createTestDatabase();
    try {
      env = await marketEnv({}, db.url);
      const s = await backfill({ to: new Date(MAR_4 + 2 * DAY) });
      expect(s.chunks).toEqual({ total: 4, skipped: 0, committed: 4, remaining: 0 });
      expect(s.rowsLoaded).toBe(2 * (2 * 1440 - 30));
      const rows = await env.session.query(`SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count FROM coinlake.ohlcv_1m ORDER BY symbol, ts`);
      expect(rows).toEqual([...expectedRows('BTCUSDT', 'BTC-USDT', MAR_4, MAR_4 + 2 * DAY), ...expectedRows('ETHUSDT', 'ETH-USDT', MAR_4, MAR_4 + 2 * DAY)]);
      const again = await backfill({ to: new Date(MAR_4 + 2 * DAY) });
      expect(again.chunks).toEqual({ total: 4, skipped: 4, committed: 0, remaining: 0 });
    } finally {
      await env.close();
      env = undefined as unknown as MarketEnv;
      await db.drop();
    }
  });
});
