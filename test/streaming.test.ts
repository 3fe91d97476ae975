// Websocket feeds → NATS JetStream (the real nats-server on 127.0.0.1:4222) → micro-batches → DuckDB, end to end.
// Every test uses its own subject prefix and stream, deleted afterwards.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer } from '../src/replay/index.ts';
import { startWsReplay } from '../src/replay/ws-replay.ts';
import { binanceKlinesFeed, binanceTradesFeed } from '../src/streaming/binance-feeds.ts';
import { coincapPricesFeed, coincapTradesFeed } from '../src/streaming/coincap-feeds.ts';
import { connectNats, ensureFeedStream, feedSubject } from '../src/streaming/jetstream-streams.ts';
import { StreamConsumer } from '../src/streaming/stream-consumer.ts';
import { startStreamPipeline } from '../src/streaming/stream-pipeline.ts';
import { WsProducer } from '../src/streaming/ws-producer.ts';

const FORMATS = '/work/shared/fixtures/formats';
const frames = (file: string) => readFileSync(path.join(FORMATS, file), 'utf8').split('\n').filter(Boolean);

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let nc: NatsConnection;
let dir: string;
let session: Session;
let lake: LocalLake;
const streams: string[] = [];
const closers: (() => Promise<void>)[] = [];

const prefix = () => `t${randomBytes(4).toString('hex')}`;
const count = async (table: string) => Number((await session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${table}`))[0].n);

beforeAll(async () => {
  nc = await connectNats();
});
afterAll(async () => {
  await nc.close();
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  const jsm = await jetstreamManager(nc);
  for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
  await session?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function freshWarehouse(): Promise<void> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-'));
  session = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
  lake = new LocalLake(path.join(dir, 'lake'));
}

describe('feed parsers (recorded frames)', () => {
  it('keep only closed 1m klines, from raw and combined frames', () => {
    for (const file of ['binance-ws-kline-btcusdt-1m.raw.jsonl', 'binance-ws-kline-btcusdt-1m.combined.jsonl']) {
      const out = frames(file).flatMap((f) => binanceKlinesFeed.parse(f, 0));
      expect(out).toEqual([
        {
          msgId: 'binance.klines:BTCUSDT:1m:1717978140000',
          record: { exchange: 'binance', symbol: 'BTC-USDT', ts: 1717978140000, open: '69683.19000000', high: '69715.44000000', low: '69675.05000000', close: '69709.42000000', volume_base: '17.28539000', volume_quote: '1204501.11559410', trade_count: 2632 },
        },
      ]);
    }
  });

  it('ignore the other Binance streams of a recorded combined session', () => {
    const lines = readFileSync('/work/shared/acceptance/binance-ws-combined-frames.jsonl', 'utf8').split('\n').filter(Boolean);
    const recorded = lines.map((l) => JSON.stringify((JSON.parse(l) as { frame: unknown }).frame));
    expect(recorded).toHaveLength(265);
    // Its two klines are still open (x: false); depth, bookTicker and aggTrade are not loaded.
    expect(recorded.flatMap((f) => binanceKlinesFeed.parse(f, 0))).toHaveLength(0);
    expect(recorded.flatMap((f) => binanceTradesFeed.parse(f, 0))).toHaveLength(0);
  });

  it('type CoinCap prices and trades by their recorded frames', () => {
    expect(frames('coincap-ws-prices.jsonl').flatMap((f) => coincapPricesFeed.parse(f, 1))).toHaveLength(6);
    const trades = frames('coincap-ws-trades-binance.jsonl').flatMap((f) => coincapTradesFeed.parse(f, 1));
    expect(trades.map((t) => t.msgId)).toEqual([
      'coincap.trades:binance:bitcoin-tether:1717978201184:buy:69627.41:0.00812',
      'coincap.trades:binance:ethereum-tether:1717978201230:sell:3680.77:1.2841',
      'coincap.trades:binance:ethereum-bitcoin:1717978201297:buy:0.05286:0.4511',
    ]);
  });
});

describe('streaming', () => {
  it('recorded CoinCap prices and trades frames become exactly their rows', async () => {
    await freshWarehouse();
    const ws = await startWsReplay({ ticksPerSecond: 50, frames: { '/prices': frames('coincap-ws-prices.jsonl'), '/trades/binance': frames('coincap-ws-trades-binance.jsonl') } });
    closers.push(() => ws.close());
    const p = prefix();
    const prices = await startStreamPipeline({ feed: coincapPricesFeed, nc, session, lake, prefix: p, wsBaseUrl: ws.url, symbols: ['bitcoin', 'ethereum', 'tether'], batchSize: 4, batchMs: 50 });
    streams.push(prices.names.stream);
    await until('6 prices', () => prices.consumer.stats.rowsLoaded === 6);
    await prices.stop();
    const trades = await startStreamPipeline({ feed: coincapTradesFeed, nc, session, lake, prefix: p, wsBaseUrl: ws.url, batchSize: 100, batchMs: 50 });
    streams.push(trades.names.stream);
    await until('3 trades', () => trades.consumer.stats.rowsLoaded === 3);
    await trades.stop();

    expect(await count('stream_prices')).toBe(6);
    const rows = await session.query<{ asset_id: string; n: number; last: number }>(
      `SELECT asset_id, count(*) AS n, max(price_usd) AS last FROM coinlake.stream_prices GROUP BY asset_id ORDER BY asset_id`,
    );
    expect(rows.map((r) => [r.asset_id, Number(r.n)])).toEqual([['bitcoin', 3], ['ethereum', 2], ['tether', 1]]);
    expect(await count('stream_trades')).toBe(3);
    const t = await session.query<{ symbol: string; side: string; price: number; ts: Date }>(`SELECT symbol, side, price, ts FROM coinlake.stream_trades ORDER BY ts`);
    expect(t[0]).toMatchObject({ symbol: 'bitcoin-tether', side: 'buy', price: 69627.41 });
    expect(t[0].ts.toISOString()).toBe('2024-06-10T00:10:01.184Z');
    // One raw lake page per batch, one run row per consumer run, closed complete.
    const runs = await session.query<{ execution_status: number; rows_loaded: number }>(`SELECT execution_status, rows_loaded FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
    expect(runs.map((r) => [r.execution_status, Number(r.rows_loaded)])).toEqual([[1, 6], [1, 3]]);
  });

  it('generated Binance trades of two symbols become exactly their rows', async () => {
    await freshWarehouse();
    const ws = await startWsReplay({ ticksPerSecond: 50, maxTicks: 15 });
    closers.push(() => ws.close());
    const pipe = await startStreamPipeline({ feed: binanceTradesFeed, nc, session, lake, prefix: prefix(), wsBaseUrl: ws.url, symbols: ['BTCUSDT', 'ETHBTC'], batchSize: 8, batchMs: 50 });
    streams.push(pipe.names.stream);
    await until('30 trades', () => pipe.consumer.stats.rowsLoaded === 30);
    await pipe.stop();
    const rows = await session.query<{ symbol: string; n: number }>(`SELECT symbol, count(*) AS n FROM coinlake.stream_trades GROUP BY symbol ORDER BY symbol`);
    expect(rows.map((r) => [r.symbol, Number(r.n)])).toEqual([['BTC-USDT', 15], ['ETH-BTC', 15]]);
  });

  it('a message published twice is stored once (Nats-Msg-Id)', async () => {
    const names = feedSubject(coincapPricesFeed, prefix());
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    await ensureFeedStream(jsm, names); // idempotent
    streams.push(names.stream);
    const producer = new WsProducer({ feed: coincapPricesFeed, nc, subject: names.subject, url: 'ws://unused' });
    const records = coincapPricesFeed.parse('{"bitcoin":"69649.73","ethereum":"3682.18"}', 1717978201000);
    await producer.publish(records);
    await producer.publish(records);
    expect(producer.stats).toMatchObject({ published: 4, duplicates: 2 });
    expect((await jsm.streams.info(names.stream)).state.messages).toBe(2);
  });

  it('a batch that fails before COMMIT is redelivered: no loss, no duplicates', async () => {
    await freshWarehouse();
    const names = feedSubject(coincapPricesFeed, prefix());
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: coincapPricesFeed, nc, subject: names.subject, url: 'ws://unused' });
    for (let i = 0; i < 25; i++) await producer.publish(coincapPricesFeed.parse(`{"bitcoin":"${69000 + i}"}`, 1717978200000 + i));

    // A short ack wait: messages the dying consumer had pulled but not yet seen come back after it.
    const killed = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 10, batchMs: 50, ackWaitMs: 2000, beforeCommit: async () => {
      throw new Error('killed before commit');
    } });
    await killed.start();
    await expect(killed.done).rejects.toThrow('killed before commit');
    expect(await count('stream_prices').catch(() => 0)).toBe(0);

    // The same durable consumer, started again, gets every message back.
    let commits = 0;
    const again = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 10, batchMs: 50, beforeCommit: async () => void commits++ });
    await again.start();
    await until('25 rows', () => again.stats.rowsLoaded === 25);
    await again.stop();
    expect(await count('stream_prices')).toBe(25);
    const distinct = await session.query<{ n: number }>(`SELECT count(DISTINCT msg_id) AS n FROM coinlake.stream_prices`);
    expect(Number(distinct[0].n)).toBe(25);
    // Redeliveries arrive in any order and batches close by size or time, so at least 25 / 10 commits.
    expect(commits).toBeGreaterThanOrEqual(3);
    expect(commits).toBe(again.stats.batches);
    const info = await jsm.consumers.info(names.stream, 'coinlake_coincap_prices');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    const runs = await session.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
    expect(runs.map((r) => r.execution_status)).toEqual([-1, 1]);
  });

  it('a batch committed but never acked is recognised when redelivered: loaded once', async () => {
    await freshWarehouse();
    const names = feedSubject(coincapPricesFeed, prefix());
    await ensureFeedStream(await jetstreamManager(nc), names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: coincapPricesFeed, nc, subject: names.subject, url: 'ws://unused' });
    for (let i = 0; i < 12; i++) await producer.publish(coincapPricesFeed.parse(`{"ethereum":"${3600 + i}"}`, 1717978200000 + i));
    const crashed = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 100, batchMs: 100, beforeAck: async () => {
      throw new Error('crashed after commit');
    } });
    await crashed.start();
    await expect(crashed.done).rejects.toThrow('crashed after commit');
    expect(await count('stream_prices')).toBe(12);
    const again = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 100, batchMs: 50 });
    await again.start();
    await until('12 redeliveries skipped', () => again.stats.skipped === 12);
    await again.stop();
    expect(again.stats.rowsLoaded).toBe(0);
    expect(await count('stream_prices')).toBe(12);
  });

  it('a silent feed is reconnected by the watchdog', async () => {
    await freshWarehouse();
    const ws = await startWsReplay({ ticksPerSecond: 50 });
    closers.push(() => ws.close());
    const pipe = await startStreamPipeline({ feed: coincapPricesFeed, nc, session, lake, prefix: prefix(), wsBaseUrl: ws.url, symbols: ['bitcoin'], batchMs: 50, silenceMs: 200, minBackoffMs: 20 });
    streams.push(pipe.names.stream);
    closers.push(() => pipe.stop());
    await until('first frames', () => pipe.producer.stats.frames > 5);
    ws.silence(600);
    await until('a watchdog reconnect', () => pipe.producer.stats.watchdogReconnects >= 1 && pipe.producer.stats.connects >= 2, 5000);
    const frames = pipe.producer.stats.frames;
    await until('frames after the reconnect', () => pipe.producer.stats.frames > frames + 5, 5000);
  });

  it('a dropped websocket reconnects and the missed minutes are filled from REST klines', async () => {
    await freshWarehouse();
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    const ws = await startWsReplay({ ticksPerSecond: 25, maxTicks: 40 });
    closers.push(() => ws.close());
    const feedPath = '/stream?streams=btcusdt@kline_1m';
    const pipe = await startStreamPipeline({ feed: binanceKlinesFeed, nc, session, lake, prefix: prefix(), wsBaseUrl: ws.url, restBaseUrl: rest.binanceUrl, symbols: ['BTCUSDT'], batchSize: 50, batchMs: 100, minBackoffMs: 50, maxBackoffMs: 200 });
    streams.push(pipe.names.stream);
    closers.push(() => pipe.stop());
    await until('10 minutes streamed', () => ws.ticks(feedPath) >= 10);
    ws.dropConnections({ refuseMs: 400 });
    await until('the feed to end', () => ws.ticks(feedPath) === 40);
    await until('40 minutes loaded', async () => (await count('ohlcv_1m').catch(() => 0)) === 40);
    expect(pipe.producer.stats.connects).toBeGreaterThanOrEqual(2);
    expect(pipe.producer.stats.gapFilled).toBeGreaterThan(0);
    const r = await session.query<{ n: number; first: Date; last: Date }>(`SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM coinlake.ohlcv_1m WHERE symbol = 'BTC-USDT'`);
    expect(Number(r[0].n)).toBe(40);
    expect(r[0].first.toISOString()).toBe('2024-06-10T00:00:00.000Z');
    expect(r[0].last.toISOString()).toBe('2024-06-10T00:39:00.000Z');
    // A gap-filled minute equals what the websocket would have sent (both are the replay series).
    const stored = (await jetstreamManager(nc).then((j) => j.streams.info(pipe.names.stream))).state.messages;
    expect(stored).toBe(40);
  });
});
