// Live feeds → NATS JetStream (the real nats-server on 127.0.0.1:4222) → micro-batches → the warehouse, end to end,
// on DuckDB and on PostgreSQL: websocket feeds from the websocket replay server, polled feeds from the REST replay
// server. Every test uses its own subject prefix and stream, deleted afterwards.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { loadCoinloreData, startReplayServer, type ReplayServer } from '../src/replay/index.ts';
import { startWsReplay } from '../src/replay/ws-replay.ts';
import { binanceKlinesFeed, binanceTradesFeed } from '../src/sources/binance/binance-feeds.ts';
import { coincapPricesFeed, coincapTradesFeed } from '../src/sources/coincap/coincap-feeds.ts';
import type { PollFeed } from '../src/streaming/feed.ts';
import { feedByName } from '../src/streaming/feed-registry.ts';
import { connectNats, ensureFeedStream, feedSubject } from '../src/streaming/jetstream-streams.ts';
import { PollProducer } from '../src/streaming/poll-producer.ts';
import { streamSeq } from '../src/streaming/stream-acks.ts';
import { StreamConsumer } from '../src/streaming/stream-consumer.ts';
import { startStreamPipeline } from '../src/streaming/stream-pipeline.ts';
import { WsProducer } from '../src/streaming/ws-producer.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const FORMATS = '/work/shared/fixtures/formats';
// The polled feeds, as their sources declare them.
const coincapAssetsFeed = feedByName('coincap.assets') as PollFeed;
const coincapExchangesFeed = feedByName('coincap.exchanges') as PollFeed;
const coinloreTickersFeed = feedByName('coinlore.tickers') as PollFeed;
const coinloreExchangesFeed = feedByName('coinlore.exchanges') as PollFeed;
const frames = (file: string) => readFileSync(path.join(FORMATS, file), 'utf8').split('\n').filter(Boolean);

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
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
let lake: LocalLake;
const streams: string[] = [];
const closers: (() => Promise<void>)[] = [];

