// ccxt's real okx class against the replay server's OKX routes at OKX's own limit (20 requests per 2 s) and ccxt's
// default rateLimit: the markets it loads, 1-minute candles paged by `since`, recent and historical trades, tickers,
// OKX's paging and error bodies, and its 429.
import ccxt, { type Exchange, type OHLCV, type Trade } from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../../replay/index.ts';
import { MINUTE_MS, REPLAY_MARKETS, replayCandles, replayTicker, replayTrades } from './ccxt-replay-series.ts';

const DAY_MS = 86_400_000;
const FROM = Date.UTC(2024, 2, 1);
const SYMBOLS = REPLAY_MARKETS.okx.map((m) => m.symbol).sort();

/** ccxt's okx with every `urls.api` entry (`https://{hostname}`) pointed at `url`. */
function okx(url: string, options: Partial<ConstructorParameters<typeof ccxt.okx>[0]> = {}): Exchange {
  return new ccxt.okx({ urls: { api: { rest: url }, test: { rest: url } }, ...options });
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

const asCandles = (list: ReturnType<typeof replayCandles>) => list.map((c) => [c.ts, c.open, c.high, c.low, c.close, c.volume]);
const asTrades = (list: Trade[]) => list.map((t) => ({ id: Number(t.id), timestamp: t.timestamp, side: t.side, price: t.price, amount: t.amount }));

describe("okx replay routes with ccxt (OKX's limit, ccxt's default rateLimit)", () => {
  let server: ReplayServer;
  let ex: Exchange;
  beforeAll(async () => {
    server = await startReplayServer();
    ex = okx(server.ccxtUrl('okx'));
  });
  afterAll(() => server.close());

  it('loadMarkets lists exactly the replayed spot markets with their base, quote and ticks (5 instruments requests)', async () => {
    const markets = await ex.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(SYMBOLS);
    for (const m of REPLAY_MARKETS.okx) {
      const market = markets[m.symbol]!;
      expect({ id: market.id, base: market.base, quote: market.quote, spot: market.spot, active: market.active, precision: market.precision })
        .toEqual({ id: `${m.base}-${m.quote}`, base: m.base, quote: m.quote, spot: true, active: true, precision: { price: Number(`1e-${m.priceDecimals}`), amount: Number(`1e-${m.amountDecimals}`) } });
    }
    expect([...server.ccxtUsage('okx').paths].sort()).toEqual([
      '/api/v5/public/instruments?instType=FUTURES',
      '/api/v5/public/instruments?instType=OPTION&uly=BTC-USD',
      '/api/v5/public/instruments?instType=OPTION&uly=ETH-USD',
      '/api/v5/public/instruments?instType=SPOT',
      '/api/v5/public/instruments?instType=SWAP',
    ]);
  });

  it('fetchOHLCV paged by since (300 a page) over 3 days equals the generated candles, every field, for 2 symbols', async () => {
    const to = FROM + 3 * DAY_MS;
    const before = server.ccxtUsage('okx').paths.length;
    for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
      const got: OHLCV[] = [];
      for (let since = FROM; since < to; ) {
        const page = (await ex.fetchOHLCV(symbol, '1m', since, 300)).filter((c) => Number(c[0]) < to);
        if (page.length === 0) break;
        got.push(...page);
        since = Number(page.at(-1)?.[0]) + MINUTE_MS;
      }
      const expected = asCandles(replayCandles('okx', symbol, FROM, to));
      expect(expected.length).toBeGreaterThan(4200);
      expect(got).toEqual(expected);
    }
    const paths = server.ccxtUsage('okx').paths.slice(before);
    expect(paths[0]).toBe(`/api/v5/market/history-candles?instId=BTC-USDT&bar=1m&limit=300&before=${FROM - 1}&after=${FROM + 300 * MINUTE_MS}`);
    expect(paths.length).toBe(30); // 15 pages of 300 minutes per symbol
    expect(paths.every((p) => p.startsWith('/api/v5/market/history-candles?'))).toBe(true);
  });

  it('fetchOHLCV of the last two hours (market/candles) equals the generated candles up to the current minute', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
      const got = await ex.fetchOHLCV('SOL/USDT', '1m', current - 120 * MINUTE_MS, 300);
      if (Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS !== current) continue; // a minute turned mid-request
      expect(got).toEqual(asCandles(replayCandles('okx', 'SOL/USDT', current - 120 * MINUTE_MS, current + MINUTE_MS)));
      expect(server.ccxtUsage('okx').paths.at(-1)).toMatch(/^\/api\/v5\/market\/candles\?instId=SOL-USDT&bar=1m&limit=300&before=/);
      return;
    }
    throw new Error('three minute boundaries in a row');
  });

  it('fetchTrades (market/trades, the latest 500) equals the generated trades of an hour two hours ago', async () => {
    const to = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 60 * MINUTE_MS;
    const got = (await ex.fetchTrades('ETH/USDT', to - 60 * MINUTE_MS, 500)).filter((t) => Number(t.timestamp) < to);
    const expected = replayTrades('okx', 'ETH/USDT', to - 60 * MINUTE_MS, to);
    expect(expected.length).toBeGreaterThan(40);
    expect(asTrades(got)).toEqual(expected);
    expect(server.ccxtUsage('okx').paths.at(-1)).toBe('/api/v5/market/trades?instId=ETH-USDT&limit=500');
  });

  it('fetchTrades through history-trades paged back by ts (type 2, after) equals the generated trades of 3 hours in 2024', async () => {
    const from = FROM + 5 * 60 * MINUTE_MS;
    const to = from + 3 * 60 * MINUTE_MS;
    const got: Trade[] = [];
    for (let after = to; ; ) {
      const page = await ex.fetchTrades('BTC/USDT', undefined, 100, { method: 'publicGetMarketHistoryTrades', type: '2', after });
      got.unshift(...page.filter((t) => Number(t.timestamp) >= from));
      if (page.length < 100 || Number(page[0]?.timestamp) < from) break;
      after = Number(page[0]?.timestamp);
    }
    const expected = replayTrades('okx', 'BTC/USDT', from, to);
    expect(expected.length).toBeGreaterThan(200);
    expect(asTrades(got)).toEqual(expected);
    expect(server.ccxtUsage('okx').paths.at(-1)).toMatch(/^\/api\/v5\/market\/history-trades\?instId=BTC-USDT&limit=100&type=2&after=\d+$/);
  });

  it('fetchTickers matches the generated 24-hour tickers, timestamp included', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = Date.now();
      const tickers = await ex.fetchTickers();
      if (Math.floor(Date.now() / MINUTE_MS) !== Math.floor(before / MINUTE_MS)) continue; // a minute turned mid-request
      expect(Object.keys(tickers).sort()).toEqual(SYMBOLS);
      for (const symbol of SYMBOLS) {
        const t = replayTicker('okx', symbol, before)!;
        const got = tickers[symbol]!;
        expect({ timestamp: got.timestamp, last: got.last, open: got.open, high: got.high, low: got.low, bid: got.bid, ask: got.ask, baseVolume: got.baseVolume })
          .toEqual({ timestamp: t.timestamp, last: t.last, open: t.open, high: t.high, low: t.low, bid: t.bid, ask: t.ask, baseVolume: t.baseVolume });
      }
      expect(server.ccxtUsage('okx').paths.at(-1)).toBe('/api/v5/market/tickers?instType=SPOT');
      return;
    }
    throw new Error('three minute boundaries in a row');
  });

  it('ccxt stayed within OKX limit: no request refused, at most 20 in any 2 s', () => {
    const usage = server.ccxtUsage('okx');
    expect(usage.limit).toEqual({ requests: 20, windowMs: 2_000 });
    expect(usage.rejected).toBe(0);
    expect(usage.maxInWindow).toBeLessThanOrEqual(20);
    expect(usage.acceptedAt.length).toBeGreaterThan(40);
  });
});

