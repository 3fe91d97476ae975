// Edges of the live streams (issue #21, Streams), on DuckDB and PostgreSQL against the real nats-server on 4222:
// a JetStream stream deleted and created again under the same name, Binance aggTrade and other frame kinds, and
// durable consumer names under --subject-prefix. Every test uses its own subject prefix and stream.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startWsReplay } from '../src/replay/ws-replay.ts';
import { binanceAggTradesFeed, binanceTradesFeed } from '../src/sources/binance/binance-feeds.ts';
import { connectNats, ensureFeedStream, feedSubject } from '../src/streaming/jetstream-streams.ts';
import { streamTradesTable } from '../src/streaming/stream-tables.ts';
import { startFeedConsumer, startStreamPipeline } from '../src/streaming/stream-pipeline.ts';
import { WsProducer } from '../src/streaming/ws-producer.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'coinlake.mjs');

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Runs the CLI to its end: exit code, stdout, stderr. */
function coinlake(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let nc: NatsConnection;
let dir: string | undefined;
let db: TestDatabase | undefined;
let session: Session | undefined;
let location = '';
let lake: LocalLake;
const streams: string[] = [];
const closers: (() => Promise<void>)[] = [];

const prefix = () => `e${randomBytes(4).toString('hex')}`;

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

/** A fresh warehouse (a DuckDB file in a temp dir, or a new PostgreSQL database) and lake; returns the session. */
async function freshWarehouse(kind: WarehouseKind): Promise<Session> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-edges-'));
  if (kind === 'postgres') db = await createTestDatabase();
  location = db ? db.url : path.join(dir, 'coinlake.duckdb');
  session = await openWarehouse(location);
  lake = new LocalLake(path.join(dir, 'lake'));
  return session;
}

/** Binance trade `id` of BTCUSDT as the feed publishes it. */
const trade = (id: number) =>
  binanceTradesFeed.parse(JSON.stringify({ e: 'trade', E: 1717978200001 + id, s: 'BTCUSDT', t: id, p: `${60000 + id}.5`, q: '0.25', T: 1717978200000 + id, m: id % 2 === 0, M: true }), 1717978300000);

