// ccxt's own `coinbase` class against the replay server's Coinbase routes over loopback: the markets it loads, OHLCV
// paged by `since` over three days, trades, tickers, Advanced Trade's error bodies, and its rate limit (429 that ccxt
// maps to RateLimitExceeded; with ccxt's throttler on, never more than 10 requests in a second).
import ccxt, { type Exchange } from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../../replay/index.ts';
import { MINUTE_MS, REPLAY_MARKETS, replayCandles, replayTicker, replayTrades, type ReplayTicker } from './ccxt-replay-series.ts';
import { COINBASE_RATE_LIMIT } from './coinbase-replay-routes.ts';

const DAY_MS = 86_400_000;
const FROM = Date.UTC(2024, 2, 1);
const TO = FROM + 3 * DAY_MS;

/** ccxt's coinbase with every `urls.api` entry pointed at the replay server. */
function coinbaseAt(url: string, enableRateLimit = true): Exchange {
  const exchange = new ccxt.coinbase({ enableRateLimit });
  const api = exchange.urls.api as Record<string, string>;
  for (const key of Object.keys(api)) api[key] = url;
  return exchange;
}

async function getJson(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('coinbase replay routes through ccxt', () => {
  let server: ReplayServer;
  /** A second server without a practical limit, for the test's own raw requests (they would count against ccxt's). */
  let raw: ReplayServer;
  let exchange: Exchange;
  beforeAll(async () => {
    server = await startReplayServer();
    raw = await startReplayServer({ ccxtRateLimits: { coinbase: { requests: 100_000, windowMs: 1000 } } });
    exchange = coinbaseAt(server.ccxtUrl('coinbase'));
  });
  afterAll(async () => {
    await server.close();
    await raw.close();
  });

  it('loadMarkets lists exactly the replayed markets, with their base, quote and ticks, from these requests', async () => {
    const markets = await exchange.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(REPLAY_MARKETS.coinbase.map((m) => m.symbol).sort());
    for (const m of REPLAY_MARKETS.coinbase) {
      const loaded = markets[m.symbol]!;
      expect({ id: loaded.id, base: loaded.base, quote: loaded.quote, type: loaded.type, spot: loaded.spot, active: loaded.active }).toEqual({
        id: `${m.base}-${m.quote}`, base: m.base, quote: m.quote, type: 'spot', spot: true, active: true,
      });
      expect(loaded.precision).toEqual({ amount: Number(`1e-${m.amountDecimals}`), price: Number(`1e-${m.priceDecimals}`) });
    }
    expect(server.ccxtUsage('coinbase').paths).toEqual([
      '/v2/currencies',
      '/v2/currencies/crypto',
      '/v2/exchange-rates',
      '/api/v3/brokerage/market/products',
      '/api/v3/brokerage/market/products?product_type=FUTURE',
      '/api/v3/brokerage/market/products?product_type=FUTURE&contract_expiry_type=PERPETUAL',
    ]);
  });

  it('fetchOHLCV paged by since over three days equals the generated candles for two symbols, every field', async () => {
    for (const symbol of ['BTC/USD', 'ETH/BTC']) {
      const got: number[][] = [];
      let since = FROM;
      while (since < TO) {
        const page = await exchange.fetchOHLCV(symbol, '1m', since);
        got.push(...page.filter((c) => (c[0] as number) < TO).map((c) => c.map(Number)));
        since = page.length > 0 ? (page.at(-1)![0] as number) + MINUTE_MS : since + 300 * MINUTE_MS;
      }
      const want = replayCandles('coinbase', symbol, FROM, TO).map((c) => [c.ts, c.open, c.high, c.low, c.close, c.volume]);
      expect(want.length).toBeGreaterThan(4200);
      expect(got).toEqual(want);
    }
    const candlePaths = server.ccxtUsage('coinbase').paths.filter((p) => p.includes('/candles'));
    expect(candlePaths[0]).toBe(`/api/v3/brokerage/market/products/BTC-USD/candles?granularity=ONE_MINUTE&start=${FROM / 1000}&end=${FROM / 1000 + 300 * 60}`);
    // 4320 minutes in pages of 300, per symbol.
    expect(candlePaths).toHaveLength(2 * Math.ceil(4320 / 300));
  });

  it('with ccxt’s throttler on, the server never saw more than its limit in any window', () => {
    const usage = server.ccxtUsage('coinbase');
    expect(usage.limit).toEqual(COINBASE_RATE_LIMIT);
    expect(usage.rejected).toBe(0);
    expect(usage.acceptedAt.length).toBeGreaterThan(30);
    expect(usage.maxInWindow).toBeLessThanOrEqual(COINBASE_RATE_LIMIT.requests);
  });

  it('fetchTrades without since gives the newest 100 generated trades; with since and until those of the window', async () => {
    const latest = await exchange.fetchTrades('SOL/USD');
    expect(latest).toHaveLength(100);
    const first = latest[0].timestamp!;
    const last = latest.at(-1)!.timestamp!;
    const want = replayTrades('coinbase', 'SOL/USD', first, last + 1);
    expect(latest.map((t) => [t.id, t.timestamp, t.side, t.price, t.amount])).toEqual(want.map((t) => [String(t.id), t.timestamp, t.side, t.price, t.amount]));
    expect(last).toBeLessThanOrEqual(Date.now());

    const since = FROM + 7 * 60 * MINUTE_MS;
    const until = since + 30 * MINUTE_MS;
    const window = await exchange.fetchTrades('BTC/USD', since, 100, { until });
    const inWindow = replayTrades('coinbase', 'BTC/USD', since, until + 1000);
    expect(inWindow.length).toBeGreaterThan(10);
    expect(window.map((t) => [t.id, t.timestamp, t.datetime, t.symbol, t.side, t.price, t.amount, t.cost])).toEqual(
      inWindow.map((t) => [String(t.id), t.timestamp, new Date(t.timestamp).toISOString().replace('Z', '000Z'), 'BTC/USD', t.side, t.price, t.amount, expect.closeTo(t.price * t.amount, 8)]),
    );
    expect(server.ccxtUsage('coinbase').paths.filter((p) => p.includes('/ticker'))).toEqual([
      '/api/v3/brokerage/market/products/SOL-USD/ticker',
      `/api/v3/brokerage/market/products/BTC-USD/ticker?start=${since / 1000}&limit=100&end=${until / 1000}`,
    ]);
  });

  it('fetchTickers gives the generated last price, 24-hour base volume and change of every market', async () => {
    let tickers: Awaited<ReturnType<Exchange['fetchTickers']>> = {};
    let expected: (ReplayTicker | undefined)[] = [];
    // A minute that turns during the request changes the ticker: ask again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = Math.floor(Date.now() / MINUTE_MS);
      tickers = await exchange.fetchTickers(REPLAY_MARKETS.coinbase.map((m) => m.symbol));
      if (Math.floor(Date.now() / MINUTE_MS) === before) {
        expected = REPLAY_MARKETS.coinbase.map((m) => replayTicker('coinbase', m.symbol, before * MINUTE_MS));
        break;
      }
    }
    expect(Object.keys(tickers).sort()).toEqual(REPLAY_MARKETS.coinbase.map((m) => m.symbol).sort());
    REPLAY_MARKETS.coinbase.forEach((m, i) => {
      const t = expected[i]!;
      const got = tickers[m.symbol];
      expect({ last: got.last, close: got.close, baseVolume: got.baseVolume }).toEqual({ last: t.last, close: t.last, baseVolume: t.baseVolume });
      expect(got.percentage).toBeCloseTo(((t.last - t.open) / t.open) * 100, 9);
      expect(got.open).toBeCloseTo(t.open, 6);
    });
    expect(server.ccxtUsage('coinbase').paths.at(-1)).toBe(
      '/api/v3/brokerage/market/products?product_ids=BTC-USD&product_ids=ETH-USD&product_ids=SOL-USD&product_ids=ETH-BTC&product_type=SPOT',
    );
  });

  it('an unlisted product answers Advanced Trade’s 404 NOT_FOUND; ccxt refuses the unlisted symbol itself', async () => {
    const base = `${raw.ccxtUrl('coinbase')}/api/v3/brokerage/market/products`;
    for (const path of ['/DOGE-USD', '/DOGE-USD/candles?granularity=ONE_MINUTE&start=1709251200&end=1709254800', '/DOGE-USD/ticker?limit=10']) {
      expect(await getJson(base + path)).toEqual({
        status: 404, body: { error: 'NOT_FOUND', error_details: 'Product DOGE-USD not supported', message: 'Product DOGE-USD not supported' },
      });
    }
    expect((await getJson(`${base}/%E0-USD`)).body.message).toBe('Product %E0-USD not supported');
    await expect(exchange.fetchOHLCV('DOGE/USD', '1m', FROM)).rejects.toBeInstanceOf(ccxt.BadSymbol);
  });

  it('more than 350 candles in one request, or a bad granularity, is a 400 INVALID_ARGUMENT that ccxt maps to BadRequest', async () => {
    const start = FROM / 1000;
    const url = (end: number, granularity = 'ONE_MINUTE') =>
      `${raw.ccxtUrl('coinbase')}/api/v3/brokerage/market/products/BTC-USD/candles?granularity=${granularity}&start=${start}&end=${end}`;
    const full = await getJson(url(start + 350 * 60));
    expect(full.status).toBe(200);
    expect(full.body.candles).toHaveLength(replayCandles('coinbase', 'BTC/USD', FROM, FROM + 350 * MINUTE_MS).length);
    expect(full.body.candles[0].start > full.body.candles.at(-1).start).toBe(true);
    const message = 'start and end argument is invalid - number of candles requested should be less than 350';
    expect(await getJson(url(start + 351 * 60))).toEqual({ status: 400, body: { error: 'INVALID_ARGUMENT', error_details: message, message } });
    expect((await getJson(url(start + 60, 'TEN_MINUTE'))).body.error).toBe('INVALID_ARGUMENT');
    await expect(exchange.fetchOHLCV('BTC/USD', '1m', FROM, undefined, { until: FROM + 400 * MINUTE_MS })).rejects.toBeInstanceOf(ccxt.BadRequest);
  });
});

describe('coinbase replay rate limit', () => {
  it('beyond the limit Coinbase’s 429 rate_limit_exceeded, which ccxt raises as RateLimitExceeded', async () => {
    const server = await startReplayServer({ ccxtRateLimits: { coinbase: { requests: 2, windowMs: 60_000 } } });
    try {
      const url = `${server.ccxtUrl('coinbase')}/api/v3/brokerage/market/products/BTC-USD`;
      expect((await fetch(url)).status).toBe(200);
      expect((await fetch(url)).status).toBe(200);
      const res = await fetch(url);
      expect(res.status).toBe(429);
      expect(await res.json()).toEqual({ errors: [{ id: 'rate_limit_exceeded', message: 'Too many requests' }] });
      const exchange = coinbaseAt(server.ccxtUrl('coinbase'), false);
      await expect(exchange.fetchOHLCV('BTC/USD', '1m', FROM)).rejects.toBeInstanceOf(ccxt.RateLimitExceeded);
      // The raw third request, then loadMarkets' three v2 requests (sent together) were refused.
      expect(server.ccxtUsage('coinbase')).toMatchObject({ rejected: 4, maxInWindow: 2 });
    } finally {
      await server.close();
    }
  });
});