describe('okx replay routes requested raw (no limit to speak of)', () => {
  let server: ReplayServer;
  let url: string;
  beforeAll(async () => {
    server = await startReplayServer({ ccxtRateLimits: { okx: { requests: 1_000, windowMs: 1_000 } } });
    url = server.ccxtUrl('okx');
  });
  afterAll(() => server.close());

  it('candles come newest first with confirm, after/before exclusive, limit capped at 300; market/candles only the latest 1440', async () => {
    const at = FROM + 600 * MINUTE_MS;
    const page = (await getJson(`${url}/api/v5/market/history-candles?instId=BTC-USDT&after=${at}&before=${at - 4 * MINUTE_MS}`)).body as { code: string; data: string[][] };
    const expected = replayCandles('okx', 'BTC/USDT', at - 3 * MINUTE_MS, at).reverse();
    expect(page.code).toBe('0');
    expect(page.data).toEqual(expected.map((c) => [String(c.ts), String(c.open), String(c.high), String(c.low), String(c.close), String(c.volume), expect.any(String), expect.any(String), '1']));
    const capped = (await getJson(`${url}/api/v5/market/history-candles?instId=BTC-USDT&after=${at}&limit=1000`)).body as { data: string[][] };
    expect(capped.data).toHaveLength(300);
    expect(capped.data[0]?.[0]).toBe(String(at - MINUTE_MS));
    const old = await getJson(`${url}/api/v5/market/candles?instId=BTC-USDT&after=${at}`);
    expect(old).toEqual({ status: 200, body: { code: '0', msg: '', data: [] } });
    const current = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const latest = (await getJson(`${url}/api/v5/market/candles?instId=BTC-USDT&limit=3`)).body as { data: string[][] };
    if (Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS === current) {
      expect(latest.data.map((row) => row[8])).toEqual(latest.data.map((row) => (Number(row[0]) === current ? '0' : '1')));
      expect(latest.data.at(-1)?.[8]).toBe('1');
    }
  });

  it("answers unknown instruments, missing and bad parameters and unknown paths with OKX's codes and statuses", async () => {
    const unknown = { status: 200, body: { code: '51001', msg: 'Instrument ID does not exist', data: [] } };
    for (const path of ['market/candles?instId=DOGE-USDT', 'market/history-candles?instId=DOGE-USDT', 'market/trades?instId=DOGE-USDT', 'market/history-trades?instId=DOGE-USDT', 'market/ticker?instId=DOGE-USDT', 'public/instruments?instType=SPOT&instId=DOGE-USDT']) {
      expect(await getJson(`${url}/api/v5/${path}`)).toEqual(unknown);
    }
    expect(await getJson(`${url}/api/v5/market/candles?bar=1m`)).toEqual({ status: 400, body: { code: '50014', msg: 'Parameter instId can not be empty.', data: [] } });
    expect(await getJson(`${url}/api/v5/public/instruments`)).toEqual({ status: 400, body: { code: '50014', msg: 'Parameter instType can not be empty.', data: [] } });
    for (const [path, name] of [['market/candles?instId=BTC-USDT&bar=5m', 'bar'], ['market/history-candles?instId=BTC-USDT&limit=abc', 'limit'], ['market/history-trades?instId=BTC-USDT&after=yesterday', 'after'], ['public/instruments?instType=STOCK', 'instType']]) {
      expect(await getJson(`${url}/api/v5/${path}`)).toEqual({ status: 400, body: { code: '51000', msg: `Parameter ${name} error`, data: [] } });
    }
    expect(await getJson(`${url}/api/v5/public/instruments?instType=SWAP`)).toEqual({ status: 200, body: { code: '0', msg: '', data: [] } });
    expect((await getJson(`${url}/api/v5/market/books?instId=BTC-USDT`)).status).toBe(404);
    await expect(okx(url, { enableRateLimit: false }).fetchOHLCV('DOGE/USDT', '1m', FROM)).rejects.toBeInstanceOf(ccxt.BadSymbol);
  });

  it('history-trades by tradeId: after and before are exclusive cursors, newest first', async () => {
    const first = replayTrades('okx', 'ETH/BTC', FROM, FROM + DAY_MS, 30);
    const after = first[25]!.id;
    const before = first[10]!.id;
    const page = (await getJson(`${url}/api/v5/market/history-trades?instId=ETH-BTC&after=${after}&before=${before}`)).body as { data: { tradeId: string }[] };
    expect(page.data.map((t) => Number(t.tradeId))).toEqual(first.slice(11, 25).map((t) => t.id).reverse());
  });
});

describe('okx replay limit', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer({ ccxtRateLimits: { okx: { requests: 2, windowMs: 60_000 } } });
  });
  afterAll(() => server.close());

  it("beyond the limit OKX's 429 {code 50011}, which ccxt raises as RateLimitExceeded", async () => {
    const ex = okx(server.ccxtUrl('okx'), { enableRateLimit: false });
    expect(await ex.fetchTime()).toBeGreaterThan(FROM);
    expect(await ex.fetchTime()).toBeGreaterThan(FROM);
    await expect(ex.fetchTime()).rejects.toBeInstanceOf(ccxt.RateLimitExceeded);
    expect(await getJson(`${server.ccxtUrl('okx')}/api/v5/public/time`)).toEqual({ status: 429, body: { msg: 'Too Many Requests', code: '50011' } });
    expect(server.ccxtUsage('okx')).toMatchObject({ rejected: 2, maxInWindow: 2 });
  });
});
