// Gap-fill across producer restarts and reconnects, on DuckDB and PostgreSQL, through the real nats-server on
// 127.0.0.1:4222: a restarted klines producer fills from the last candle in the warehouse, and a trade feed fills the
// trades a reconnect missed from REST (by trade id), each message id stored once.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer } from '../src/replay/index.ts';
import { startWsReplay } from '../src/replay/ws-replay.ts';
import { binanceAggTradesFeed, binanceKlinesFeed, binanceTradesFeed } from '../src/sources/binance/binance-feeds.ts';
import { connectNats, ensureFeedStream, feedSubject } from '../src/streaming/jetstream-streams.ts';
import { startFeedProducer, startStreamPipeline } from '../src/streaming/stream-pipeline.ts';
import { WebSocketServer, type WebSocket } from 'ws';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const MINUTE = 60_000;
const START = Date.parse('2024-06-10T00:00:00Z');

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let nc: NatsConnection;
let dir: string | undefined;
let db: TestDatabase | undefined;
let session: Session | undefined;
const streams: string[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  nc = await connectNats();
});
afterAll(async () => {
  await nc.close();
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  const jsm = await jetstreamManager(nc);
  for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
  await session?.close();
  session = undefined;
  await db?.drop();
  db = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function freshWarehouse(kind: WarehouseKind): Promise<{ session: Session; lake: LocalLake }> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-resume-'));
  if (kind === 'postgres') db = await createTestDatabase();
  session = await openWarehouse(db ? db.url : path.join(dir, 'coinlake.duckdb'));
  return { session, lake: new LocalLake(path.join(dir, 'lake')) };
}

const minutes = async (s: Session) =>
  (await s.query<{ ts: Date }>(`SELECT ts FROM coinlake.ohlcv_1m WHERE symbol = 'BTC-USDT' ORDER BY ts`).catch(() => [])).map((r) => (r.ts.getTime() - START) / MINUTE);

describe.each(WAREHOUSES)('producer restart on %s', (kind) => {
  it('`coinlake stream produce` (a process without the consumer) resumes from the last candle in the warehouse', async () => {
    const { session, lake } = await freshWarehouse(kind);
    const location = db ? db.url : path.join(dir!, 'coinlake.duckdb');
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    // Minutes 00:00-00:09 loaded by an earlier run.
    const before = await startWsReplay({ ticksPerSecond: 50, maxTicks: 10 });
    closers.push(() => before.close());
    const loaded = await startStreamPipeline({ feed: binanceKlinesFeed, nc, session, lake, prefix: `r${randomBytes(4).toString('hex')}`, wsBaseUrl: before.url, symbols: ['BTCUSDT'], batchSize: 50, batchMs: 50 });
    streams.push(loaded.names.stream);
    await until('10 minutes loaded', async () => (await minutes(session)).length === 10);
    await loaded.stop();
    await session.close();
    // The producer process starts at 00:20: it fills 00:10-00:19 from REST before its first candle.
    const ws = await startWsReplay({ ticksPerSecond: 5, klineStartMs: START + 20 * MINUTE });
    closers.push(() => ws.close());
    const prefix = `r${randomBytes(4).toString('hex')}`;
    const names = feedSubject(binanceKlinesFeed, prefix);
    streams.push(names.stream);
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '..', 'bin', 'coinlake.mjs'), '--warehouse', location, 'stream', 'produce', '--source', 'binance.klines', '--symbols', 'BTCUSDT', '--subject-prefix', prefix, '--duration', '3'], {
      cwd: dir, env: { ...process.env, COINLAKE_BINANCE_WS_URL: ws.url, COINLAKE_BINANCE_URL: rest.binanceUrl }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    expect(await new Promise<number | null>((resolve) => child.once('exit', resolve)), out).toBe(0);
    const jsm = await jetstreamManager(nc);
    const stored = (await jsm.streams.info(names.stream)).state.messages;
    const stamps: number[] = [];
    for (let seq = 1; seq <= stored; seq++) stamps.push((await jsm.streams.getMessage(names.stream, { seq }))!.json<{ ts: number }>().ts);
    const published = stamps.map((ts) => (ts - START) / MINUTE);
    expect(published.slice(0, 11), out).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(published).toEqual(Array.from({ length: stored }, (_, i) => 10 + i));
  }, 60_000);

  it('a restarted klines producer fills the minutes it missed from the last candle in the warehouse', async () => {
    const { session, lake } = await freshWarehouse(kind);
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    // One closed candle per tick (minute i at tick i); the feed keeps ticking while no producer listens. 10 a second:
    // the restarted producer must connect while the feed still sends (the fill runs at its first frame); at 20 a
    // second a CI rehearsal with other tests beside it once restarted after the feed's last minute.
    const ws = await startWsReplay({ ticksPerSecond: 10, maxTicks: 60 });
    closers.push(() => ws.close());
    const feedPath = '/stream?streams=btcusdt@kline_1m';
    const prefix = `r${randomBytes(4).toString('hex')}`;
    const opts = { feed: binanceKlinesFeed, nc, session, lake, prefix, wsBaseUrl: ws.url, restBaseUrl: rest.binanceUrl, symbols: ['BTCUSDT'], batchSize: 50, batchMs: 50 };

    const first = await startStreamPipeline(opts);
    streams.push(first.names.stream);
    await until('10 minutes loaded', async () => (await minutes(session)).length >= 10);
    await first.stop();
    const before = await minutes(session);
    const stoppedAt = ws.ticks(feedPath);
    // Minutes pass with no producer: these are the ones a restart must fetch.
    await until('8 minutes without a producer', () => ws.ticks(feedPath) >= stoppedAt + 8);

    const second = await startStreamPipeline(opts);
    closers.push(() => second.stop());
    await until('the feed to end', () => ws.ticks(feedPath) === 60);
    await until('minute 59 loaded', async () => (await minutes(session)).includes(59));
    await second.stop();
    closers.pop();

    expect(before.length).toBeGreaterThanOrEqual(10);
    expect(await minutes(session)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(second.producer.stats.gapFilled).toBeGreaterThanOrEqual(8);
    // Each minute is one message in the stream: what the first run published and the fill fetched again is a repeat.
    expect((await (await jetstreamManager(nc)).streams.info(first.names.stream)).state.messages).toBe(60);
  }, 60_000);
});

/** A trade as the test's exchange keeps it (Binance's historicalTrades shape). */
interface Trade {
  id: number;
  price: string;
  qty: string;
  quoteQty: string;
  time: number;
  isBuyerMaker: boolean;
  isBestMatch: boolean;
}

/**
 * A small Binance of the test's own on one port: the combined trade stream `/stream?streams=<s>@trade/…` (frames
 * `{stream, data: {e: "trade", …}}`) and `GET /api/v3/historicalTrades?symbol=&fromId=&limit=` (at most 1000, ascending
 * ids). Every tick, from the first connection on, each symbol trades `perTick` times (ids from 5000 up); a dropped
 * connection misses what trades meanwhile.
 */
async function startExchange(opts: { symbols: string[]; ticksPerSecond: number; perTick: number; maxTicks: number; onRequest?: (url: string) => void }) {
  const trades = new Map<string, Trade[]>(opts.symbols.map((s) => [s, []]));
  const requests: string[] = [];
  let ticks = 0;
  let timer: NodeJS.Timeout | undefined;
  let refuseUntil = 0;
  const clients = new Set<WebSocket>();
  const sentByWs = new Map<string, number>(opts.symbols.map((s) => [s, 0]));
  const tick = () => {
    if (ticks >= opts.maxTicks) return;
    ticks++;
    for (const [k, symbol] of opts.symbols.entries()) {
      const list = trades.get(symbol)!;
      for (let j = 0; j < opts.perTick; j++) {
        const n = list.length;
        const price = (100 + k + Math.sin(n) / 10).toFixed(8);
        const qty = (0.001 * (1 + (n % 13))).toFixed(8);
        const t: Trade = { id: 5000 + n, price, qty, quoteQty: (Number(price) * Number(qty)).toFixed(8), time: Date.parse('2024-06-10T00:00:00Z') + n * 10, isBuyerMaker: n % 3 === 0, isBestMatch: true };
        list.push(t);
        const frame = JSON.stringify({ stream: `${symbol.toLowerCase()}@trade`, data: { e: 'trade', E: t.time + 1, s: symbol, t: t.id, p: t.price, q: t.qty, T: t.time, m: t.isBuyerMaker, M: true } });
        for (const ws of clients) {
          ws.send(frame);
          sentByWs.set(symbol, sentByWs.get(symbol)! + 1);
        }
      }
    }
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(`${u.pathname}?${u.searchParams}`);
    opts.onRequest?.(requests[requests.length - 1]);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-mbx-used-weight-1m': '25' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname !== '/api/v3/historicalTrades') return json(404, { code: -1000, msg: `Unknown path ${u.pathname}.` });
    const list = trades.get(u.searchParams.get('symbol') ?? '');
    if (!list) return json(400, { code: -1121, msg: 'Invalid symbol.' });
    const limit = Math.min(Number(u.searchParams.get('limit') ?? 500), 1000);
    const fromId = u.searchParams.get('fromId');
    const start = fromId === null ? Math.max(0, list.length - limit) : Math.max(0, Number(fromId) - 5000);
    json(200, list.slice(start, start + limit));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    if (Date.now() < refuseUntil) return ws.close(1013, 'try again later');
    const want = opts.symbols.map((s) => `${s.toLowerCase()}@trade`).join('/');
    if (req.url !== `/stream?streams=${want}`) return ws.close(1008, `unknown feed ${req.url}`);
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    timer ??= setInterval(tick, 1000 / opts.ticksPerSecond);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
    trades,
    requests,
    sentByWs,
    ticks: () => ticks,
    /** Closes every connection and refuses new ones for refuseMs; trading goes on. */
    drop(refuseMs: number) {
      refuseUntil = Date.now() + refuseMs;
      for (const ws of clients) ws.terminate();
    },
    async close() {
      clearInterval(timer);
      for (const ws of clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each(WAREHOUSES)('trades missed during a reconnect on %s', (kind) => {
  it('are fetched from REST historicalTrades by id: every trade id in the warehouse exactly once, as the exchange has it', async () => {
    const { session, lake } = await freshWarehouse(kind);
    const symbols = ['BTCUSDT', 'ETHBTC'];
    // 20 ticks/s × 30 trades per symbol; the connection drops at tick 40 for 2.5 s: over 1,000 trades per symbol missed,
    // more than one REST page.
    // What the producer had gap-filled (published) when each REST request came.
    const filledAt: number[] = [];
    let stats: { gapFilled: number } | undefined = undefined;
    const ex = await startExchange({ symbols, ticksPerSecond: 20, perTick: 30, maxTicks: 150, onRequest: () => filledAt.push(stats?.gapFilled ?? -1) });
    closers.push(() => ex.close());
    const pipe = await startStreamPipeline({ feed: binanceTradesFeed, nc, session, lake, prefix: `t${randomBytes(4).toString('hex')}`, wsBaseUrl: ex.wsUrl, restBaseUrl: ex.restUrl, symbols, batchSize: 1000, batchMs: 100, minBackoffMs: 50, maxBackoffMs: 200 });
    stats = pipe.producer.stats;
    streams.push(pipe.names.stream);
    closers.push(() => pipe.stop());
    await until('40 ticks', () => ex.ticks() >= 40);
    ex.drop(2500);
    await until('the exchange to stop trading', () => ex.ticks() === 150, 60_000);
    const total = 150 * 30;
    await until(`${2 * total} trades loaded`, () => pipe.consumer.stats.messages >= 2 * total, 60_000);
    await pipe.stop();
    closers.pop();

    expect(pipe.producer.stats.connects).toBeGreaterThanOrEqual(2);
    const rows = await session.query<{ symbol: string; trade_id: string; msg_id: string; side: string; price: number; volume: number; ts: Date }>(
      `SELECT symbol, trade_id, msg_id, side, price, volume, ts FROM coinlake.stream_trades ORDER BY symbol, CAST(trade_id AS BIGINT)`,
    );
    expect(rows).toHaveLength(2 * total);
    for (const symbol of symbols) {
      const canonical = symbol === 'BTCUSDT' ? 'BTC-USDT' : 'ETH-BTC';
      const mine = rows.filter((r) => r.symbol === canonical);
      const list = ex.trades.get(symbol)!;
      expect(mine.map((r) => r.msg_id)).toEqual(list.map((t) => `binance.trades:${symbol}:${t.id}`));
      // Every row as the exchange has the trade, whether the websocket or REST brought it.
      expect(mine.map((r) => [r.side, r.price, r.volume, r.ts.getTime()])).toEqual(list.map((t) => [t.isBuyerMaker ? 'sell' : 'buy', Number(t.price), Number(t.qty), t.time]));
      // The websocket missed these; REST brought them, from the trade after the last one published, in pages of 1000.
      const missed = total - ex.sentByWs.get(symbol)!;
      expect(missed).toBeGreaterThan(1000);
      const fills = ex.requests.filter((r) => r.includes(`symbol=${symbol}&`));
      expect(fills.length).toBeGreaterThanOrEqual(2);
      // Page by page: the first page (1,000 trades) was published before the second was asked for.
      const at = ex.requests.flatMap((r, i) => (r.includes(`symbol=${symbol}&`) ? [filledAt[i]] : []));
      expect(at[1] - at[0]).toBe(1000);
      expect(fills.every((r) => r.startsWith('/api/v3/historicalTrades?symbol=') && /&fromId=\d+&limit=\d+$/.test(r))).toBe(true);
    }
    expect(pipe.producer.stats.gapFilled).toBeGreaterThan(2000);
    expect((await (await jetstreamManager(nc)).streams.info(pipe.names.stream)).state.messages).toBe(2 * total);
  }, 120_000);

  it('a restarted producer resumes after what the stream holds, when the warehouse is behind it: nothing fetched twice', async () => {
    const { session, lake } = await freshWarehouse(kind);
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    const ws = await startWsReplay({ ticksPerSecond: 25, maxTicks: 200 });
    closers.push(() => ws.close());
    const feedPath = '/stream?streams=btcusdt@trade/ethbtc@trade';
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const names = feedSubject(binanceTradesFeed, prefix);
    // A 1 s duplicate window stands in for the 10-minute one: a re-publish after it is stored again.
    await ensureFeedStream(await jetstreamManager(nc), names, 1000);
    streams.push(names.stream);
    const opts = { feed: binanceTradesFeed, nc, session, lake, prefix, wsBaseUrl: ws.url, restBaseUrl: rest.binanceUrl, symbols: ['BTCUSDT', 'ETHBTC'], batchSize: 20, batchMs: 50 };
    const count = async () => Number((await session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.stream_trades`).catch(() => [{ n: 0 }]))[0].n);
    // Producer and consumer until some trades are loaded; then the producer alone (the consumer is down) for a while.
    const first = await startStreamPipeline(opts);
    await until('20 trades loaded', async () => (await count()) >= 20);
    await first.stop();
    const alone = await startFeedProducer(opts);
    await until('40 more ticks published', () => ws.ticks(feedPath) >= 70);
    await alone.producer.stop();
    const behind = await count();
    const inStream = (await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages;
    expect(inStream).toBeGreaterThan(behind);
    await sleep(1500);
    // Both again: the warehouse is behind the stream.
    const second = await startStreamPipeline(opts);
    closers.push(() => second.stop());
    await until('the feed to end', () => ws.ticks(feedPath) === 200, 60_000);
    await until('400 trades loaded', async () => (await count()) >= 400, 30_000).catch(async (err: Error) => {
      const ids = await session.query<{ symbol: string; n: number; lo: number; hi: number }>(`SELECT symbol, count(*) AS n, min(CAST(trade_id AS BIGINT)) AS lo, max(CAST(trade_id AS BIGINT)) AS hi FROM coinlake.stream_trades GROUP BY symbol`);
      throw new Error(`${err.message}: ${JSON.stringify({ behind, inStream, ids, first: first.producer.stats, alone: alone.producer.stats, second: second.producer.stats, consumer: second.consumer.stats })}`);
    });
    await sleep(300);
    await second.stop();
    closers.pop();
    const rows = await session.query<{ n: number; ids: number }>(`SELECT count(*) AS n, count(DISTINCT msg_id) AS ids FROM coinlake.stream_trades`);
    expect([Number(rows[0].n), Number(rows[0].ids)]).toEqual([400, 400]);
    expect((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages).toBe(400);
    expect(second.producer.stats.frames).toBeGreaterThan(0);
  }, 120_000);

  const replayFeeds = [
    { feed: binanceTradesFeed, kind: 'trade', id: 'trade_id', first: 1_000_000 },
    { feed: binanceAggTradesFeed, kind: 'aggTrade', id: 'agg_trade_id', first: 500_000 },
  ] as const;
  for (const f of replayFeeds) {
    it(`a restarted binance.${f.feed.stream} producer fills from the last id in the warehouse (replay servers, as --replay)`, async () => {
      const { session, lake } = await freshWarehouse(kind);
      const rest = await startReplayServer();
      closers.push(() => rest.close());
      const ws = await startWsReplay({ ticksPerSecond: 50, maxTicks: 200 });
      closers.push(() => ws.close());
      const feedPath = `/stream?streams=btcusdt@${f.kind}/ethbtc@${f.kind}`;
      const opts = { feed: f.feed, nc, session, lake, prefix: `t${randomBytes(4).toString('hex')}`, wsBaseUrl: ws.url, restBaseUrl: rest.binanceUrl, symbols: ['BTCUSDT', 'ETHBTC'], batchSize: 100, batchMs: 50, minBackoffMs: 50, maxBackoffMs: 200 };
      const first = await startStreamPipeline(opts);
      streams.push(first.names.stream);
      await until('30 trades streamed', () => ws.ticks(feedPath) >= 30);
      // A reconnect: the feed refuses connections for 400 ms while it goes on trading.
      ws.dropConnections({ refuseMs: 400 });
      await until('80 trades streamed', () => ws.ticks(feedPath) >= 80);
      await first.stop();
      const stoppedAt = ws.ticks(feedPath);
      await until('30 trades without a producer', () => ws.ticks(feedPath) >= stoppedAt + 30);
      const second = await startStreamPipeline(opts);
      closers.push(() => second.stop());
      await until('the feed to end', () => ws.ticks(feedPath) === 200, 60_000);
      const count = async () => Number((await session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.stream_trades`))[0].n);
      await until('400 trades loaded', async () => (await count()) >= 400, 60_000);
      await second.stop();
      closers.pop();
      const rows = await session.query<{ symbol: string; n: number; ids: number; first: number; last: number }>(
        `SELECT symbol, count(*) AS n, count(DISTINCT ${f.id}) AS ids, min(CAST(${f.id} AS BIGINT)) AS first, max(CAST(${f.id} AS BIGINT)) AS last FROM coinlake.stream_trades GROUP BY symbol ORDER BY symbol`,
      );
      expect(rows.map((r) => [r.symbol, Number(r.n), Number(r.ids), Number(r.first), Number(r.last)])).toEqual([
        ['BTC-USDT', 200, 200, f.first, f.first + 199],
        ['ETH-BTC', 200, 200, f.first, f.first + 199],
      ]);
      expect(first.producer.stats.gapFilled).toBeGreaterThan(0);
      expect(second.producer.stats.gapFilled).toBeGreaterThanOrEqual(2 * 30);
      expect((await (await jetstreamManager(nc)).streams.info(first.names.stream)).state.messages).toBe(400);
    }, 120_000);
  }
});

describe('coinlake stream --silence', () => {
  const bin = path.resolve(import.meta.dirname, '..', 'bin', 'coinlake.mjs');
  const cli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    dir ??= await mkdtemp(path.join(os.tmpdir(), 'coinlake-resume-'));
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    return { code, out, err };
  };

  it('refuses a value that is not a positive number of seconds, and polled feeds', async () => {
    for (const bad of ['0', '1.5']) {
      const r = await cli(['stream', 'produce', '--source', 'binance.trades', '--silence', bad]);
      expect([r.code, r.err]).toEqual([1, `error: --silence must be a positive integer (got "${bad}")\n`]);
    }
    const polled = await cli(['stream', '--source', 'coincap.assets', '--silence', '5']);
    expect([polled.code, polled.err]).toEqual([1, 'error: --silence applies to websocket feeds; coincap.assets is polled\nhint: use --interval to set how often it is polled\n']);
  });

  it('reconnects a feed silent for that many seconds', async () => {
    // A websocket server that accepts and never sends.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    let connections = 0;
    wss.on('connection', () => connections++);
    closers.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const prefix = `s${randomBytes(4).toString('hex')}`;
    streams.push(feedSubject(binanceTradesFeed, prefix).stream);
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const r = await cli(['stream', 'produce', '--source', 'binance.trades', '--symbols', 'BTCUSDT', '--subject-prefix', prefix, '--silence', '1', '--duration', '5'], { COINLAKE_BINANCE_WS_URL: url });
    expect(r.code, r.err).toBe(0);
    const silent = r.err.split('\n').filter((l) => l.startsWith('warning: feed silent; reconnecting'));
    // Silent for 1 s, reconnected: twice at least in 5 s (30 s by default: never).
    expect(silent.length).toBeGreaterThanOrEqual(2);
    expect(connections).toBeGreaterThanOrEqual(3);
    expect(r.out).toMatch(/stopped: frames 0 .*published 0 /);
  }, 60_000);
});
