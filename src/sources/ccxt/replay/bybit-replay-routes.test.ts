// ccxt's own `bybit` class against the replay server's Bybit v5 routes over loopback: the spot markets it loads, OHLCV
// paged by `since` over three days, recent trades, tickers, Bybit's retCode errors, and its IP limit (403 that ccxt
// maps to RateLimitExceeded; with ccxt's throttler on, never more than 600 requests in 5 s).
import ccxt, { type Exchange } from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../../replay/index.ts';
import { MINUTE_MS, REPLAY_MARKETS, replayCandles, replayTicker, replayTrades, type ReplayTicker } from './ccxt-replay-series.ts';
import { BYBIT_KLINE_MAX_LIMIT, BYBIT_RATE_LIMIT } from './bybit-replay-routes.ts';

const DAY_MS = 86_400_000;
const FROM = Date.UTC(2024, 2, 1);
const TO = FROM + 3 * DAY_MS;
const SYMBOLS = REPLAY_MARKETS.bybit.map((m) => m.symbol);

/** ccxt's bybit with every `urls.api` entry (`https://api.{hostname}`) pointed at the replay server. */
function bybitAt(url: string, enableRateLimit = true): Exchange {
  const exchange = new ccxt.bybit({ enableRateLimit });
  const api = exchange.urls.api as Record<string, string>;
  for (const key of Object.keys(api)) api[key] = url;
  return exchange;
}

async function getJson(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** A v5 body without its server time (checked to be there). */
function timeless(body: Record<string, unknown>): Record<string, unknown> {
  expect(body.time).toBeTypeOf('number');
  return Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'time'));
}

