// ccxt's real kraken class against the replay server's Kraken routes: the markets it loads, 1-minute candles and
// trades paged by `since` equal to the generated market, tickers, Kraken's error bodies, and its request limit.
import ccxt, { type Exchange, type OHLCV, type Trade } from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../../replay/index.ts';
import { MINUTE_MS, REPLAY_MARKETS, replayCandles, replayTicker, replayTrades } from './ccxt-replay-series.ts';

const DAY_MS = 86_400_000;
const FROM = Date.UTC(2024, 2, 1);

/** ccxt's kraken with every `urls.api` entry pointed at `url`. */
function kraken(url: string, options: Partial<ConstructorParameters<typeof ccxt.kraken>[0]> = {}): Exchange {
  return new ccxt.kraken({ urls: { api: { public: url, private: url, zendesk: url } }, ...options });
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Candles of `symbol` with FROM ≤ ts < to, paged by `since` as a backfill does. */
async function pagedCandles(ex: Exchange, symbol: string, to: number): Promise<OHLCV[]> {
  const out: OHLCV[] = [];
  for (let since = FROM; since < to; ) {
    const page = (await ex.fetchOHLCV(symbol, '1m', since)).filter((c) => Number(c[0]) < to);
    if (page.length === 0) break;
    out.push(...page);
    since = Number(page.at(-1)?.[0]) + MINUTE_MS;
  }
  return out;
}

describe('kraken replay routes with ccxt (time scaled 10×: ccxt rateLimit 100 ms, 15 requests per 1.5 s)', () => {
  let server: ReplayServer;
  let url: string;
  let ex: Exchange;
  beforeAll(async () => {
    server = await startReplayServer({ ccxtRateLimits: { kraken: { requests: 15, windowMs: 1_500 } } });
    url = server.ccxtUrl('kraken');
    ex = kraken(url, { rateLimit: 100 });
  });
  afterAll(() => server.close());

  it('loadMarkets lists exactly the replayed markets with their base, quote and ticks, from Assets and AssetPairs', async () => {
    const markets = await ex.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(REPLAY_MARKETS.kraken.map((m) => m.symbol).sort());
    for (const m of REPLAY_MARKETS.kraken) {
      const market = markets[m.symbol]!;
      expect({ base: market.base, quote: market.quote, spot: market.spot, active: market.active, precision: market.precision })
        .toEqual({ base: m.base, quote: m.quote, spot: true, active: true, precision: { price: Number(`1e-${m.priceDecimals}`), amount: Number(`1e-${m.amountDecimals}`) } });
    }
    expect(markets['BTC/USD']?.id).toBe('XXBTZUSD');
    expect(markets['SOL/USD']?.id).toBe('SOLUSD');
    expect(server.ccxtUsage('kraken').paths.slice(0, 2)).toEqual(['/0/public/Assets', '/0/public/AssetPairs']);
  });

  it('fetchOHLCV paged by since over 3 days equals the generated candles, every field, for 2 symbols', async () => {
    const to = FROM + 3 * DAY_MS;
    const before = server.ccxtUsage('kraken').paths.length;
    let pages = 0;
    for (const symbol of ['BTC/USD', 'ETH/USD']) {
      const expected = replayCandles('kraken', symbol, FROM, to).map((c) => [c.ts, c.open, c.high, c.low, c.close, c.volume]);
      expect(expected.length).toBeGreaterThan(4200);
      expect(expected.length).toBeLessThan(4320);
      expect(await pagedCandles(ex, symbol, to)).toEqual(expected);
      pages += Math.ceil(expected.length / 720);
    }
    const paths = server.ccxtUsage('kraken').paths.slice(before);
    // 720 candles a page (6 pages for a symbol's 3 days), the first one `since` a minute early (Kraken's is exclusive).
    expect(paths[0]).toBe(`/0/public/OHLC?pair=XXBTZUSD&interval=1&since=${FROM / 1000 - 60}`);
    expect(paths.length).toBe(pages);
    expect(pages).toBe(12);
    expect(paths.every((p) => p.startsWith('/0/public/OHLC?pair=') && p.includes('&interval=1&since='))).toBe(true);
  });

  it('fetchTrades paged by since equals the generated trades of a day (ids, times, sides, prices, amounts)', async () => {
    const to = FROM + DAY_MS;
    const got: Trade[] = [];
    for (let since = FROM; since < to; ) {
      const page = (await ex.fetchTrades('ETH/USD', since)).filter((t) => Number(t.timestamp) < to);
      if (page.length === 0) break;
      got.push(...page);
      since = Number(page.at(-1)?.timestamp) + 1;
    }
    const expected = replayTrades('kraken', 'ETH/USD', FROM, to);
    expect(expected.length).toBeGreaterThan(1000);
    expect(got.map((t) => ({ id: Number(t.id), timestamp: t.timestamp, side: t.side, price: t.price, amount: t.amount }))).toEqual(expected);
    expect(new Set(got.map((t) => t.symbol))).toEqual(new Set(['ETH/USD']));
  });

  it('fetchTickers matches the generated 24-hour tickers', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = Date.now();
      const tickers = await ex.fetchTickers();
      if (Math.floor(Date.now() / MINUTE_MS) !== Math.floor(before / MINUTE_MS)) continue; // a minute turned mid-request
      expect(Object.keys(tickers).sort()).toEqual(REPLAY_MARKETS.kraken.map((m) => m.symbol).sort());
      for (const m of REPLAY_MARKETS.kraken) {
        const t = replayTicker('kraken', m.symbol, before)!;
        const got = tickers[m.symbol];
        expect({ last: got.last, open: got.open, high: got.high, low: got.low, bid: got.bid, ask: got.ask, baseVolume: got.baseVolume })
          .toEqual({ last: t.last, open: t.open, high: t.high, low: t.low, bid: t.bid, ask: t.ask, baseVolume: t.baseVolume });
      }
      return;
    }
    throw new Error('three minute boundaries in a row');
  });

  it('the client stayed within the limit: no request refused, at most 15 in any 1.5 s', () => {
    const usage = server.ccxtUsage('kraken');
    expect(usage.rejected).toBe(0);
    expect(usage.maxInWindow).toBeLessThanOrEqual(usage.limit.requests);
    expect(usage.limit).toEqual({ requests: 15, windowMs: 1_500 });
  });

});

