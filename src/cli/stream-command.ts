// `coinlake stream [run] --source <feed>`: a feed's producer and its JetStream consumer in one process;
// `coinlake stream produce --source <feed>` and `coinlake stream consume --source <feed>`: one side each, so they can
// run in different processes (or machines). All run until SIGINT/SIGTERM (or --duration); stopping publishes what
// arrived and commits or rolls back the open batch.
import { existsSync } from 'node:fs';
import { requireLocalLake } from '../lake/lake.ts';
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { resolveSettings } from '../catalog/settings.ts';
import { redactText, redactUrl } from '../http/redact.ts';
import { startWsReplay, type WsReplayServer } from '../replay/ws-replay.ts';
import { findSource } from '../sources/registry.ts';
import type { Feed } from '../streaming/feed.ts';
import type { ProducerLog } from '../streaming/feed-publisher.ts';
import { FEEDS, feedByName } from '../streaming/feed-registry.ts';
import { connectNats, type FeedSubject } from '../streaming/jetstream-streams.ts';
import type { StreamConsumer } from '../streaming/stream-consumer.ts';
import { lastStoredPoints } from '../streaming/resume-points.ts';
import { startFeedConsumer, startFeedProducer, type FeedProducer, type ProducerSettings } from '../streaming/stream-pipeline.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { replayEndpoints } from './replay-endpoints.ts';

interface StreamOptions {
  source: string;
  subjectPrefix: string;
  duration?: string;
  symbols?: string;
  interval?: string;
  silence?: string;
  batchSize?: string;
  batchMs?: string;
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer (got "${value}")`);
  return n;
}

const FEED_HELP = `one of ${Object.keys(FEEDS).join(', ')}`;

/** `a, b or c`. */
function orList(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** What --symbols names, per websocket feed (each once), and the polled feeds, as the sources declare them. */
const SYMBOLS_HELP = orList([...new Set(Object.values(FEEDS).flatMap((f) => (f.kind === 'websocket' ? [f.symbolsHelp] : [])))]);
const POLLED_FEEDS = Object.entries(FEEDS).filter(([, f]) => f.kind === 'polling').map(([name]) => name).join(', ');

function common(cmd: Command): Command {
  return cmd
    .requiredOption('--source <feed>', FEED_HELP)
    .option('--subject-prefix <prefix>', 'subjects <prefix>.<source>.<stream>; stream <PREFIX>_<SOURCE>_<STREAM> and durable consumer <prefix>_<source>_<stream> follow it', 'coinlake')
    .option('--duration <seconds>', 'stop by itself after this many seconds');
}

function producerOptions(cmd: Command): Command {
  return cmd
    .option('--symbols <list>', `websocket feeds: ${SYMBOLS_HELP}, comma-separated`)
    .option('--interval <seconds>', `polled feeds (${POLLED_FEEDS}): seconds between polls (default 60)`)
    .option('--silence <seconds>', 'websocket feeds: reconnect a feed that sent nothing for this many seconds (default 30)');
}

function consumerOptions(cmd: Command): Command {
  return cmd
    .option('--batch-size <n>', 'load a batch when it holds this many messages', '1000')
    .option('--batch-ms <n>', '… or when its first message waited this long (ms)', '1000');
}

/** What a producer needs to reach its source: replay servers under --replay, else the real APIs or env overrides. */
async function producerSettings(feed: Feed, o: StreamOptions, replay: boolean, nc: NatsConnection, resumeFrom?: ReadonlyMap<string, number>): Promise<{ settings: ProducerSettings; close: () => Promise<void> }> {
  const log: ProducerLog = {
    info: (obj, msg) => process.env.COINLAKE_STREAM_VERBOSE === '1' && process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`),
    warn: (obj, msg) => process.stderr.write(`warning: ${msg} ${JSON.stringify(obj)}\n`),
  };
  const base = { feed, nc, prefix: o.subjectPrefix, log };
  if (feed.kind === 'polling') {
    const { endpoints, close } = await replayEndpoints(replay);
    return { settings: { ...base, endpoints, intervalMs: o.interval ? positive('--interval', o.interval) * 1000 : undefined }, close };
  }
  const symbols = (o.symbols ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  let ws: WsReplayServer | undefined;
  const gapFilled = Boolean(feed.seriesPoint || feed.tradeId);
  const rest = gapFilled ? await replayEndpoints(replay) : undefined;
  if (replay) ws = await startWsReplay({ ticksPerSecond: 5 });
  const source = findSource(feed.source);
  const wsVariable = source.variables.wsUrl;
  const settings: ProducerSettings = {
    ...base,
    symbols,
    wsBaseUrl: ws?.url ?? (wsVariable ? process.env[wsVariable] : undefined) ?? feed.defaultBaseUrl,
    // Gap-fill asks the feed's source's REST API: the replay server's, its base URL variable's, or its default.
    restBaseUrl: gapFilled ? (rest?.endpoints.baseUrls?.[source.name] ?? source.defaultBaseUrl) : undefined,
    silenceMs: o.silence ? positive('--silence', o.silence) * 1000 : undefined,
    resumeFrom,
  };
  return {
    settings,
    close: async () => {
      await ws?.close();
      await rest?.close();
    },
  };
}

/**
 * `stream produce` of a gap-filled feed: the last stored points per series, read from the warehouse (a PostgreSQL URL,
 * or a DuckDB file that exists and no consumer holds); without them gap-fill starts at the first record received.
 */