const prefix = () => `t${randomBytes(4).toString('hex')}`;
const count = async (table: string) => Number((await session!.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${table}`))[0].n);

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
  session = undefined;
  await db?.drop();
  db = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A fresh warehouse (a DuckDB file in a temp dir, or a new PostgreSQL database) and lake; returns the session. */
async function freshWarehouse(kind: WarehouseKind): Promise<Session> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-'));
  if (kind === 'postgres') db = await createTestDatabase();
  session = await openWarehouse(db ? db.url : path.join(dir, 'coinlake.duckdb'));
  lake = new LocalLake(path.join(dir, 'lake'));
  return session;
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
    // Its two klines are still open (x: false); depth and bookTicker are not loaded; its two aggTrades are.
    expect(recorded.flatMap((f) => binanceKlinesFeed.parse(f, 0))).toHaveLength(0);
    expect(recorded.flatMap((f) => binanceTradesFeed.parse(f, 0)).map((r) => r.msgId)).toEqual(['binance.aggtrades:NKNUSDT:15683430', 'binance.aggtrades:LRCBTC:9213679']);
    // What the producer counts as ignored, by kind.
    const ignored = (feed: typeof binanceTradesFeed) => {
      const out: Record<string, number> = {};
      for (const f of recorded) {
        const kind = feed.parse(f, 0).length ? undefined : feed.ignoredKind?.(f);
        if (kind) out[kind] = (out[kind] ?? 0) + 1;
      }
      return out;
    };
    expect(ignored(binanceTradesFeed)).toEqual({ depthUpdate: 177, bookTicker: 84, kline: 2 });
    expect(ignored(binanceKlinesFeed)).toEqual({ depthUpdate: 177, bookTicker: 84, aggTrade: 2 });
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

describe('JetStream de-duplication', () => {
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
});

describe('consumer acks', () => {
  /** A stream of `n` CoinCap price messages (stream sequences 1…n). */
  async function pricesStream(n: number) {
    const names = feedSubject(coincapPricesFeed, prefix());
    const jsm = await jetstreamManager(nc);
    await ensureFeedStream(jsm, names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: coincapPricesFeed, nc, subject: names.subject, url: 'ws://unused' });
    for (let i = 0; i < n; i++) await producer.publish(coincapPricesFeed.parse(`{"bitcoin":"${69000 + i}"}`, 1717978200000 + i));
    return { names, jsm };
  }

  it('one ack per batch (AckPolicy.All); a message deleted from the middle of the stream holds no ack back', async () => {
    const session = await freshWarehouse('duckdb');
    const { names, jsm } = await pricesStream(30);
    await jsm.streams.deleteMessage(names.stream, 5);
    const consumer = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 10, batchMs: 50 });
    await consumer.start();
    await until('29 rows', () => consumer.stats.rowsLoaded === 29);
    await consumer.stop();
    const info = await jsm.consumers.info(names.stream, names.durable);
    expect(info.config.ack_policy).toBe('all');
    expect([info.num_pending, info.num_ack_pending, info.ack_floor.stream_seq]).toEqual([0, 0, 30]);
    expect(await count('stream_prices')).toBe(29);
    const state = await session.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state`);
    // The stream's creation time is kept with the sequences (a stream created again restarts them).
    expect(JSON.parse(state[0].state)).toEqual({ floor: 30, above: [], created: (await jsm.streams.info(names.stream)).created });
  });

  it('a durable made with AckPolicy.Explicit (an earlier version) keeps acking each message', async () => {
    const session = await freshWarehouse('duckdb');
    const { names, jsm } = await pricesStream(25);
    await jsm.consumers.add(names.stream, { durable_name: 'coinlake_coincap_prices', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: names.subject });
    const consumer = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 10, batchMs: 50 });
    await consumer.start();
    await until('25 rows', () => consumer.stats.rowsLoaded === 25);
    await consumer.stop();
    const info = await jsm.consumers.info(names.stream, 'coinlake_coincap_prices');
    expect(info.config.ack_policy).toBe('explicit');
    expect([info.num_pending, info.num_ack_pending, info.ack_floor.stream_seq]).toEqual([0, 0, 25]);
    expect(await count('stream_prices')).toBe(25);
  });

  it("the stream sequence read from the ack subject is the client's, for first deliveries and redeliveries", async () => {
    const { names, jsm } = await pricesStream(8);
    await jsm.consumers.add(names.stream, { durable_name: 'seqs', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: names.subject });
    const consumer = await jetstream(nc).consumers.get(names.stream, 'seqs');
    const prefix = `$JS.ACK.${names.stream}.seqs.`;
    const first: JsMsg[] = [];
    for await (const m of await consumer.fetch({ max_messages: 8, expires: 2000 })) first.push(m);
    expect(first.map((m) => streamSeq(m, prefix))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const m of first) if (m.seq % 3 === 0) m.nak();
    else m.ack();
    const again: JsMsg[] = [];
    for await (const m of await consumer.fetch({ max_messages: 2, expires: 2000 })) again.push(m);
    expect(again.map((m) => [streamSeq(m, prefix), m.seq, m.info.deliveryCount])).toEqual([[3, 3, 2], [6, 6, 2]]);
    // A subject of another form (a consumer in a JetStream domain) is read by the client's own parse.
    expect(streamSeq(again[0], '$JS.ACK.OTHER.seqs.')).toBe(3);
  });
});