describe.each(WAREHOUSES)('a stream deleted and created again on %s', (kind) => {
  it('the consumer starts over on the new stream (sequences from 1), says so in the log, the run row and status; nothing lost or twice', async () => {
    const s = await freshWarehouse(kind);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    const consume = async (messages: number) => {
      const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
      await until(`${messages} messages taken`, () => consumer.stats.messages + consumer.stats.skipped >= messages);
      await consumer.stop();
      return consumer;
    };

    await producer.publish([...trade(1), ...trade(2)]);
    const first = await consume(2);
    expect(first.stats).toMatchObject({ messages: 2, rowsLoaded: 2, skipped: 0 });

    // The stream is deleted (its durable consumer with it) and created again: its sequences start at 1 again. The
    // new stream gets trade 2 again (loaded before: not twice) and three new trades.
    await jsm.streams.delete(names.stream);
    await ensureFeedStream(jsm, names);
    await producer.publish([...trade(2), ...trade(3), ...trade(4), ...trade(5)]);
    const second = await consume(4);
    expect(second.stats).toMatchObject({ messages: 4, rowsLoaded: 3, skipped: 0, alreadyLoaded: 1 });

    const rows = await s.query<{ msg_id: string; n: number }>(`SELECT msg_id, count(*) AS n FROM coinlake.stream_trades GROUP BY msg_id ORDER BY msg_id`);
    expect(rows.map((r) => [r.msg_id, Number(r.n)])).toEqual([1, 2, 3, 4, 5].map((id) => [`binance.trades:BTCUSDT:${id}`, 1]));
    const created = (await jsm.streams.info(names.stream)).created;
    const notice = `stream ${names.stream} was deleted and created again (created ${created}); loading started over from its sequence 1 (the earlier stream was loaded up to sequence 2)`;
    const runs = await s.query<{ execution_status: number; details: string; log_path: string }>(
      `SELECT execution_status, details, log_path FROM coinlake_meta.workflow_action_history ORDER BY process_id`,
    );
    const note = `stream re-created ${created.slice(0, 19)}Z: started over`;
    expect(runs.map((r) => [r.execution_status, JSON.parse(r.details) as { notice?: string; note?: string }])).toEqual([
      [1, expect.not.objectContaining({ notice: expect.anything() })],
      [1, expect.objectContaining({ notice, note })],
    ]);
    expect(readFileSync(runs[1].log_path, 'utf8')).toContain('stream re-created; starting over from its first message');
    const state = await s.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = $1`, [`STREAM_${names.stream}`]);
    expect(JSON.parse(state[0].state)).toMatchObject({ floor: 4, above: [], created });

    // A third start on the same (new) stream: nothing new, no notice.
    const third = await consume(0);
    expect(third.stats).toMatchObject({ messages: 0, rowsLoaded: 0 });

    await s.close();
    session = undefined;
    const st = await coinlake(['--warehouse', location, '--lake', path.join(dir!, 'lake'), 'status'], dir!);
    expect(st.code).toBe(0);
    const lines = st.stdout.split('\n');
    expect(lines[0]).toMatch(/^process\s+run_id\s+connection\s+table\s+status\s+started\s+seconds\s+extracted\s+loaded\s+quarantined\s+error\s+note$/);
    expect(lines.find((l) => /^2\s/.test(l))).toMatch(new RegExp(`^2\\s+\\S+\\s+STREAM_${names.stream}\\s+\\S+\\s+ok\\s.*\\s${note}$`));
    expect(lines.find((l) => /^3\s/.test(l))).not.toContain('re-created');
  }, 120_000);

  it('`coinlake stream consume` says so on its console: the note, and the rows already loaded', async () => {
    const s = await freshWarehouse(kind);
    await s.close();
    session = undefined;
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    const consume = () => coinlake(['--warehouse', location, '--lake', path.join(dir!, 'lake'), 'stream', 'consume', '--source', 'binance.trades', '--subject-prefix', p, '--batch-ms', '100', '--duration', '3'], dir!);
    await producer.publish([...trade(1), ...trade(2)]);
    const first = await consume();
    expect(first.stdout).toMatch(/\nstopped: batches 1  messages 2  rows 2  redeliveries skipped 0\n$/);
    await jsm.streams.delete(names.stream);
    await ensureFeedStream(jsm, names);
    await producer.publish([...trade(2), ...trade(3), ...trade(4)]);
    const second = await consume();
    expect(second.stderr).toBe('');
    const created = (await jsm.streams.info(names.stream)).created;
    expect(second.stdout.split('\n')[0]).toBe(
      `note: stream ${names.stream} was deleted and created again (created ${created}); loading started over from its sequence 1 (the earlier stream was loaded up to sequence 2)`,
    );
    expect(second.stdout).toMatch(/\nstopped: batches 1  messages 3  rows 2  redeliveries skipped 0  already loaded 1\n$/);
  }, 60_000);

  it('a state written before creation times were kept: a floor beyond the new stream\'s last sequence starts over too', async () => {
    const s = await freshWarehouse(kind);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    const consume = async (messages: number) => {
      const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
      await until(`${messages} messages taken`, () => consumer.stats.messages + consumer.stats.skipped >= messages);
      await consumer.stop();
      return consumer;
    };
    await producer.publish([...trade(1), ...trade(2), ...trade(3)]);
    await consume(3);
    // The state as an earlier version wrote it: sequences only.
    await s.exec(`UPDATE coinlake_meta.ingestion_state SET state = '{"floor":3,"above":[]}'`);
    await jsm.streams.delete(names.stream);
    await ensureFeedStream(jsm, names);
    await producer.publish([...trade(4), ...trade(5)]);
    const second = await consume(2);
    expect(second.stats).toMatchObject({ messages: 2, rowsLoaded: 2, skipped: 0, alreadyLoaded: 0 });
    expect(second.notice?.notice).toMatch(/ \(the earlier stream was loaded up to sequence 3\)$/);
    const rows = await s.query<{ msg_id: string }>(`SELECT msg_id FROM coinlake.stream_trades ORDER BY msg_id`);
    expect(rows.map((r) => r.msg_id)).toEqual([1, 2, 3, 4, 5].map((id) => `binance.trades:BTCUSDT:${id}`));
  }, 60_000);
});

/** A websocket server of the test's own: every connection gets `frames`, in order, then nothing (it stays open). */
async function framesServer(frames: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    for (const f of frames) ws.send(f);
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

// Frames in the shapes of Binance's websocket market-stream documentation (combined streams unless said otherwise).
const combined = (stream: string, data: object) => JSON.stringify({ stream, data });
const MIXED_FRAMES = [
  combined('btcusdt@trade', { e: 'trade', E: 1717977600101, s: 'BTCUSDT', t: 3000001, p: '69000.10000000', q: '0.01000000', T: 1717977600100, m: true, M: true }),
  combined('btcusdt@aggTrade', { e: 'aggTrade', E: 1717977600201, s: 'BTCUSDT', a: 26129, p: '69000.20000000', q: '0.35000000', f: 100, l: 105, T: 1717977600200, m: true, M: true }),
  combined('btcusdt@depth@100ms', { e: 'depthUpdate', E: 1717977600300, s: 'BTCUSDT', U: 157, u: 160, b: [['69000.00', '10']], a: [['69000.50', '100']] }),
  combined('btcusdt@kline_1m', { e: 'kline', E: 1717977600400, s: 'BTCUSDT', k: { t: 1717977600000, T: 1717977659999, s: 'BTCUSDT', i: '1m', f: 100, L: 200, o: '69000.0', c: '69000.2', h: '69000.5', l: '68999.9', v: '1000', n: 100, x: false, q: '1.0000', V: '500', Q: '0.500', B: '0' } }),
  'this is not JSON',
  combined('ethbtc@aggTrade', { e: 'aggTrade', E: 1717977600501, s: 'ETHBTC', a: 77, p: '0.05286000', q: '1.20000000', f: 1000, l: 1000, T: 1717977600500, m: false, M: true }),
  combined('btcusdt@depth@100ms', { e: 'depthUpdate', E: 1717977600600, s: 'BTCUSDT', U: 161, u: 163, b: [], a: [['69000.60', '5']] }),
  combined('btcusdt@bookTicker', { u: 400900217, s: 'BTCUSDT', b: '69000.00', B: '31.21', a: '69000.50', A: '40.66' }),
  // A raw (not combined) trade frame.
  JSON.stringify({ e: 'trade', E: 1717977600701, s: 'ETHBTC', t: 3000002, p: '0.05287000', q: '2.00000000', T: 1717977600700, m: false, M: true }),
  // A trade whose price is a number, not Binance's string: a known kind that fails validation.
  combined('btcusdt@trade', { e: 'trade', E: 1717977600801, s: 'BTCUSDT', t: 3000003, p: 69000.3, q: '0.02000000', T: 1717977600800, m: false, M: true }),
  // The answer to a SUBSCRIBE request.
  JSON.stringify({ result: null, id: 1 }),
];

describe.each(WAREHOUSES)('Binance aggTrade and other frame kinds on %s', (kind) => {
  it('trades and aggTrades land in stream_trades (first/last trade ids kept); every other frame is counted by kind in the summary, the log and the run row', async () => {
    const s = await freshWarehouse(kind);
    const server = await framesServer(MIXED_FRAMES);
    closers.push(server.close);
    const warnings: string[] = [];
    const p = prefix();
    const pipe = await startStreamPipeline({
      feed: binanceTradesFeed, nc, session: s, lake, prefix: p, wsBaseUrl: server.url, symbols: ['BTCUSDT', 'ETHBTC'], batchSize: 100, batchMs: 50,
      log: { info: () => undefined, warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify((obj as { kind?: string; ignored?: unknown }).kind ?? (obj as { ignored?: unknown }).ignored ?? '')}`) },
    });
    streams.push(pipe.names.stream);
    await until('11 frames and 4 trades loaded', () => pipe.producer.stats.frames === 11 && pipe.consumer.stats.rowsLoaded === 4);
    await pipe.stop();

    const ignored = { depthUpdate: 2, kline: 1, 'non-JSON': 1, bookTicker: 1, 'trade (invalid)': 1, response: 1 };
    expect(pipe.producer.stats).toMatchObject({ frames: 11, published: 4, duplicates: 0, ignored });
    expect(pipe.producer.summary()).toMatch(/^frames 11  published 4 \(0 duplicates\) .* ignored depthUpdate 2, kline 1, non-JSON 1, bookTicker 1, trade \(invalid\) 1, response 1$/);
    expect(warnings).toEqual([
      'frame ignored: kind depthUpdate (the next ones of this kind are only counted) "depthUpdate"',
      'frame ignored: kind kline (the next ones of this kind are only counted) "kline"',
      'frame ignored: kind non-JSON (the next ones of this kind are only counted) "non-JSON"',
      'frame ignored: kind bookTicker (the next ones of this kind are only counted) "bookTicker"',
      'frame ignored: kind trade (invalid) (the next ones of this kind are only counted) "trade (invalid)"',
      'frame ignored: kind response (the next ones of this kind are only counted) "response"',
      `frames ignored, by kind ${JSON.stringify(ignored)}`,
    ]);

    const rows = await s.query<Record<string, unknown>>(
      `SELECT msg_id, source, exchange, symbol, trade_id, side, price, volume, price_usd, ts, agg_trade_id, first_trade_id, last_trade_id FROM coinlake.stream_trades ORDER BY msg_id`,
    );
    const n = (v: unknown) => (v === null ? null : Number(v));
    expect(rows.map((r) => ({ ...r, ts: (r.ts as Date).toISOString(), agg_trade_id: n(r.agg_trade_id), first_trade_id: n(r.first_trade_id), last_trade_id: n(r.last_trade_id) }))).toEqual([
      { msg_id: 'binance.aggtrades:BTCUSDT:26129', source: 'binance', exchange: 'binance', symbol: 'BTC-USDT', trade_id: null, side: 'sell', price: 69000.2, volume: 0.35, price_usd: null, ts: '2024-06-10T00:00:00.200Z', agg_trade_id: 26129, first_trade_id: 100, last_trade_id: 105 },
      { msg_id: 'binance.aggtrades:ETHBTC:77', source: 'binance', exchange: 'binance', symbol: 'ETH-BTC', trade_id: null, side: 'buy', price: 0.05286, volume: 1.2, price_usd: null, ts: '2024-06-10T00:00:00.500Z', agg_trade_id: 77, first_trade_id: 1000, last_trade_id: 1000 },
      { msg_id: 'binance.trades:BTCUSDT:3000001', source: 'binance', exchange: 'binance', symbol: 'BTC-USDT', trade_id: '3000001', side: 'sell', price: 69000.1, volume: 0.01, price_usd: null, ts: '2024-06-10T00:00:00.100Z', agg_trade_id: null, first_trade_id: null, last_trade_id: null },
      { msg_id: 'binance.trades:ETHBTC:3000002', source: 'binance', exchange: 'binance', symbol: 'ETH-BTC', trade_id: '3000002', side: 'buy', price: 0.05287, volume: 2, price_usd: null, ts: '2024-06-10T00:00:00.700Z', agg_trade_id: null, first_trade_id: null, last_trade_id: null },
    ]);
    const run = await s.query<{ details: string }>(`SELECT details FROM coinlake_meta.workflow_action_history`);
    expect(JSON.parse(run[0].details)).toMatchObject({ rowsLoaded: 4, producer: { frames: 11, published: 4, ignored } });
  }, 60_000);
});