async function producerResume(g: GlobalOptions, feed: Feed): Promise<ReadonlyMap<string, number> | undefined> {
  if (feed.kind !== 'websocket' || !feed.lastStored) return undefined;
  const { warehouse } = resolveSettings({ warehouse: g.warehouse });
  if (!/^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(warehouse) && !existsSync(warehouse.replace(/^duckdb:(\/\/)?/i, ''))) return undefined;
  try {
    return await withWarehouse(g, (session) => lastStoredPoints(session, feed));
  } catch (err) {
    process.stderr.write(redactText(`warning: gap-fill after this restart starts at the first record received: cannot read the last stored points from ${redactUrl(warehouse)}: ${errorMessage(err)}`) + '\n');
    return undefined;
  }
}

/** Resolves on Ctrl-C, SIGTERM, --duration, or when `done` settles. */
function untilStopped(o: StreamOptions, done?: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    if (o.duration) setTimeout(resolve, positive('--duration', o.duration) * 1000).unref();
    done?.then(() => resolve(), () => resolve());
  });
}

function consumerLine(c: StreamConsumer): string {
  const s = c.stats;
  return `batches ${s.batches}  messages ${s.messages}  rows ${s.rowsLoaded}  redeliveries skipped ${s.skipped}${s.alreadyLoaded ? `  already loaded ${s.alreadyLoaded}` : ''}`;
}

/** Runs the producer, the consumer, or both, of one feed until stopped. */
async function runStream(g: GlobalOptions, o: StreamOptions, sides: { produce: boolean; consume: boolean }): Promise<void> {
  const feed = feedByName(o.source);
  const replay = Boolean(g.replay) || process.env.COINLAKE_REPLAY === '1';
  const batchSize = positive('--batch-size', o.batchSize ?? '1000');
  const batchMs = positive('--batch-ms', o.batchMs ?? '1000');
  if (o.duration) positive('--duration', o.duration);
  if (o.silence !== undefined) {
    if (feed.kind !== 'websocket') throw new ConfigError(`--silence applies to websocket feeds; ${o.source} is polled`, { hint: 'use --interval to set how often it is polled' });
    positive('--silence', o.silence);
  }
  const nc = await connectNats();
  const closers: (() => Promise<void>)[] = [];
  try {
    const produceAndWait = async (consumer?: StreamConsumer, names?: FeedSubject, resumeFrom?: ReadonlyMap<string, number>) => {
      let producer: FeedProducer | undefined;
      if (sides.produce) {
        const p = await producerSettings(feed, o, replay, nc, resumeFrom ?? (consumer ? undefined : await producerResume(g, feed)));
        closers.push(p.close);
        const started = await startFeedProducer(p.settings);
        producer = started.producer;
        names ??= started.names;
        // Both sides in one process: the consumer's run row keeps the producer's counters (frames ignored by kind…).
        if (consumer) consumer.runDetails = () => ({ producer: { ...started.producer.stats } });
      }
      const table = `${feed.table.schema}.${feed.table.name}`;
      const what = sides.produce && sides.consume ? 'streaming' : sides.produce ? 'producing' : 'consuming';
      const target = sides.consume ? ` → ${table} [${feed.writeMode}]` : '';
      process.stdout.write(`${what} ${o.source} → ${names!.subject} (stream ${names!.stream})${target}; Ctrl-C stops\n`);
      const line = () => [producer?.summary(), consumer && consumerLine(consumer)].filter(Boolean).join('  ');
      const ticker = setInterval(() => process.stdout.write(line() + '\n'), 5000);
      await untilStopped(o, consumer?.done);
      clearInterval(ticker);
      process.stdout.write(`stopping: ${[producer && 'publishing what arrived', consumer && 'committing the open batch'].filter(Boolean).join(', ')}…\n`);
      await producer?.stop();
      await consumer?.stop();
      process.stdout.write(`stopped: ${line()}\n`);
    };
    if (!sides.consume) return await produceAndWait();
    await withWarehouse(g, async (session, lake) => {
      requireLocalLake(lake, 'coinlake stream');
      // Read before the consumer starts: where a gap-filled feed's producer resumes (the last stored point per series).
      const resumeFrom = sides.produce ? await lastStoredPoints(session, feed) : undefined;
      const { names, consumer } = await startFeedConsumer({ feed, nc, session, lake, prefix: o.subjectPrefix, batchSize, batchMs, logLevel: g.logLevel, printLog: g.printLog });
      if (consumer.notice) process.stdout.write(`note: ${consumer.notice.notice}\n`);
      await produceAndWait(consumer, names, resumeFrom);
    });
  } finally {
    await nc.close();
    for (const c of closers.reverse()) await c();
  }
}

export function registerStreamCommand(program: Command, globals: () => GlobalOptions): void {
  const stream = program
    .command('stream')
    .description(`stream a live feed through NATS JetStream into the warehouse until Ctrl-C (NATS at COINLAKE_NATS_URL, default nats://127.0.0.1:4222); feeds: ${Object.keys(FEEDS).join(', ')}`);
  consumerOptions(producerOptions(common(stream.command('run', { isDefault: true }))))
    .description('the producer and the consumer of a feed in one process (the default: `coinlake stream --source …`)')
    .action((o: StreamOptions) => runStream(globals(), o, { produce: true, consume: true }));
  producerOptions(common(stream.command('produce')))
    .description('publish a feed to JetStream (websocket feeds, or polled REST snapshots every --interval seconds)')
    .action((o: StreamOptions) => runStream(globals(), o, { produce: true, consume: false }));
  consumerOptions(common(stream.command('consume')))
    .description("load a feed's JetStream stream into the warehouse with a durable pull consumer, in micro-batches")
    .action((o: StreamOptions) => runStream(globals(), o, { produce: false, consume: true }));
}
