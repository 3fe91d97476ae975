// The replay server's Binance klines over loopback: Binance's paging rules, 400 bodies, the weight header, and the
// weight limit (429 with Retry-After and -1003, then 418 for a client that keeps going).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../replay/index.ts';
import { kline, klineExists } from './binance-replay-klines.ts';

const formats = (name: string) => readFile(new URL(`../../../test/fixtures/formats/${name}`, import.meta.url), 'utf8');
const MIN = 60_000;
const MAR_1 = Date.UTC(2024, 2, 1);
const DECIMAL_8 = /^\d+\.\d{8}$/;

async function klines(server: ReplayServer, query: string) {
  const res = await fetch(`${server.binanceUrl}/api/v3/klines?${query}`);
  return { res, body: await res.json() };
}

describe('replay server: Binance klines', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer();
  });
  afterAll(() => server.close());

  it('serves 12-field klines in Binance number formatting, grid-aligned from startTime, ascending', async () => {
    const { res, body } = await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1 + 30_000}&limit=3`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mbx-used-weight-1m')).toMatch(/^\d+$/);
    expect(body.map((k: unknown[]) => k[0])).toEqual([MAR_1 + MIN, MAR_1 + 2 * MIN, MAR_1 + 3 * MIN]);
    const [k] = body;
    expect(k).toHaveLength(12);
    expect(k[6]).toBe(MAR_1 + 2 * MIN - 1);
    for (const i of [1, 2, 3, 4, 5, 7, 9, 10]) expect(k[i]).toMatch(DECIMAL_8);
    expect(Number.isInteger(k[8])).toBe(true);
    expect(k[11]).toBe('0');
    expect(Number(k[2])).toBeGreaterThanOrEqual(Math.max(Number(k[1]), Number(k[4])));
    expect(Number(k[3])).toBeLessThanOrEqual(Math.min(Number(k[1]), Number(k[4])));
    expect(k).toEqual(kline('BTCUSDT', '1m', MAR_1 + MIN));
    // The shape of the recorded format example.
    const recorded = JSON.parse(await formats('binance-klines-BTCUSDT-1m.json'));
    expect(recorded[0].map((v: unknown) => typeof v)).toEqual(k.map((v: unknown) => typeof v));
  });

  it('is deterministic: the same candle every time, close equals the next open', async () => {
    const a = await klines(server, `symbol=ETHUSDT&interval=1h&startTime=${MAR_1}&limit=2`);
    const b = await klines(server, `symbol=ETHUSDT&interval=1h&startTime=${MAR_1}&limit=2`);
    expect(a.body).toEqual(b.body);
    expect(a.body[0][4]).toBe(a.body[1][1]);
  });

  it('treats endTime as inclusive on the open time; default limit 500, at most 1000', async () => {
    const end = await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&endTime=${MAR_1 + 2 * MIN}`);
    expect(end.body.map((k: unknown[]) => k[0])).toEqual([MAR_1, MAR_1 + MIN, MAR_1 + 2 * MIN]);
    expect((await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}`)).body).toHaveLength(500);
    expect((await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&limit=5000`)).body).toHaveLength(1000);
    const latest = await klines(server, `symbol=BTCUSDT&interval=1d&endTime=${MAR_1}&limit=2`);
    expect(latest.body.map((k: unknown[]) => k[0])).toEqual([MAR_1 - 86_400_000, MAR_1]);
  });

  it('leaves out the candles of maintenance windows', async () => {
    // 2024-03-05 is day 19787 since the epoch (7 mod 10): no trading 02:00–02:30.
    const start = Date.UTC(2024, 2, 5, 1, 50);
    const { body } = await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${start}&endTime=${start + 59 * MIN}`);
    expect(body).toHaveLength(60 - 30);
    expect(klineExists('1m', Date.UTC(2024, 2, 5, 2, 10))).toBe(false);
    expect(klineExists('1h', Date.UTC(2024, 2, 5, 2, 0))).toBe(true);
  });

  it('answers bad requests with the recorded Binance bodies', async () => {
    const symbol = await klines(server, 'symbol=NOPEUSDT&interval=1m');
    expect(symbol.res.status).toBe(400);
    expect(symbol.body).toEqual(JSON.parse(await formats('binance-error-400-invalid-symbol.json')));
    const interval = await klines(server, 'symbol=BTCUSDT&interval=7m');
    expect(interval.res.status).toBe(400);
    expect(interval.body).toEqual(JSON.parse(await formats('binance-error-400-invalid-interval.json')));
    const missing = await klines(server, 'interval=1m');
    expect(missing.body.code).toBe(-1102);
  });
});

describe('replay server: Binance request weight', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    // 10 weight per window of 3 s: five klines requests.
    server = await startReplayServer({ binanceWeightPerMinute: 10, binanceWindowMs: 3_000 });
  });
  afterAll(() => server.close());

  it('counts weight 2 per klines request, then answers 429 with Retry-After and -1003, then 418', async () => {
    // Start at the beginning of a window so all requests fall in one.
    await new Promise((r) => setTimeout(r, 3_000 - (Date.now() % 3_000) + 20));
    const used: string[] = [];
    for (let i = 0; i < 5; i++) used.push((await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&limit=1`)).res.headers.get('x-mbx-used-weight-1m')!);
    expect(used).toEqual(['2', '4', '6', '8', '10']);
    const refused = await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&limit=1`);
    expect(refused.res.status).toBe(429);
    expect(Number(refused.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const template = JSON.parse(await formats('binance-error-429.json'));
    expect(refused.body).toEqual({ ...template, msg: template.msg.replace('6000', '10') });
    for (let i = 0; i < 4; i++) await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&limit=1`);
    const banned = await klines(server, `symbol=BTCUSDT&interval=1m&startTime=${MAR_1}&limit=1`);
    expect(banned.res.status).toBe(418);
    expect(banned.body.msg).toMatch(/IP banned until \d+/);
    const usage = server.binanceUsage();
    expect(usage).toMatchObject({ limit: 10, maxWindowWeight: 10, accepted: 5, rejected: 5, banned: 1 });
  });
});