describe('a recorded Binance combined session through `coinlake stream produce`', () => {
  it('publishes its 2 aggTrades and prints the 263 frames it ignored by kind (before: frames 265 published 0, not a word)', async () => {
    const recorded = readFileSync('/work/shared/acceptance/binance-ws-combined-frames.jsonl', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.stringify((JSON.parse(l) as { frame: unknown }).frame));
    const ws = await startWsReplay({ ticksPerSecond: 1000, frames: { '/stream': recorded } });
    closers.push(() => ws.close());
    const p = prefix();
    streams.push(feedSubject(binanceTradesFeed, p).stream);
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-edges-'));
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'stream', 'produce', '--source', 'binance.trades', '--subject-prefix', p, '--duration', '3'], {
        cwd: dir,
        env: { ...process.env, COINLAKE_BINANCE_WS_URL: ws.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    expect(ws.ticks('/stream?streams=btcusdt@trade')).toBeGreaterThanOrEqual(265);
    expect(r.stdout).toMatch(/\nstopped: frames 265  published 2 \(0 duplicates\)  .*  ignored depthUpdate 177, bookTicker 84, kline 2\n$/);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings.map((l) => l.replace(/ \{.*$/, ''))).toEqual([
      'warning: frame ignored: kind depthUpdate (the next ones of this kind are only counted)',
      'warning: frame ignored: kind bookTicker (the next ones of this kind are only counted)',
      'warning: frame ignored: kind kline (the next ones of this kind are only counted)',
      'warning: frames ignored, by kind',
    ]);
    expect(warnings[3]).toContain('"ignored":{"depthUpdate":177,"bookTicker":84,"kline":2}');
  }, 60_000);
});

describe.each(WAREHOUSES)('binance.aggtrades from the websocket replay server on %s', (kind) => {
  it('<symbol>@aggTrade streams: one row per aggregate with its first and last trade ids, nothing ignored', async () => {
    const s = await freshWarehouse(kind);
    const ws = await startWsReplay({ ticksPerSecond: 100, maxTicks: 20 });
    closers.push(() => ws.close());
    const pipe = await startStreamPipeline({ feed: binanceAggTradesFeed, nc, session: s, lake, prefix: prefix(), wsBaseUrl: ws.url, symbols: ['BTCUSDT'], batchSize: 100, batchMs: 50 });
    streams.push(pipe.names.stream);
    expect(pipe.names).toMatchObject({ subject: expect.stringMatching(/\.binance\.aggtrades$/), durable: expect.stringMatching(/_binance_aggtrades$/) });
    await until('20 aggregates', () => pipe.consumer.stats.rowsLoaded === 20);
    await pipe.stop();
    expect(pipe.producer.stats).toMatchObject({ frames: 20, published: 20, ignored: {} });
    const rows = await s.query<{ msg_id: string; trade_id: string | null; agg_trade_id: unknown; first_trade_id: unknown; last_trade_id: unknown }>(
      `SELECT msg_id, trade_id, agg_trade_id, first_trade_id, last_trade_id FROM coinlake.stream_trades ORDER BY agg_trade_id`,
    );
    expect(rows.map((r) => [r.msg_id, r.trade_id, Number(r.agg_trade_id), Number(r.first_trade_id), Number(r.last_trade_id)])).toEqual(
      Array.from({ length: 20 }, (_, i) => [`binance.aggtrades:BTCUSDT:${500_000 + i}`, null, 500_000 + i, 1_000_000 + 3 * i, 1_000_002 + 3 * i]),
    );
  }, 60_000);
});

describe.each(WAREHOUSES)('stream_trades made by an earlier version on %s', (kind) => {
  it('gains agg_trade_id, first_trade_id and last_trade_id at its end (NULL for trades) and loads aggTrades', async () => {
    const s = await freshWarehouse(kind);
    const earlier = { ...streamTradesTable, columns: streamTradesTable.columns.filter((c) => !['agg_trade_id', 'first_trade_id', 'last_trade_id'].includes(c.name)) };
    await s.ensureTable(earlier);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    const agg = binanceTradesFeed.parse(JSON.stringify({ stream: 'btcusdt@aggTrade', data: { e: 'aggTrade', E: 1717977600201, s: 'BTCUSDT', a: 26129, p: '69000.2', q: '0.35', f: 100, l: 105, T: 1717977600200, m: true, M: true } }), 1717978300000);
    await producer.publish([...trade(1), ...agg]);
    const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
    await until('2 rows', () => consumer.stats.rowsLoaded === 2);
    await consumer.stop();
    const columns = await s.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'coinlake' AND table_name = 'stream_trades' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => c.column_name).sort()).toEqual([...streamTradesTable.columns.map((c) => c.name), '_run_id', '_loaded_at'].sort());
    expect(columns.map((c) => c.column_name).slice(-3)).toEqual(['agg_trade_id', 'first_trade_id', 'last_trade_id']);
    const rows = await s.query<{ msg_id: string; agg_trade_id: unknown; first_trade_id: unknown; last_trade_id: unknown }>(`SELECT msg_id, agg_trade_id, first_trade_id, last_trade_id FROM coinlake.stream_trades ORDER BY msg_id`);
    expect(rows.map((r) => [r.msg_id, r.agg_trade_id === null ? null : Number(r.agg_trade_id), r.first_trade_id === null ? null : Number(r.first_trade_id), r.last_trade_id === null ? null : Number(r.last_trade_id)])).toEqual([
      ['binance.aggtrades:BTCUSDT:26129', 26129, 100, 105],
      ['binance.trades:BTCUSDT:1', null, null, null],
    ]);
  }, 60_000);
});

