// Talks to a real replay server over loopback with fetch: paging, history, errors, rate limit,
// every fault kind, v3 auth, the v2 deprecation body and gzip.
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from './index.ts';
import { historyAnchor, historyPoint } from '../sources/coincap/coincap-replay-history.ts';

const fixture = (path: string) => new URL(`../../test/fixtures/${path}`, import.meta.url);
const readFixtureJson = async (path: string) => JSON.parse(await readFile(fixture(path), 'utf8'));

const DECIMAL_16 = /^-?\d+\.\d{16}$/;
const HOUR = 3_600_000;
const JAN_1_2024 = Date.UTC(2024, 0, 1);

async function getJson(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { res, body: await res.json() };
}

describe('replay server', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer();
  });
  afterAll(() => server.close());
  afterEach(() => server.clearFaults());

  it('binds loopback and exposes versioned base URLs', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.coincapV2Url).toBe(`${server.url}/v2`);
    expect(server.coincapV3Url).toBe(`${server.url}/v3`);
  });

  it('serves the recorded assets in the {data, timestamp} envelope', async () => {
    const recorded = await readFixtureJson('coincap-v2/assets.json');
    const before = Date.now();
    const { res, body } = await getJson(`${server.coincapV2Url}/assets`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(body)).toEqual(['data', 'timestamp']);
    expect(body.data).toEqual(recorded);
    expect(body.timestamp).toBeGreaterThanOrEqual(before);
    expect(body.timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('filters assets by ids and search, then pages', async () => {
    const byIds = await getJson(`${server.coincapV2Url}/assets?ids=ethereum,bitcoin`);
    expect(byIds.body.data.map((a: { id: string }) => a.id)).toEqual(['bitcoin', 'ethereum']);
    const bySearch = await getJson(`${server.coincapV2Url}/assets?search=BTC`);
    expect(bySearch.body.data.map((a: { id: string }) => a.id)).toEqual(['bitcoin', 'wrapped-bitcoin']);
    const paged = await getJson(`${server.coincapV2Url}/assets?limit=2&offset=1`);
    expect(paged.body.data.map((a: { id: string }) => a.id)).toEqual(['ethereum', 'tether']);
  });

  it('answers single records and 404s with CoinCap-style messages', async () => {
    const asset = await getJson(`${server.coincapV3Url}/assets/bitcoin`);
    expect(asset.body.data.priceUsd).toBe('96415.2658765104655223');
    const exchange = await getJson(`${server.coincapV2Url}/exchanges/binance`);
    expect(exchange.body.data.tradingPairs).toBe('549');
    const rate = await getJson(`${server.coincapV2Url}/rates/bitcoin`);
    expect(rate.body.data).toEqual({ id: 'bitcoin', symbol: 'BTC', currencySymbol: '₿', type: 'crypto', rateUsd: '96282.6913502873453438' });
    for (const [path, message] of [
      ['/v2/assets/no-such-coin', 'no-such-coin not found'],
      ['/v2/exchanges/nowhere', 'nowhere not found'],
      ['/v2/rates/zzz', 'zzz not found'],
      ['/v2/candles', 'not found'],
      ['/v4/assets', 'not found'],
    ]) {
      const res = await fetch(server.url + path);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe(JSON.stringify({ error: message }));
    }
  });

  it('serves whole exchange and rate lists and filters markets', async () => {
    const exchanges = await getJson(`${server.coincapV2Url}/exchanges`);
    expect(exchanges.body.data).toEqual(await readFixtureJson('coincap-v2/exchanges.json'));
    const rates = await getJson(`${server.coincapV2Url}/rates`);
    expect(rates.body.data).toHaveLength(192);
    const xrp = await getJson(`${server.coincapV2Url}/markets?baseId=xrp`);
    expect(xrp.body.data).toHaveLength(4);
    const xrpEth = await getJson(`${server.coincapV2Url}/markets?baseSymbol=XRP&quoteId=ethereum`);
    expect(xrpEth.body.data.map((m: { exchangeId: string }) => m.exchangeId)).toEqual(['bibox']);
    const assetMarkets = await getJson(`${server.coincapV2Url}/assets/xrp/markets?limit=3&offset=1`);
    expect(assetMarkets.body.data).toEqual(xrp.body.data.slice(1, 4));
  });

  it('rejects limit above 2000 with the exact CoinCap body', async () => {
    for (const path of ['/v2/assets?limit=2001', '/v3/markets?limit=2001', '/v2/assets/bitcoin/markets?limit=2001']) {
      const res = await fetch(server.url + path);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe('{"error":"limit exceeds 2000"}');
    }
  });

  it('generates an h1 history window: 240 points for 10 days, start inclusive, end exclusive', async () => {
    const end = JAN_1_2024 + 10 * 24 * HOUR;
    const path = `/v2/assets/ethereum/history?interval=h1&start=${JAN_1_2024}&end=${end}`;
    const { res, body } = await getJson(server.url + path);
    expect(res.status).toBe(200);
    expect(body.data).toHaveLength(240);
    expect(body.data[0].time).toBe(JAN_1_2024);
    expect(body.data[239].time).toBe(end - HOUR);
    expect(body.data[0].date).toBe('2024-01-01T00:00:00.000Z');
    for (const point of body.data) {
      expect(Object.keys(point)).toEqual(['priceUsd', 'time', 'circulatingSupply', 'date']);
      expect(point.priceUsd).toMatch(DECIMAL_16);
      expect(point.circulatingSupply).toMatch(DECIMAL_16);
      expect(point.date).toBe(new Date(point.time).toISOString());
    }
  });

  it('aligns history to the interval grid and clips to the configured range', async () => {
    const unaligned = await getJson(`${server.coincapV2Url}/assets/tether/history?interval=d1&start=${JAN_1_2024 + 1}&end=${JAN_1_2024 + 3 * 24 * HOUR + 1}`);
    expect(unaligned.body.data.map((p: { date: string }) => p.date)).toEqual([
      '2024-01-02T00:00:00.000Z',
      '2024-01-03T00:00:00.000Z',
      '2024-01-04T00:00:00.000Z',
    ]);
    const pastEnd = await getJson(`${server.coincapV2Url}/assets/tether/history?interval=d1&start=${Date.UTC(2024, 11, 30)}&end=${Date.UTC(2025, 5, 1)}`);
    expect(pastEnd.body.data.map((p: { date: string }) => p.date)).toEqual(['2024-12-30T00:00:00.000Z', '2024-12-31T00:00:00.000Z']);
  });

  it('serves the same history values on every request and in every server', async () => {
    const path = `/v3/assets/ethereum/history?interval=d1&start=${JAN_1_2024}&end=${JAN_1_2024 + 2 * 24 * HOUR}`;
    const first = await getJson(server.url + path);
    const second = await getJson(server.url + path);
    expect(JSON.stringify(second.body.data)).toBe(JSON.stringify(first.body.data));
    const other = await startReplayServer();
    try {
      const third = await getJson(other.url + path);
      expect(JSON.stringify(third.body.data)).toBe(JSON.stringify(first.body.data));
    } finally {
      await other.close();
    }
    // The generator's point, anchored at the recorded ethereum record and the default range's end.
    const ethereum = (await readFixtureJson('coincap-v2/assets.json')).find((a: { id: string }) => a.id === 'ethereum');
    const point = historyPoint('ethereum', JAN_1_2024, historyAnchor(ethereum, { endMs: Date.UTC(2025, 0, 1) }));
    expect(first.body.data[0]).toEqual(point);
    expect(point).toMatchObject({ time: JAN_1_2024, date: '2024-01-01T00:00:00.000Z' });
    expect(Number(point.priceUsd)).toBeGreaterThan(1000); // ethereum's level, not a placeholder's
    expect(Number(point.circulatingSupply)).toBeLessThan(Number(ethereum.supply));
  });

  it('serves the recorded bitcoin history when no start/end is given', async () => {
    const recorded = await readFixtureJson('coincap-v2/bitcoin-history.json');
    const { body } = await getJson(`${server.coincapV2Url}/assets/bitcoin/history?interval=h1`);
    expect(body.data).toEqual(recorded.data);
  });

  it('streams a large generated window with chunked encoding', async () => {
    const end = JAN_1_2024 + 30 * 24 * HOUR;
    const res = await fetch(`${server.coincapV2Url}/assets/solana/history?interval=m1&start=${JAN_1_2024}&end=${end}`);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-length')).toBeNull();
    const body = await res.json();
    expect(body.data).toHaveLength(30 * 24 * 60);
    expect(body.data[43_199].time).toBe(end - 60_000);
    expect(typeof body.timestamp).toBe('number');
  });

  it('validates history parameters with the exact CoinCap messages', async () => {
    const cases: [string, string][] = [
      ['/v2/assets/bitcoin/history', 'use valid interval: m1, m5, m15, m30, h1, h2, h6, h12, d1'],
      ['/v2/assets/bitcoin/history?interval=h4', 'use valid interval: m1, m5, m15, m30, h1, h2, h6, h12, d1'],
      ['/v2/assets/bitcoin/history?interval=h1&start=1', 'query requires end'],
      ['/v3/assets/bitcoin/history?interval=h1&end=1', 'query requires start'],
    ];
    for (const [path, message] of cases) {
      const res = await fetch(server.url + path);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe(JSON.stringify({ error: message }));
    }
  });

  it('records every request with path, query, headers and final status', async () => {
    const before = server.requests.length;
    await fetch(`${server.coincapV2Url}/rates?x=1`, { headers: { 'x-test': 'yes' } });
    await fetch(`${server.coincapV2Url}/assets/nope`);
    const [rates, nope] = server.requests.slice(before);
    expect(rates).toMatchObject({ method: 'GET', path: '/v2/rates', query: { x: '1' }, status: 200 });
    expect(rates.headers['x-test']).toBe('yes');
    expect(nope).toMatchObject({ path: '/v2/assets/nope', status: 404 });
    expect(server.requests).toHaveLength(before + 2);
  });

  it('replaces and returns collection data', async () => {
    const original = server.getData('exchanges');
    try {
      server.setData('exchanges', [{ exchangeId: 'tiny', name: 'Tiny' }]);
      const { body } = await getJson(`${server.coincapV2Url}/exchanges`);
      expect(body.data).toEqual([{ exchangeId: 'tiny', name: 'Tiny' }]);
      expect(server.getData('exchanges')).toEqual([{ exchangeId: 'tiny', name: 'Tiny' }]);
    } finally {
      server.setData('exchanges', original);
    }
  });

  it('gzips when the client accepts it and not otherwise', async () => {
    const plain = await fetch(`${server.coincapV2Url}/assets`, { headers: { 'accept-encoding': 'identity' } });
    const plainText = await plain.text();
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(Number(plain.headers.get('content-length'))).toBe(Buffer.byteLength(plainText));
    const zipped = await fetch(`${server.coincapV2Url}/assets`, { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    const compressedLength = Number(zipped.headers.get('content-length'));
    expect(compressedLength).toBeGreaterThan(0);
    expect(compressedLength).toBeLessThan(Buffer.byteLength(plainText) / 3);
    expect((await zipped.json()).data).toEqual(JSON.parse(plainText).data);
  });

  describe('faults', () => {
    it('status429 answers 429 with Retry-After once, then recovers', async () => {
      server.inject({ kind: 'status429', retryAfterSeconds: 7 });
      const limited = await fetch(`${server.coincapV2Url}/assets`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(await limited.text()).toBe('{"error":"rate limit exceeded"}');
      expect((await fetch(`${server.coincapV2Url}/assets`)).status).toBe(200);
    });

    it('status500 and status503 are consumed in FIFO order', async () => {
      server.inject({ kind: 'status500' });
      server.inject({ kind: 'status503' });
      const first = await fetch(`${server.coincapV2Url}/rates`);
      const second = await fetch(`${server.coincapV2Url}/rates`);
      const third = await fetch(`${server.coincapV2Url}/rates`);
      expect([first.status, second.status, third.status]).toEqual([500, 503, 200]);
      expect(await first.text()).toBe('{"error":"internal server error"}');
      expect(await second.text()).toBe('{"error":"service unavailable"}');
    });

    it('matches by path prefix and honours times and Infinity', async () => {
      server.inject({ kind: 'status500', path: '/v2/exchanges', times: 2 });
      expect((await fetch(`${server.coincapV2Url}/assets`)).status).toBe(200);
      expect((await fetch(`${server.coincapV2Url}/exchanges/binance`)).status).toBe(500);
      expect((await fetch(`${server.coincapV2Url}/exchanges`)).status).toBe(500);
      expect((await fetch(`${server.coincapV2Url}/exchanges`)).status).toBe(200);
      server.inject({ kind: 'status503', path: '/v3', times: Infinity });
      for (let i = 0; i < 5; i++) expect((await fetch(`${server.coincapV3Url}/rates`)).status).toBe(503);
      server.clearFaults();
      expect((await fetch(`${server.coincapV3Url}/rates`)).status).toBe(200);
    });

    it('slow delays the normal answer', async () => {
      server.inject({ kind: 'slow', delayMs: 300 });
      const started = performance.now();
      const res = await fetch(`${server.coincapV2Url}/rates/bitcoin`);
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
      expect((await res.json()).data.id).toBe('bitcoin');
    });

    it('reset drops the connection without a response', async () => {
      server.inject({ kind: 'reset' });
      await expect(fetch(`${server.coincapV2Url}/assets`)).rejects.toThrow('fetch failed');
      expect(server.requests.at(-1)).toMatchObject({ path: '/v2/assets', status: 0 });
      expect((await fetch(`${server.coincapV2Url}/assets`)).status).toBe(200);
    });

    it('truncate announces the full length but sends half the body', async () => {
      const headers = { 'accept-encoding': 'identity' };
      const full = await fetch(`${server.coincapV2Url}/exchanges`, { headers });
      const fullLength = Number(full.headers.get('content-length'));
      expect(Buffer.byteLength(await full.text())).toBe(fullLength);
      server.inject({ kind: 'truncate' });
      const res = await fetch(`${server.coincapV2Url}/exchanges`, { headers });
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('content-length'))).toBe(fullLength);
      await expect(res.text()).rejects.toThrow();
    });

    it('html answers 502 with an HTML page', async () => {
      server.inject({ kind: 'html' });
      const res = await fetch(`${server.coincapV2Url}/assets`);
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toBe('text/html');
      expect(await res.text()).toContain('<title>502 Bad Gateway</title>');
    });

    it('invalidJson answers 200 with a body that does not parse', async () => {
      server.inject({ kind: 'invalidJson' });
      const res = await fetch(`${server.coincapV2Url}/assets`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const text = await res.text();
      expect(text).toBe('{"data":[{"id":');
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
    });
  });
});

describe('replay server options', () => {
  it('assetCount 2500 pages past the recorded assets in chunks of 2000', async () => {
    const server = await startReplayServer({ assetCount: 2500 });
    try {
      const recorded = await readFixtureJson('coincap-v2/assets.json');
      const first = await getJson(`${server.coincapV2Url}/assets?limit=2000&offset=0`);
      const second = await getJson(`${server.coincapV2Url}/assets?limit=2000&offset=2000`);
      expect(first.body.data).toHaveLength(2000);
      expect(second.body.data).toHaveLength(500);
      expect(first.body.data.slice(0, 100)).toEqual(recorded);
      const generated = first.body.data[100];
      expect(generated).toMatchObject({ id: 'asset-101', rank: '101', symbol: 'A101', name: 'Asset 101' });
      for (const field of ['supply', 'maxSupply', 'marketCapUsd', 'volumeUsd24Hr', 'priceUsd', 'changePercent24Hr', 'vwap24Hr']) {
        expect(generated[field]).toMatch(DECIMAL_16);
      }
      expect(first.body.data[101]).toMatchObject({ id: 'asset-102', maxSupply: null });
      expect(second.body.data[499]).toMatchObject({ id: 'asset-2500', rank: '2500' });
      const history = await getJson(`${server.coincapV2Url}/assets/asset-2500/history?interval=d1&start=${JAN_1_2024}&end=${JAN_1_2024 + 24 * HOUR}`);
      expect(history.body.data).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('rateLimitPerMinute 3 answers the 4th request with 429 and Retry-After', async () => {
    const server = await startReplayServer({ rateLimitPerMinute: 3 });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${server.coincapV2Url}/rates`)).status);
      const fourth = await fetch(`${server.coincapV2Url}/rates`);
      expect(statuses).toEqual([200, 200, 200]);
      expect(fourth.status).toBe(429);
      expect(await fourth.text()).toBe('{"error":"rate limit exceeded"}');
      const expected = Math.ceil((server.requests[0].at + 60_000 - server.requests[3].at) / 1000);
      expect(Number(fourth.headers.get('retry-after'))).toBe(expected);
      expect(expected).toBeGreaterThanOrEqual(59);
      expect(server.requests.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    } finally {
      await server.close();
    }
  });

  it('v3 with apiKey requires the key as Bearer header or apiKey query', async () => {
    const server = await startReplayServer({ apiKey: 'secret-key' });
    try {
      const anonymous = await fetch(`${server.coincapV3Url}/assets/bitcoin`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.text()).toBe('{"error":"Unauthorized"}');
      const wrong = await fetch(`${server.coincapV3Url}/assets/bitcoin`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const bearer = await getJson(`${server.coincapV3Url}/assets/bitcoin`, { headers: { authorization: 'Bearer secret-key' } });
      expect(bearer.res.status).toBe(200);
      expect(bearer.body.data.id).toBe('bitcoin');
      expect((await fetch(`${server.coincapV3Url}/assets/bitcoin?apiKey=secret-key`)).status).toBe(200);
      expect((await fetch(`${server.coincapV2Url}/assets/bitcoin`)).status).toBe(200);
      expect(server.requests[2].headers.authorization).toBe('Bearer secret-key');
    } finally {
      await server.close();
    }
  });

  it('deprecatedV2 answers every /v2 path with the captured deprecation body', async () => {
    const server = await startReplayServer({ deprecatedV2: true });
    try {
      const captured = await readFile(fixture('formats/coincap-v2-deprecated-2025.json'), 'utf8');
      for (const path of ['/v2/assets', '/v2/rates/bitcoin', '/v2/anything/at/all']) {
        const res = await fetch(server.url + path);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(captured);
      }
      const v3 = await getJson(`${server.coincapV3Url}/assets/bitcoin`);
      expect(v3.body.data.id).toBe('bitcoin');
    } finally {
      await server.close();
    }
  });

  it('custom history range bounds generated series', async () => {
    const server = await startReplayServer({ historyStart: '2024-06-01T00:00:00Z', historyEnd: '2024-06-03T00:00:00Z' });
    try {
      const { body } = await getJson(`${server.coincapV2Url}/assets/ethereum/history?interval=h6`);
      expect(body.data.map((p: { date: string }) => p.date)).toEqual([
        '2024-06-01T00:00:00.000Z',
        '2024-06-01T06:00:00.000Z',
        '2024-06-01T12:00:00.000Z',
        '2024-06-01T18:00:00.000Z',
        '2024-06-02T00:00:00.000Z',
        '2024-06-02T06:00:00.000Z',
        '2024-06-02T12:00:00.000Z',
        '2024-06-02T18:00:00.000Z',
      ]);
    } finally {
      await server.close();
    }
  });
});