describe('replay server: Binance historicalTrades', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer();
  });
  afterAll(() => server.close());

  it('serves the websocket replay trade series by id, in Binance shape, weight 25, at most 1000', async () => {
    const res = await fetch(`${server.binanceUrl}/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1000003&limit=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mbx-used-weight-1m')).toBe('25');
    const body = await res.json();
    expect(body).toEqual([
      { id: 1_000_003, price: '99.91817229', qty: '3.50000000', quoteQty: '349.71360301', time: Date.parse('2024-06-10T00:00:00.300Z'), isBuyerMaker: true, isBestMatch: true },
      { id: 1_000_004, price: '99.90038354', qty: '4.50000000', quoteQty: '449.55172593', time: Date.parse('2024-06-10T00:00:00.400Z'), isBuyerMaker: false, isBestMatch: true },
    ]);
    // The same trades as the websocket replay's btcusdt@trade frames 3 and 4.
    const { startWsReplay } = await import('../../replay/ws-replay.ts');
    const { binanceTradesFeed } = await import('./binance-feeds.ts');
    const ws = await startWsReplay({ ticksPerSecond: 200, maxTicks: 5 });
    const { default: WebSocket } = await import('ws');
    const frames: string[] = [];
    const client = new WebSocket(`${ws.url}/ws/btcusdt@trade`);
    client.on('message', (d) => frames.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => frames.length >= 5 && (clearInterval(t), resolve()), 10);
      setTimeout(() => (clearInterval(t), reject(new Error(`5 frames not received: ${frames.length}`))), 10_000);
    });
    client.terminate();
    await ws.close();
    const fromWs = frames.slice(3, 5).flatMap((f) => binanceTradesFeed.parse(f, 0)).map((r) => [r.record.trade_id, r.record.price, r.record.volume, r.record.ts, r.record.side]);
    expect(fromWs).toEqual(body.map((t: { id: number; price: string; qty: string; time: number; isBuyerMaker: boolean }) => [String(t.id), t.price, t.qty, t.time, t.isBuyerMaker ? 'sell' : 'buy']));
    const page = await (await fetch(`${server.binanceUrl}/api/v3/historicalTrades?symbol=ETHBTC&fromId=1000000&limit=5000`)).json();
    expect([page.length, page[0].id, page[999].id]).toEqual([1000, 1_000_000, 1_000_999]);
  });

  it('serves /api/v3/aggTrades by id from the websocket replay aggTrade series, weight 2', async () => {
    // A server of its own: the weight header counts the window's requests.
    const own = await startReplayServer();
    const res = await fetch(`${own.binanceUrl}/api/v3/aggTrades?symbol=ETHBTC&fromId=500007&limit=1`);
    await own.close();
    expect([res.status, res.headers.get('x-mbx-used-weight-1m')]).toEqual([200, '2']);
    const body = await res.json();
    expect(body).toEqual([{ a: 500_007, p: (100 * (1 + 0.001 * Math.sin(7 * 0.7 + 3))).toFixed(8), q: '3.50000000', f: 1_000_021, l: 1_000_023, T: Date.parse('2024-06-10T00:00:00.700Z'), m: true, M: true }]);
    const { startWsReplay } = await import('../../replay/ws-replay.ts');
    const ws = await startWsReplay({ ticksPerSecond: 200, maxTicks: 8 });
    const { default: WebSocket } = await import('ws');
    const frames: string[] = [];
    const client = new WebSocket(`${ws.url}/ws/ethbtc@aggTrade`);
    client.on('message', (d) => frames.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => frames.length >= 8 && (clearInterval(t), resolve()), 10);
      setTimeout(() => (clearInterval(t), reject(new Error(`8 frames not received: ${frames.length}`))), 10_000);
    });
    client.terminate();
    await ws.close();
    expect(JSON.parse(frames[7])).toEqual({ e: 'aggTrade', E: body[0].T + 1, s: 'ETHBTC', ...body[0] });
  });

  it('answers a missing or unknown symbol as Binance does', async () => {
    const missing = await fetch(`${server.binanceUrl}/api/v3/historicalTrades?fromId=1`);
    expect([missing.status, await missing.json()]).toEqual([400, { code: -1102, msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed." }]);
    const unknown = await fetch(`${server.binanceUrl}/api/v3/historicalTrades?symbol=NOPE`);
    expect([unknown.status, await unknown.json()]).toEqual([400, { code: -1121, msg: 'Invalid symbol.' }]);
  });
});