describe.each(WAREHOUSES)('durable consumer names under --subject-prefix on %s', (kind) => {
  it('the durable is <prefix>_<source>_<stream>; the default prefix keeps coinlake_<source>_<stream>', () => {
    expect(feedSubject(binanceTradesFeed)).toEqual({ subject: 'coinlake.binance.trades', stream: 'COINLAKE_BINANCE_TRADES', durable: 'coinlake_binance_trades' });
    expect(feedSubject(binanceTradesFeed, 'x')).toEqual({ subject: 'x.binance.trades', stream: 'X_BINANCE_TRADES', durable: 'x_binance_trades' });
    expect(feedSubject(binanceTradesFeed, 'team.a')).toEqual({ subject: 'team.a.binance.trades', stream: 'TEAM_A_BINANCE_TRADES', durable: 'team_a_binance_trades' });
  });

  it('a consumer under a prefix makes and uses the durable of its prefix; `stream consume` in a process too', async () => {
    const s = await freshWarehouse(kind);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    await producer.publish([...trade(1), ...trade(2)]);
    const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
    await until('2 rows', () => consumer.stats.rowsLoaded === 2);
    await consumer.stop();
    const durables = async () => {
      const out: string[] = [];
      for await (const c of jsm.consumers.list(names.stream)) out.push(c.name);
      return out.sort();
    };
    expect(await durables()).toEqual([`${p}_binance_trades`]);
    expect((await jsm.consumers.info(names.stream, `${p}_binance_trades`)).ack_floor.stream_seq).toBe(2);
    const runs = await s.query<{ connection_name: string; table_name: string }>(`SELECT connection_name, table_name FROM coinlake_meta.workflow_action_history`);
    expect(runs).toEqual([{ connection_name: `STREAM_${names.stream}`, table_name: `${p}_binance_trades` }]);

    // The CLI's consumer takes the same durable: it loads only what came since.
    await producer.publish([...trade(3)]);
    await s.close();
    session = undefined;
    const r = await coinlake(['--warehouse', location, '--lake', path.join(dir!, 'lake'), 'stream', 'consume', '--source', 'binance.trades', '--subject-prefix', p, '--batch-ms', '100', '--duration', '3'], dir!);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\nstopped: batches 1  messages 1  rows 1  redeliveries skipped 0\n$/);
    expect(await durables()).toEqual([`${p}_binance_trades`]);
  }, 60_000);

  it('a durable an earlier version named coinlake_<source>_<stream> under another prefix is kept (its position too), with a warning', async () => {
    const s = await freshWarehouse(kind);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    await producer.publish([...trade(1), ...trade(2), ...trade(3)]);
    // The earlier version's consumer: its durable and its state under the old name.
    const { consumer: earlier } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, durable: 'coinlake_binance_trades', batchSize: 100, batchMs: 50 });
    await until('3 rows', () => earlier.stats.rowsLoaded === 3);
    await earlier.stop();

    await producer.publish([...trade(4), ...trade(5)]);
    const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
    await until('2 rows', () => consumer.stats.rowsLoaded === 2);
    await consumer.stop();
    expect(consumer.stats).toMatchObject({ messages: 2, rowsLoaded: 2, skipped: 0 });
    const rows = await s.query<{ msg_id: string; n: number }>(`SELECT msg_id, count(*) AS n FROM coinlake.stream_trades GROUP BY msg_id ORDER BY msg_id`);
    expect(rows.map((r) => [r.msg_id, Number(r.n)])).toEqual([1, 2, 3, 4, 5].map((id) => [`binance.trades:BTCUSDT:${id}`, 1]));
    const names2: string[] = [];
    for await (const c of jsm.consumers.list(names.stream)) names2.push(c.name);
    expect(names2).toEqual(['coinlake_binance_trades']);
    const runs = await s.query<{ table_name: string; log_path: string }>(`SELECT table_name, log_path FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
    expect(runs.map((r) => r.table_name)).toEqual(['coinlake_binance_trades', 'coinlake_binance_trades']);
    expect(readFileSync(runs[1].log_path, 'utf8')).toContain(`durable consumer coinlake_binance_trades (named by an earlier version) kept on stream ${names.stream}: it holds this consumer's position; the name for this prefix would be ${p}_binance_trades`);
  }, 60_000);
});

