// The replay server's Binance as ccxt's binance sees it: exchangeInfo loads the replayed symbols as spot markets, and
// fetchOHLCV paged by `since` returns the replay series exactly, so the hand-written client and ccxt can be measured
// against the same server (docs/ccxt.md, one Binance path).
import ccxt from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../replay/index.ts';
import { kline, klineOpenTimes, REPLAY_BINANCE_SYMBOLS } from './binance-replay-klines.ts';

const MIN = 60_000;
const MAR_1 = Date.UTC(2024, 2, 1);

describe('replay server: Binance through ccxt', () => {
  let server: ReplayServer;
  let binance: InstanceType<typeof ccxt.binance>;
  beforeAll(async () => {
    server = await startReplayServer();
    binance = new ccxt.binance({ enableRateLimit: true, options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false } });
    // Every API origin of ccxt's binance points at the replay server's /binance.
    const api = binance.urls.api as Record<string, string>;
    for (const key of Object.keys(api)) api[key] = api[key].replace(/^https:\/\/[^/]+/, server.binanceUrl);
  });
  afterAll(() => server.close());

  it('loadMarkets lists every replayed symbol as a spot market with its base and quote', async () => {
    const markets = await binance.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(
      REPLAY_BINANCE_SYMBOLS.map((s) => (s.endsWith('USDT') ? `${s.slice(0, -4)}/USDT` : `${s.slice(0, -3)}/BTC`)).sort(),
    );
    expect(markets['ETH/BTC']).toMatchObject({ id: 'ETHBTC', base: 'ETH', quote: 'BTC', spot: true, active: true });
  });

  it('fetchOHLCV paged by since over two days equals the replay series, every field', async () => {
    const end = MAR_1 + 2 * 1440 * MIN;
    const got: number[][] = [];
    for (let since = MAR_1; since < end; ) {
      const page = await binance.fetchOHLCV('BTC/USDT', '1m', since, 1000);
      const inRange = page.filter((c) => (c[0] as number) < end);
      got.push(...(inRange as number[][]));
      if (page.length === 0) break;
      since = (page.at(-1)![0] as number) + MIN;
    }
    const want = klineOpenTimes('1m', MAR_1, end - 1).map((t) => {
      const k = kline('BTCUSDT', '1m', t);
      return [k[0], Number(k[1]), Number(k[2]), Number(k[3]), Number(k[4]), Number(k[5])];
    });
    expect(got.length).toBe(want.length);
    expect(got).toEqual(want);
  });

  it('with ccxt\'s default market types (spot, linear, inverse) the futures lists are empty and the spot markets load', async () => {
    const all = new ccxt.binance({ enableRateLimit: true, options: { fetchCurrencies: false } });
    const api = all.urls.api as Record<string, string>;
    for (const key of Object.keys(api)) api[key] = api[key].replace(/^https:\/\/[^/]+/, server.binanceUrl);
    const markets = await all.loadMarkets();
    expect(Object.keys(markets)).toHaveLength(REPLAY_BINANCE_SYMBOLS.length);
    expect(Object.values(markets).every((m) => m?.spot === true)).toBe(true);
  });

  it('an unlisted symbol in exchangeInfo is Binance\'s 400 -1121', async () => {
    const res = await fetch(`${server.binanceUrl}/api/v3/exchangeInfo?symbol=NOPEUSDT`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: -1121, msg: 'Invalid symbol.' });
  });
});