describe.each(WAREHOUSES)('websocket feeds on %s', (kind) => {
  it('recorded CoinCap prices and trades frames become exactly their rows', async () => {
    const session = await freshWarehouse(kind);
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
    const session = await freshWarehouse(kind);
    const ws = await startWsReplay({ ticksPerSecond: 50, maxTicks: 15 });
    closers.push(() => ws.close());
    const pipe = await startStreamPipeline({ feed: binanceTradesFeed, nc, session, lake, prefix: prefix(), wsBaseUrl: ws.url, symbols: ['BTCUSDT', 'ETHBTC'], batchSize: 8, batchMs: 50 });
    streams.push(pipe.names.stream);
    await until('30 trades', () => pipe.consumer.stats.rowsLoaded === 30);
    await pipe.stop();
    const rows = await session.query<{ symbol: string; n: number }>(`SELECT symbol, count(*) AS n FROM coinlake.stream_trades GROUP BY symbol ORDER BY symbol`);
    expect(rows.map((r) => [r.symbol, Number(r.n)])).toEqual([['BTC-USDT', 15], ['ETH-BTC', 15]]);
  });

  it('a batch that fails before COMMIT is redelivered: no loss, no duplicates', async () => {
    const session = await freshWarehouse(kind);
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
    const info = await jsm.consumers.info(names.stream, names.durable);
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    const runs = await session.query<{ execution_status: number }>(`SELECT execution_status FROM coinlake_meta.workflow_action_history ORDER BY process_id`);
    expect(runs.map((r) => r.execution_status)).toEqual([-1, 1]);
  });

  it('a batch committed but never acked is recognised when redelivered: loaded once', async () => {
    const session = await freshWarehouse(kind);
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

  it('a dropped websocket reconnects and the missed minutes are filled from REST klines', async () => {
    const session = await freshWarehouse(kind);
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    // 10 minutes a second: after the drop at minute 10 the feed has 3 s left, so the reconnect (400 ms refused, then
    // backoff) lands while it still sends; the gap is filled when the first frame after it arrives. At 25 a second a
    // loaded CI machine once reconnected after the feed's last minute, and the missed minutes were never asked for.
    const ws = await startWsReplay({ ticksPerSecond: 10, maxTicks: 40 });
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

describe('websocket watchdog', () => {
  it('a silent feed is reconnected by the watchdog', async () => {
    const session = await freshWarehouse('duckdb');
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
});

/** Replay endpoints of the polled feeds, without rate limits. */
function replayEndpoints(replay: ReplayServer) {
  return { baseUrls: { coincap: replay.coincapV2Url, coinlore: replay.coinloreUrl }, rateLimitPerMinute: 0, http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 4 } };
}

const SLOT = Date.parse('2024-06-10T23:59:00Z');
const MINUTE = 60_000;

describe.each(WAREHOUSES)('polled feeds on %s', (kind) => {
  it('CoinCap assets polled three times: 100 rows per snapshot, keyed by id and processing_timestamp; a re-poll of a slot is stored once', async () => {
    const session = await freshWarehouse(kind);
    const replay = await startReplayServer();
    closers.push(() => replay.close());
    const names = feedSubject(coincapAssetsFeed, prefix());
    await ensureFeedStream(await jetstreamManager(nc), names);
    streams.push(names.stream);
    const producer = new PollProducer({ feed: coincapAssetsFeed, nc, subject: names.subject, endpoints: replayEndpoints(replay), intervalMs: MINUTE });
    // Three polls, the last one across midnight: two dates of processing_timestamp.
    for (const slot of [SLOT - MINUTE, SLOT, SLOT + MINUTE]) expect(await producer.pollOnce(slot)).toBe(100);
    // The same slot again (a restarted producer, a second one): every message id is a repeat.
    expect(await producer.pollOnce(SLOT)).toBe(100);
    expect(producer.stats).toMatchObject({ polls: 4, records: 400, published: 400, duplicates: 100 });
    expect((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages).toBe(300);

    const consumer = new StreamConsumer({ feed: coincapAssetsFeed, names, nc, session, lake, batchSize: 120, batchMs: 50 });
    await consumer.start();
    await until('300 rows', () => consumer.stats.rowsLoaded === 300);
    await consumer.stop();

    const t = coincapAssetsFeed.table;
    expect(t.name).toBe('stream_coincap_assets');
    expect(t.primaryKey).toEqual(['id', 'processing_timestamp']);
    expect(t.partitionBy).toBe('processing_timestamp');
    expect(t.clusteredBy).toEqual(['id']);
    const bySlot = await session.query<{ processing_timestamp: Date; n: number; ids: number }>(
      `SELECT processing_timestamp, count(*) AS n, count(DISTINCT id) AS ids FROM coinlake.stream_coincap_assets GROUP BY processing_timestamp ORDER BY processing_timestamp`,
    );
    expect(bySlot.map((r) => [r.processing_timestamp.toISOString(), Number(r.n), Number(r.ids)])).toEqual([
      ['2024-06-10T23:58:00.000Z', 100, 100],
      ['2024-06-10T23:59:00.000Z', 100, 100],
      ['2024-06-11T00:00:00.000Z', 100, 100],
    ]);
    const btc = await session.query<{ symbol: string; rank: number; max_supply: number }>(
      `SELECT symbol, rank, max_supply FROM coinlake.stream_coincap_assets WHERE id = 'bitcoin' ORDER BY processing_timestamp`,
    );
    expect(btc).toEqual([1, 2, 3].map(() => ({ symbol: 'BTC', rank: 1, max_supply: 21000000 })));
    // The curated lake is partitioned by the date of processing_timestamp.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(path.join(dir!, 'lake', 'curated', 'stream_coincap_assets'))).sort()).toEqual(['dt=2024-06-10', 'dt=2024-06-11']);
    if (kind === 'postgres') {
      // Range-partitioned by processing_timestamp (monthly); the key's index leads with the clustering column (id), so
      // it serves the clustering too and no second index is made.
      const parts = await session.query<{ name: string }>(
        `SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'coinlake.stream_coincap_assets'::regclass ORDER BY 1`,
      );
      expect(parts.map((p) => p.name)).toEqual(['stream_coincap_assets_default', 'stream_coincap_assets_p202406']);
      const idx = await session.query<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'coinlake' AND tablename = 'stream_coincap_assets' ORDER BY indexname`);
      expect(idx.map((i) => i.def.replace(/^.* USING btree /, ''))).toEqual(['(id, processing_timestamp)']);
    }
  });

  it('the producer polls at every slot of its interval; each poll is one snapshot', async () => {
    const session = await freshWarehouse(kind);
    const replay = await startReplayServer();
    closers.push(() => replay.close());
    const pipe = await startStreamPipeline({ feed: coincapExchangesFeed, nc, session, lake, prefix: prefix(), endpoints: replayEndpoints(replay), intervalMs: 400, batchSize: 500, batchMs: 50 });
    streams.push(pipe.names.stream);
    await until('3 polls', () => pipe.producer.stats.polls >= 3);
    // The consumer stops with what it has received: let it take what the stopped producer published first (the rest
    // would stay in the stream for the next run, not lost, but this test counts rows).
    await pipe.producer.stop();
    await until('every published message loaded', () => pipe.consumer.stats.messages === pipe.producer.stats.published);
    await pipe.stop();
    const polls = pipe.producer.stats.polls;
    expect(pipe.producer.stats).toMatchObject({ failedPolls: 0, records: polls * 100, published: polls * 100, duplicates: 0 });
    expect(await count('stream_coincap_exchanges')).toBe(polls * 100);
    const slots = await session.query<{ processing_timestamp: Date; n: number }>(
      `SELECT processing_timestamp, count(DISTINCT exchange_id) AS n FROM coinlake.stream_coincap_exchanges GROUP BY 1 ORDER BY 1`,
    );
    expect(slots).toHaveLength(polls);
    for (const s of slots) {
      expect(Number(s.n)).toBe(100);
      expect(s.processing_timestamp.getTime() % 400).toBe(0);
    }
  });

  it('CoinLore tickers (3 pages) and exchanges are merged into their snapshot tables', async () => {
    const session = await freshWarehouse(kind);
    const replay = await startReplayServer();
    closers.push(() => replay.close());
    const data = await loadCoinloreData();
    const p = prefix();
    for (const feed of [coinloreTickersFeed, coinloreExchangesFeed]) {
      const names = feedSubject(feed, p);
      await ensureFeedStream(await jetstreamManager(nc), names);
      streams.push(names.stream);
      const producer = new PollProducer({ feed, nc, subject: names.subject, endpoints: replayEndpoints(replay), intervalMs: MINUTE });
      await producer.pollOnce(SLOT);
      await producer.pollOnce(SLOT + MINUTE);
      const consumer = new StreamConsumer({ feed, names, nc, session, lake, batchSize: 1000, batchMs: 50 });
      await consumer.start();
      await until(`${feed.job} loaded`, () => consumer.stats.messages === producer.stats.records);
      await consumer.stop();
    }
    expect(data.tickers).toHaveLength(250);
    expect(await count('stream_coinlore_tickers')).toBe(2 * 250);
    const exchanges = Object.keys(data.exchanges).length;
    expect(await count('stream_coinlore_exchanges')).toBe(2 * exchanges);
    const ids = await session.query<{ id: string }>(`SELECT DISTINCT id FROM coinlake.stream_coinlore_exchanges ORDER BY id`);
    expect(ids.map((r) => r.id)).toEqual(Object.keys(data.exchanges).sort());
    // `0000-00-00 00:00:00` is no date: NULL, and the value in the quarantine file, as in the batch job.
    const added = await session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.stream_coinlore_exchanges WHERE id = '21' AND date_added IS NULL`);
    expect(Number(added[0].n)).toBe(2);
  });
});

describe.each(WAREHOUSES)('poison messages and publish retries on %s', (kind) => {
  it('a message that is not JSON is quarantined, not redelivered for ever; the others load', async () => {
    const session = await freshWarehouse(kind);
    const names = feedSubject(coincapPricesFeed, prefix());
    await ensureFeedStream(await jetstreamManager(nc), names);
    streams.push(names.stream);
    const producer = new WsProducer({ feed: coincapPricesFeed, nc, subject: names.subject, url: 'ws://unused' });
    await producer.publish(coincapPricesFeed.parse('{"bitcoin":"69649.73","ethereum":"3682.18"}', 1717978201000));
    nc.publish(names.subject, 'not json {');
    await producer.publish(coincapPricesFeed.parse('{"tether":"1.0001"}', 1717978202000));
    const consumer = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 100, batchMs: 50 });
    await consumer.start();
    await until('4 messages', () => consumer.stats.messages === 4);
    await consumer.stop();
    expect(consumer.stats).toMatchObject({ messages: 4, rowsLoaded: 3 });
    const rows = await session.query<{ asset_id: string }>(`SELECT asset_id FROM coinlake.stream_prices ORDER BY asset_id`);
    expect(rows.map((r) => r.asset_id)).toEqual(['bitcoin', 'ethereum', 'tether']);
    const run = await session.query<{ execution_status: number; rows_quarantined: number }>(`SELECT execution_status, rows_quarantined FROM coinlake_meta.workflow_action_history`);
    expect(run.map((r) => [r.execution_status, Number(r.rows_quarantined)])).toEqual([[1, 1]]);
    const info = await (await jetstreamManager(nc)).consumers.info(names.stream, names.durable);
    expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
  });
});

describe('values set aside by many batches', () => {
  it('the run row lists its quarantine file once, however many batches added to it', async () => {
    const session = await freshWarehouse('duckdb');
    const names = feedSubject(coincapPricesFeed, prefix());
    await ensureFeedStream(await jetstreamManager(nc), names);
    streams.push(names.stream);
    const consumer = new StreamConsumer({ feed: coincapPricesFeed, names, nc, session, lake, batchSize: 1, batchMs: 10 });
    await consumer.start();
    for (let k = 1; k <= 3; k++) {
      nc.publish(names.subject, `not json ${k} {`);
      await until(`${k} batches`, () => consumer.stats.batches >= k);
    }
    await consumer.stop();
    expect(consumer.stats).toMatchObject({ messages: 3, rowsLoaded: 0, quarantined: 3 });
    const [run] = await session.query<{ run_id: string; lake_paths: string; rows_quarantined: number }>(`SELECT run_id, lake_paths, rows_quarantined FROM coinlake_meta.workflow_action_history`);
    const paths = JSON.parse(run.lake_paths) as string[];
    const file = `quarantine/stream_prices/${run.run_id}.jsonl`;
    expect(paths.filter((p) => p.startsWith('quarantine/'))).toEqual([file]);
    expect(Number(run.rows_quarantined)).toBe(3);
    const entries = (await lake.readText(path.join(lake.root, file))).trimEnd().split('\n');
    expect(entries.map((l) => (JSON.parse(l) as { record: unknown }).record)).toEqual(['not json 1 {', 'not json 2 {', 'not json 3 {']);
  });
});

describe('publish retries', () => {
  it('a publish nobody stores yet (no stream) is retried until the stream exists, then stored once', async () => {
    const names = feedSubject(coincapTradesFeed, prefix());
    const warnings: string[] = [];
    const producer = new WsProducer({ feed: coincapTradesFeed, nc, subject: names.subject, url: 'ws://unused', log: { info: () => undefined, warn: (_o, msg) => warnings.push(msg) } });
    const records = frames('coincap-ws-trades-binance.jsonl').flatMap((f) => coincapTradesFeed.parse(f, 1));
    const published = producer.publish(records);
    await until('a refused publish', () => warnings.length > 0);
    expect(warnings[0]).toBe('publish not acked; retrying');
    await ensureFeedStream(await jetstreamManager(nc), names);
    streams.push(names.stream);
    await published;
    expect(producer.stats).toMatchObject({ published: 3, duplicates: 0 });
    expect((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages).toBe(3);
  });
});

describe('coinlake stream produce | consume', () => {
  it('a polling producer and a consumer in two processes: every snapshot row loaded once', async () => {
    // The warehouse belongs to the consumer process while it runs.
    await (await freshWarehouse('duckdb')).close();
    session = undefined;
    const p = prefix();
    const names = feedSubject(coincapAssetsFeed, p);
    streams.push(names.stream);
    const bin = path.resolve(import.meta.dirname, '..', 'bin', 'coinlake.mjs');
    const cli = (args: string[]) => {
      const child = spawn(process.execPath, [bin, '--warehouse', path.join(dir!, 'coinlake.duckdb'), '--lake', path.join(dir!, 'lake'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      closers.push(async () => {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      });
      return { child, out: () => out, exited };
    };
    const producer = cli(['--replay', 'stream', 'produce', '--source', 'coincap.assets', '--subject-prefix', p, '--interval', '1', '--duration', '4']);
    const consumer = cli(['stream', 'consume', '--source', 'coincap.assets', '--subject-prefix', p, '--batch-ms', '100']);
    expect(await producer.exited, producer.out()).toBe(0);
    const stopped = /stopped: polls (\d+) \(0 failed\)  records (\d+)  published (\d+) \(0 duplicates\)/.exec(producer.out());
    expect(stopped, producer.out()).not.toBeNull();
    const [polls, records, published] = stopped!.slice(1).map(Number);
    expect(polls).toBeGreaterThanOrEqual(3);
    expect([records, published]).toEqual([polls * 100, polls * 100]);
    const jsm = await jetstreamManager(nc);
    await until('the consumer to ack every message', async () => {
      const info = await jsm.consumers.info(names.stream, names.durable).catch(() => undefined);
      return info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq === published;
    }, 60_000);
    consumer.child.kill('SIGTERM');
    expect(await consumer.exited, consumer.out()).toBe(0);
    expect(consumer.out()).toContain(`consuming coincap.assets → ${p}.coincap.assets (stream ${names.stream}) → coinlake.stream_coincap_assets [merge]`);
    const after = await openWarehouse(path.join(dir!, 'coinlake.duckdb'));
    session = after;
    const rows = await after.query<{ n: number; keys: number; slots: number }>(
      `SELECT count(*) AS n, count(DISTINCT (id, processing_timestamp)) AS keys, count(DISTINCT processing_timestamp) AS slots FROM coinlake.stream_coincap_assets`,
    );
    expect(rows.map((r) => [Number(r.n), Number(r.keys), Number(r.slots)])).toEqual([[published, published, polls]]);
    // Its curated Parquet (one file per batch and date) holds exactly the rows it loaded.
    const { readdir } = await import('node:fs/promises');
    const root = path.join(dir!, 'lake', 'curated', 'stream_coincap_assets');
    const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.parquet'));
    const [inFiles] = await after.query<{ n: number; keys: number }>(
      `SELECT count(*) AS n, count(DISTINCT (id, processing_timestamp)) AS keys FROM read_parquet([${files.map((f) => `'${path.join(root, f)}'`).join(', ')}])`,
    );
    expect([Number(inFiles.n), Number(inFiles.keys)]).toEqual([published, published]);
  }, 120_000);
});
