// binance.klines through the ordinary runner (`coinlake run binance.klines --asset BTCUSDT --interval …`): paging by
// startTime with limit 1000, the interval's table, an incremental watermark, closed candles only.
import { afterEach, describe, expect, it } from 'vitest';
import { kline, klineOpenTimes } from '../../replay/index.ts';
import { buildJob } from '../../runner/job-builder.ts';
import { runJob } from '../../runner/run-job.ts';
import { marketEnv, type MarketEnv } from '../../../test/helpers/market-env.ts';

const MAR_1 = Date.UTC(2024, 2, 1);
const HOUR = 3_600_000;
let env: MarketEnv;
afterEach(async () => env?.close());

const run = (opts: { asset: string; interval: string; from: string; to: string }) =>
  runJob(buildJob('binance.klines', opts, env.endpoints), { session: env.session, lake: env.lake, progress: false });

describe('binance.klines stream', () => {
  it('pages 1m candles by startTime, 1000 at a time, into ohlcv_1m with a watermark', async () => {
    env = await marketEnv();
    const s = await run({ asset: 'BTCUSDT', interval: '1m', from: '2024-03-01', to: '2024-03-02T12:00:00Z' });
    expect(s.table).toBe('coinlake.ohlcv_1m');
    expect(s.rowsLoaded).toBe(36 * 60);
    expect(s.pages).toBe(3);
    expect(env.replay.requests.map((r) => [r.query.startTime, r.query.limit])).toEqual([
      [String(MAR_1), '1000'],
      [String(MAR_1 + 1000 * 60_000), '1000'],
      [String(MAR_1 + 2000 * 60_000), '1000'],
    ]);
    expect(s.state).toEqual({ watermark: MAR_1 + 36 * HOUR - 60_000, job: 'binance.klines', params: { symbol: 'BTCUSDT', interval: '1m' } });
    // The next run resumes after the watermark.
    const next = await run({ asset: 'BTCUSDT', interval: '1m', from: '2024-03-01', to: '2024-03-03' });
    expect(next.rowsLoaded).toBe(12 * 60);
    expect(next.load).toEqual({ inserted: 720, updated: 0, deleted: 0 });
  });

  it('other intervals go to their own candle table', async () => {
    env = await marketEnv();
    const s = await run({ asset: 'ETHUSDT', interval: '1h', from: '2024-03-01', to: '2024-03-03' });
    expect(s.table).toBe('coinlake.ohlcv_1h');
    const rows = await env.session.query<{ ts: Date; open: number; close: number; trade_count: number }>(`SELECT ts, open, close, trade_count FROM coinlake.ohlcv_1h ORDER BY ts`);
    expect(rows.map((r) => r.ts.getTime())).toEqual(klineOpenTimes('1h', MAR_1, MAR_1 + 48 * HOUR - 1));
    const k = kline('ETHUSDT', '1h', MAR_1);
    expect(rows[0]).toEqual({ ts: new Date(MAR_1), open: Number(k[1]), close: Number(k[4]), trade_count: k[8] });
  });

  it('loads only closed candles: the one still open is left for the next run', async () => {
    env = await marketEnv();
    const now = Date.now();
    const s = await run({ asset: 'BTCUSDT', interval: '1h', from: new Date(now - 3 * HOUR).toISOString(), to: new Date(now + HOUR).toISOString() });
    const [{ last }] = await env.session.query<{ last: Date }>(`SELECT max(ts) AS last FROM coinlake.ohlcv_1h`);
    expect(last.getTime() + HOUR).toBeLessThanOrEqual(now);
    expect(s.rowsLoaded).toBeGreaterThanOrEqual(2);
  });
});
