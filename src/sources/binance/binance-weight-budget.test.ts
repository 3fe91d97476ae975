// The weight budget against the replay server's weight limit, with time scaled (windows of a second or two):
// parallel requests never exceed the limit, and 429/418 answers are waited out without surfacing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpClient } from '../../http/http-client.ts';
import { startReplayServer, type ReplayServer } from '../../replay/index.ts';
import { kline } from './binance-replay-klines.ts';
import { fetchKlines } from './binance-klines.ts';
import { WeightBudget } from './binance-weight-budget.ts';

const MIN = 60_000;
const MAR_1 = Date.UTC(2024, 2, 1);
let server: ReplayServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** `n` one-candle requests, `parallel` at a time, each for a different minute. */
async function fetchMany(base: string, budget: WeightBudget, n: number, parallel: number) {
  const http = new HttpClient({ rateLimitPerMinute: 0, retries: 2, minBackoffMs: 10, maxBackoffMs: 50 });
  const got: unknown[][] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        const t = MAR_1 + i * MIN;
        const page = await fetchKlines(http, base, budget, { symbol: 'BTCUSDT', interval: '1m', startTime: t, endTime: t, limit: 1 });
        got[i] = page.klines[0];
      }
    }),
  );
  return got;
}

describe('Binance weight budget', () => {
  it('keeps parallel requests under the limit: no 429, every window at most the limit', async () => {
    server = await startReplayServer({ binanceWeightPerMinute: 20, binanceWindowMs: 1_000 });
    const budget = new WeightBudget({ limit: 20, windowMs: 1_000 });
    const started = Date.now();
    const got = await fetchMany(server.binanceUrl, budget, 35, 4);
    expect(got).toEqual(Array.from({ length: 35 }, (_, i) => kline('BTCUSDT', '1m', MAR_1 + i * MIN)));
    const usage = server.binanceUsage();
    expect(usage.rejected).toBe(0);
    expect(usage.accepted).toBe(35);
    expect(usage.maxWindowWeight).toBeLessThanOrEqual(20);
    // 70 weight at 20 per window needs at least three window changes.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(budget.stats.windowWaits).toBeGreaterThan(0);
    expect(budget.stats.refusals).toBe(0);
  });

  it('adopts the server count from X-MBX-USED-WEIGHT-1M (another client used the weight)', async () => {
    server = await startReplayServer({ binanceWeightPerMinute: 20, binanceWindowMs: 2_000 });
    await new Promise((r) => setTimeout(r, 2_000 - (Date.now() % 2_000) + 10));
    // Someone else spends 16 of the 20 in this window.
    for (let i = 0; i < 8; i++) await fetch(`${server.binanceUrl}/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=1`);
    const budget = new WeightBudget({ limit: 20, windowMs: 2_000 });
    const got = await fetchMany(server.binanceUrl, budget, 6, 1);
    expect(got).toHaveLength(6);
    expect(server.binanceUsage().rejected).toBe(0);
  });

  it('waits out injected 429s (Retry-After) and returns the page', async () => {
    server = await startReplayServer();
    server.inject({ kind: 'status429', path: '/binance/api/v3/klines', times: 2, retryAfterSeconds: 1 });
    const budget = new WeightBudget();
    const started = Date.now();
    const got = await fetchMany(server.binanceUrl, budget, 3, 1);
    expect(got).toEqual([0, 1, 2].map((i) => kline('BTCUSDT', '1m', MAR_1 + i * MIN)));
    expect(budget.stats.refusals).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('recovers from a client that assumed too high a limit: 429s and the 418 ban are waited out', async () => {
    server = await startReplayServer({ binanceWeightPerMinute: 6, binanceWindowMs: 1_000 });
    const budget = new WeightBudget({ limit: 1_000, windowMs: 1_000 });
    const got = await fetchMany(server.binanceUrl, budget, 12, 4);
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => kline('BTCUSDT', '1m', MAR_1 + i * MIN)));
    const usage = server.binanceUsage();
    expect(usage.rejected + usage.banned).toBeGreaterThan(0);
    expect(usage.maxWindowWeight).toBeLessThanOrEqual(6);
    expect(budget.stats.refusals).toBeGreaterThan(0);
  }, 30_000);

  it('an answer that arrives after the window changed still counts in the new window (the server may count it there)', async () => {
    // Window N ends at 10,000 ms; the request goes out at 9,990 and its answer comes back at 10,020 (a busy machine).
    vi.useFakeTimers({ now: 9_990 });
    try {
      const budget = new WeightBudget({ limit: 2, windowMs: 1_000, marginMs: 0 });
      const a = await budget.acquire(1);
      vi.setSystemTime(10_020);
      budget.settle(a, null);
      // The server may have counted A in window N+1: one more request fits there, not two.
      await budget.acquire(1);
      expect(budget.stats.windowWaits).toBe(0);
      const abort = new AbortController();
      const third = budget.acquire(1, abort.signal);
      expect(budget.stats.windowWaits).toBe(1);
      abort.abort();
      await expect(third).rejects.toThrow();
    } finally {
      vi.useRealTimers();
    }
  });
});