describe('kraken replay routes requested raw (no limit to speak of)', () => {
  let server: ReplayServer;
  let url: string;
  beforeAll(async () => {
    server = await startReplayServer({ ccxtRateLimits: { kraken: { requests: 1_000, windowMs: 1_000 } } });
    url = server.ccxtUrl('kraken');
  });
  afterAll(() => server.close());

  it("Trades' `last` is a nanosecond cursor: the next page starts right after it, no trade twice", async () => {
    const first = (await getJson(`${url}/0/public/Trades?pair=XBTUSD&since=${FROM / 1000}&count=50`)).body as { result: Record<string, unknown[][]> & { last: string } };
    const rows = first.result.XXBTZUSD;
    expect(rows).toHaveLength(50);
    expect(first.result.last).toBe(`${Math.round(Number(rows[49][2]) * 1000)}000000`);
    const next = (await getJson(`${url}/0/public/Trades?pair=XBTUSD&since=${first.result.last}&count=50`)).body as { result: Record<string, unknown[][]> };
    const expected = replayTrades('kraken', 'BTC/USD', FROM, FROM + DAY_MS, 100);
    expect([...rows, ...next.result.XXBTZUSD].map((row) => row[6])).toEqual(expected.map((t) => t.id));
  });

  it('OHLC without since: the most recent 720 minutes up to the current one, `last` the newest committed minute', async () => {
    const before = Date.now();
    const { body } = (await getJson(`${url}/0/public/OHLC?pair=SOLUSD&interval=1`)) as { body: { error: string[]; result: Record<string, unknown[][]> & { last: number } } };
    const current = Math.floor(before / MINUTE_MS) * MINUTE_MS;
    if (Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS !== current) return; // a minute turned mid-request: nothing to compare
    const expected = replayCandles('kraken', 'SOL/USD', current - 719 * MINUTE_MS, current + MINUTE_MS);
    expect(body.error).toEqual([]);
    expect(body.result.SOLUSD.map((row) => row[0])).toEqual(expected.map((c) => c.ts / 1000));
    expect(body.result.SOLUSD[0].slice(1, 5)).toEqual([expected[0].open, expected[0].high, expected[0].low, expected[0].close].map((v) => v.toFixed(2)));
    expect(body.result.last).toBe(expected.filter((c) => c.ts < current).at(-1)!.ts / 1000);
  });

  it("answers an unlisted pair, a bad argument and an unknown method with Kraken's error bodies", async () => {
    for (const path of ['/0/public/OHLC?pair=DOGEUSD&interval=1', '/0/public/Trades?pair=DOGEUSD', '/0/public/Ticker?pair=XBTUSD,DOGEUSD', '/0/public/AssetPairs?pair=DOGEUSD']) {
      expect(await getJson(url + path)).toEqual({ status: 200, body: { error: ['EQuery:Unknown asset pair'] } });
    }
    for (const path of ['/0/public/OHLC?pair=XBTUSD&interval=5', '/0/public/OHLC?interval=1', '/0/public/Trades?pair=XBTUSD&count=1001', '/0/public/Trades?pair=XBTUSD&since=yesterday']) {
      expect(await getJson(url + path)).toEqual({ status: 200, body: { error: ['EGeneral:Invalid arguments'] } });
    }
    expect(await getJson(`${url}/0/public/Assets?asset=DOGE`)).toEqual({ status: 200, body: { error: ['EQuery:Unknown asset'] } });
    expect(await getJson(`${url}/0/public/Depth?pair=XBTUSD`)).toEqual({ status: 404, body: { error: ['EGeneral:Unknown method'] } });
    await expect(kraken(url, { enableRateLimit: false }).fetchOHLCV('DOGE/USD', '1m', FROM)).rejects.toBeInstanceOf(ccxt.BadSymbol);
  });
});

describe('kraken replay limit', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer({ ccxtRateLimits: { kraken: { requests: 2, windowMs: 60_000 } } });
  });
  afterAll(() => server.close());

  it("beyond the limit Kraken's 429 `EGeneral:Too many requests`, which ccxt raises as DDoSProtection", async () => {
    const ex = kraken(server.ccxtUrl('kraken'), { enableRateLimit: false });
    await ex.loadMarkets();
    const err = await ex.fetchTicker('BTC/USD').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ccxt.DDoSProtection);
    expect(await getJson(`${server.ccxtUrl('kraken')}/0/public/Time`)).toEqual({ status: 429, body: { error: ['EGeneral:Too many requests'] } });
    const usage = server.ccxtUsage('kraken');
    expect({ accepted: usage.acceptedAt.length, rejected: usage.rejected, maxInWindow: usage.maxInWindow }).toEqual({ accepted: 2, rejected: 2, maxInWindow: 2 });
  });
});