describe.each(WAREHOUSES)('a stream deleted while its consumer runs on %s', (kind) => {
  it('the consumer fails with an error naming the stream (no silent stall); started again, it starts over on the re-created stream', async () => {
    const s = await freshWarehouse(kind);
    const p = prefix();
    const names = feedSubject(binanceTradesFeed, p);
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: names.subject, url: 'ws://unused' });
    await producer.publish([...trade(1), ...trade(2)]);
    const { consumer } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
    await until('2 rows', () => consumer.stats.rowsLoaded === 2);
    const deletedAt = Date.now();
    await jsm.streams.delete(names.stream);
    const message = `stream ${names.stream} was deleted while its consumer ${names.durable} was loading it`;
    await expect(consumer.done).rejects.toThrow(message);
    const failedAfterMs = Date.now() - deletedAt;
    const runs = await s.query<{ execution_status: number; error_message: string }>(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history`);
    expect(runs).toEqual([{ execution_status: -1, error_message: message }]);
    expect(failedAfterMs).toBeLessThan(20_000);

    await ensureFeedStream(jsm, names);

    await producer.publish([...trade(3), ...trade(4)]);
    const { consumer: again } = await startFeedConsumer({ feed: binanceTradesFeed, nc, session: s, lake, prefix: p, batchSize: 100, batchMs: 50 });
    await until('2 more rows', () => again.stats.rowsLoaded === 2);
    await again.stop();
    expect(again.notice?.note).toMatch(/^stream re-created \S+Z: started over$/);
    const rows = await s.query<{ msg_id: string }>(`SELECT msg_id FROM coinlake.stream_trades ORDER BY msg_id`);
    expect(rows.map((r) => r.msg_id)).toEqual([1, 2, 3, 4].map((id) => `binance.trades:BTCUSDT:${id}`));
  }, 60_000);
});