describe('bybit replay routes through ccxt', () => {
  let server: ReplayServer;
  /** A second server without a practical limit, for the test's own raw requests. */
  let raw: ReplayServer;
  let exchange: Exchange;
  beforeAll(async () => {
    server = await startReplayServer();
    raw = await startReplayServer({ ccxtRateLimits: { bybit: { requests: 100_000, windowMs: 1000 } } });
    exchange = bybitAt(server.ccxtUrl('bybit'));
  });
  afterAll(async () => {
    await server.close();
    await raw.close();
  });

  it('loadMarkets lists exactly the replayed spot markets, with their base, quote and ticks, from these requests', async () => {
    const markets = await exchange.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual([...SYMBOLS].sort());
    for (const m of REPLAY_MARKETS.bybit) {
      const loaded = markets[m.symbol]!;
      expect({ id: loaded.id, base: loaded.base, quote: loaded.quote, type: loaded.type, spot: loaded.spot, active: loaded.active }).toEqual({
        id: `${m.base}${m.quote}`, base: m.base, quote: m.quote, type: 'spot', spot: true, active: true,
      });
      expect(loaded.precision).toEqual({ amount: Number(`1e-${m.amountDecimals}`), price: Number(`1e-${m.priceDecimals}`) });
    }
    expect([...server.ccxtUsage('bybit').paths].sort()).toEqual([
      '/v5/market/instruments-info?category=inverse&limit=1000',
      '/v5/market/instruments-info?category=inverse&limit=1000&status=PreLaunch',
      '/v5/market/instruments-info?category=linear&limit=1000',
      '/v5/market/instruments-info?category=linear&limit=1000&status=PreLaunch',
      '/v5/market/instruments-info?category=option&baseCoin=BTC',
      '/v5/market/instruments-info?category=option&baseCoin=DOGE',
      '/v5/market/instruments-info?category=option&baseCoin=ETH',
      '/v5/market/instruments-info?category=option&baseCoin=MNT',
      '/v5/market/instruments-info?category=option&baseCoin=SOL',
      '/v5/market/instruments-info?category=option&baseCoin=XRP',
      '/v5/market/instruments-info?category=spot',
    ]);
  });

  it('fetchOHLCV paged by since (1000 a page) over three days equals the generated candles for two symbols, every field', async () => {
    for (const symbol of ['BTC/USDT', 'ETH/BTC']) {
      const got: number[][] = [];
      let since = FROM;
      while (since < TO) {
        const page = await exchange.fetchOHLCV(symbol, '1m', since, BYBIT_KLINE_MAX_LIMIT);
        got.push(...page.filter((c) => (c[0] as number) < TO).map((c) => c.map(Number)));
        since = page.length > 0 ? (page.at(-1)![0] as number) + MINUTE_MS : since + BYBIT_KLINE_MAX_LIMIT * MINUTE_MS;
      }
      const want = replayCandles('bybit', symbol, FROM, TO).map((c) => [c.ts, c.open, c.high, c.low, c.close, c.volume]);
      expect(want.length).toBeGreaterThan(4200);
      expect(got).toEqual(want);
    }
    const klinePaths = server.ccxtUsage('bybit').paths.filter((p) => p.startsWith('/v5/market/kline'));
    expect(klinePaths[0]).toBe(`/v5/market/kline?symbol=BTCUSDT&start=${FROM}&limit=1000&interval=1&category=spot`);
    expect(klinePaths).toHaveLength(2 * 5);
  });

  it('with ccxt’s throttler on, the server never saw more than its limit in any window', () => {
    const usage = server.ccxtUsage('bybit');
    expect(usage.limit).toEqual(BYBIT_RATE_LIMIT);
    expect(usage.rejected).toBe(0);
    expect(usage.acceptedAt.length).toBe(21);
    expect(usage.maxInWindow).toBeLessThanOrEqual(BYBIT_RATE_LIMIT.requests);
  });

  it('fetchTrades gives the newest 60 generated trades (spot recent-trade has no since: older ones are out of reach)', async () => {
    const latest = await exchange.fetchTrades('SOL/USDT');
    expect(latest).toHaveLength(60);
    const first = latest[0]!.timestamp!;
    const last = latest.at(-1)!.timestamp!;
    const want = replayTrades('bybit', 'SOL/USDT', first, last + 1);
    expect(latest.map((t) => [t.id, t.timestamp, t.symbol, t.side, t.price, t.amount])).toEqual(
      want.map((t) => [String(t.id), t.timestamp, 'SOL/USDT', t.side, t.price, t.amount]),
    );
    expect(last).toBeLessThanOrEqual(Date.now());
    const ten = await exchange.fetchTrades('BTC/USDT', undefined, 10);
    expect(ten).toHaveLength(10);
    expect(server.ccxtUsage('bybit').paths.slice(-2)).toEqual([
      '/v5/market/recent-trade?symbol=SOLUSDT&category=spot',
      '/v5/market/recent-trade?symbol=BTCUSDT&limit=10&category=spot',
    ]);
  });

  it('fetchTickers of the spot symbols gives the generated 24-hour ticker of every market', async () => {
    let tickers: Awaited<ReturnType<Exchange['fetchTickers']>> = {};
    let expected: (ReplayTicker | undefined)[] = [];
    // A minute that turns during the request changes the ticker: ask again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = Math.floor(Date.now() / MINUTE_MS);
      tickers = await exchange.fetchTickers(SYMBOLS);
      if (Math.floor(Date.now() / MINUTE_MS) === before) {
        expected = REPLAY_MARKETS.bybit.map((m) => replayTicker('bybit', m.symbol, before * MINUTE_MS));
        break;
      }
    }
    expect(Object.keys(tickers).sort()).toEqual([...SYMBOLS].sort());
    REPLAY_MARKETS.bybit.forEach((m, i) => {
      const t = expected[i]!;
      const got = tickers[m.symbol]!;
      expect({ last: got.last, open: got.open, high: got.high, low: got.low, bid: got.bid, ask: got.ask, baseVolume: got.baseVolume }).toEqual({
        last: t.last, open: t.open, high: t.high, low: t.low, bid: t.bid, ask: t.ask, baseVolume: t.baseVolume,
      });
      // price24hPcnt is a fraction with 4 decimals; ccxt multiplies its text by 100 exactly.
      expect(got.percentage! + 0).toBe(Number((Number(((t.last - t.open) / t.open).toFixed(4)) * 100).toFixed(2)) + 0); // + 0: no -0
    });
    expect(server.ccxtUsage('bybit').paths.at(-1)).toBe('/v5/market/tickers?category=spot');
  });

  it('an unlisted symbol answers retCode 10001 “Not supported symbols”, which ccxt raises as BadSymbol', async () => {
    const base = `${raw.ccxtUrl('bybit')}/v5/market`;
    for (const path of ['/kline?category=spot&symbol=DOGEUSDT&interval=1', '/recent-trade?category=spot&symbol=DOGEUSDT', '/tickers?category=spot&symbol=DOGEUSDT']) {
      const { status, body } = await getJson(base + path);
      expect(status).toBe(200);
      expect(timeless(body)).toEqual({ retCode: 10001, retMsg: 'Not supported symbols', result: {}, retExtInfo: {} });
    }
    await expect(exchange.fetchOHLCV('DOGE/USDT', '1m', FROM)).rejects.toBeInstanceOf(ccxt.BadSymbol);
    await expect(exchange.publicGetV5MarketKline({ category: 'spot', symbol: 'DOGEUSDT', interval: '1' })).rejects.toBeInstanceOf(ccxt.BadSymbol);
  });

  it('limits and parameters outside Bybit’s ranges are retCode 10001 params errors, which ccxt raises as BadRequest', async () => {
    const base = `${raw.ccxtUrl('bybit')}/v5/market`;
    const cases: [string, string][] = [
      ['/kline?category=spot&symbol=BTCUSDT&interval=1&limit=1001', 'params error: limit invalid'],
      ['/kline?category=spot&symbol=BTCUSDT&interval=2', 'params error: interval invalid'],
      ['/recent-trade?category=spot&symbol=BTCUSDT&limit=61', 'params error: limit invalid'],
      ['/tickers?category=futures', 'params error: category invalid'],
    ];
    for (const [path, retMsg] of cases) {
      expect(timeless((await getJson(base + path)).body)).toEqual({ retCode: 10001, retMsg, result: {}, retExtInfo: {} });
    }
    const newestFirst = (await getJson(`${base}/kline?category=spot&symbol=BTCUSDT&interval=1&start=${FROM}&limit=3`)).body.result.list;
    expect(newestFirst.map((row: string[]) => Number(row[0]))).toEqual(replayCandles('bybit', 'BTC/USDT', FROM, TO, 3).map((c) => c.ts).reverse());
    await expect(exchange.fetchOHLCV('BTC/USDT', '1m', FROM, 1001)).rejects.toBeInstanceOf(ccxt.BadRequest);
  });
});

describe('bybit replay rate limit', () => {
  it('beyond the limit Bybit’s 403 “access too frequent”, which ccxt raises as RateLimitExceeded', async () => {
    const server = await startReplayServer({ ccxtRateLimits: { bybit: { requests: 2, windowMs: 60_000 } } });
    try {
      const url = `${server.ccxtUrl('bybit')}/v5/market/time`;
      expect((await fetch(url)).status).toBe(200);
      expect((await fetch(url)).status).toBe(200);
      const res = await fetch(url);
      expect({ status: res.status, body: await res.text() }).toEqual({ status: 403, body: 'access too frequent' });
      const exchange = bybitAt(server.ccxtUrl('bybit'), false);
      await expect(exchange.fetchOHLCV('BTC/USDT', '1m', FROM)).rejects.toBeInstanceOf(ccxt.RateLimitExceeded);
      expect(server.ccxtUsage('bybit').maxInWindow).toBe(2);
    } finally {
      await server.close();
    }
  });
});
