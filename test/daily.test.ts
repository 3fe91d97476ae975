// `coinlake daily`: every incremental job from its watermark to now, one run per job over the whole gap.
import { afterEach, describe, expect, it } from 'vitest';
import { klineOpenTimes } from '../src/replay/index.ts';
import { runBackfill } from '../src/runner/backfill.ts';
import { incrementalJobs, runDaily } from '../src/runner/daily.ts';
import { marketEnv, type MarketEnv } from './helpers/market-env.ts';

const DAY = 86_400_000;
const MIN = 60_000;
const MAR_1 = Date.UTC(2024, 2, 1);
let env: MarketEnv;
afterEach(async () => env?.close());

async function backfillDays(symbol: string, days: number) {
  return runBackfill(
    { job: 'binance.klines', from: new Date(MAR_1), to: new Date(MAR_1 + days * DAY), symbols: [symbol], params: { interval: '1m' }, endpoints: env.endpoints },
    { session: env.session, lake: env.lake, progress: false },
  );
}

async function openTimes(symbol: string): Promise<number[]> {
  const rows = await env.session.query<{ ts: Date }>(`SELECT ts FROM coinlake.ohlcv_1m WHERE symbol = $1 ORDER BY ts`, [symbol]);
  return rows.map((r) => r.ts.getTime());
}

describe('daily', () => {
  it('after a gap of several days loads exactly the missing candles, as one run per job', async () => {
    env = await marketEnv();
    await backfillDays('BTCUSDT', 1); // up to 03-01 23:59
    await backfillDays('ETHUSDT', 2); // up to 03-02 23:59
    expect((await incrementalJobs(env.session)).map((j) => [j.job, j.tableName, j.params, j.watermark])).toEqual([
      ['binance.klines', 'KLINES_BTCUSDT_1M', { symbol: 'BTCUSDT', interval: '1m' }, MAR_1 + DAY - MIN],
      ['binance.klines', 'KLINES_ETHUSDT_1M', { symbol: 'ETHUSDT', interval: '1m' }, MAR_1 + 2 * DAY - MIN],
    ]);
    const to = new Date(MAR_1 + 5 * DAY); // "now": 03-06 00:00, so 4 and 3 days are missing (03-05 has 30 minutes of maintenance)
    const outcomes = await runDaily({ session: env.session, lake: env.lake, endpoints: env.endpoints, to, progress: false });
    expect(outcomes.map((o) => [o.kind, o.job.tableName, o.kind === 'ran' ? o.summary.rowsLoaded : -1])).toEqual([
      ['ran', 'KLINES_BTCUSDT_1M', 4 * 1440 - 30],
      ['ran', 'KLINES_ETHUSDT_1M', 3 * 1440 - 30],
    ]);
    expect(await openTimes('BTC-USDT')).toEqual(klineOpenTimes('1m', MAR_1, to.getTime() - 1));
    expect(await openTimes('ETH-USDT')).toEqual(klineOpenTimes('1m', MAR_1, to.getTime() - 1));
    const runs = await env.session.query<{ table_name: string; window_start: Date; window_end: Date; rows_loaded: number; execution_status: number }>(
      `SELECT table_name, window_start, window_end, rows_loaded, execution_status FROM coinlake_meta.workflow_action_history WHERE process_id > 2 ORDER BY process_id`,
    );
    expect(runs).toEqual([
      { table_name: 'KLINES_BTCUSDT_1M', window_start: new Date(MAR_1 + DAY - MIN), window_end: to, rows_loaded: 4 * 1440 - 30, execution_status: 1 },
      { table_name: 'KLINES_ETHUSDT_1M', window_start: new Date(MAR_1 + 2 * DAY - MIN), window_end: to, rows_loaded: 3 * 1440 - 30, execution_status: 1 },
    ]);
    // The watermarks moved to the last candle before `to`; a second daily finds nothing new.
    expect((await incrementalJobs(env.session)).map((j) => j.watermark)).toEqual([to.getTime() - MIN, to.getTime() - MIN]);
    const again = await runDaily({ session: env.session, lake: env.lake, endpoints: env.endpoints, to, progress: false });
    expect(again.map((o) => o.kind)).toEqual(['up-to-date', 'up-to-date']);
  });

  it('a failing job is reported and the others still run', async () => {
    env = await marketEnv({ binanceSymbols: ['BTCUSDT', 'ETHUSDT'] });
    await backfillDays('BTCUSDT', 1);
    await backfillDays('ETHUSDT', 1);
    // BTCUSDT is gone from the exchange the next day.
    const other = await marketEnv({ binanceSymbols: ['ETHUSDT'] });
    try {
      const outcomes = await runDaily({ session: env.session, lake: env.lake, endpoints: other.endpoints, to: new Date(MAR_1 + 2 * DAY), progress: false });
      expect(outcomes.map((o) => o.kind)).toEqual(['failed', 'ran']);
      expect(outcomes[0].kind === 'failed' && outcomes[0].error).toBe('Binance rejected klines BTCUSDT 1m: Invalid symbol. (code -1121)');
    } finally {
      await other.close();
    }
  });
});
