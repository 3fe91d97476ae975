// Producer and consumer of one feed in one process (`coinlake stream --source …`): websocket → JetStream →
// micro-batches → warehouse. stop() closes the websocket, publishes what arrived, then loads what was received.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Session } from '../core/destination.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import type { Feed } from './feed.ts';
import { ensureFeedStream, feedSubject, type FeedSubject } from './jetstream-streams.ts';
import { klineGapFiller } from './kline-gap-fill.ts';
import { StreamConsumer, type ConsumerOptions } from './stream-consumer.ts';
import { WsProducer, type ProducerLog } from './ws-producer.ts';

export interface StreamPipelineOptions extends Pick<ConsumerOptions, 'batchSize' | 'batchMs' | 'ackWaitMs' | 'durable' | 'beforeCommit' | 'logLevel' | 'printLog'> {
  feed: Feed;
  nc: NatsConnection;
  session: Session;
  lake: LocalLake;
  /** Asset ids or symbols; the feed's default when empty. */
  symbols?: string[];
  /** Websocket base URL; default the feed's. */
  wsBaseUrl?: string;
  /** Binance REST base URL for gap-fill of klines; none: gaps are only logged by the quality checks. */
  restBaseUrl?: string;
  /** Subject prefix; default `coinlake`. */
  prefix?: string;
  silenceMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: ProducerLog;
}

export interface StreamPipeline {
  names: FeedSubject;
  producer: WsProducer;
  consumer: StreamConsumer;
  stop(): Promise<void>;
}

/** Ensures the feed's stream, starts its consumer, then its producer. */
export async function startStreamPipeline(opts: StreamPipelineOptions): Promise<StreamPipeline> {
  const { feed, nc } = opts;
  const names = feedSubject(feed, opts.prefix);
  await ensureFeedStream(await jetstreamManager(nc), names);
  const consumer = new StreamConsumer({ ...opts, names });
  await consumer.start();
  const producer = new WsProducer({
    feed,
    nc,
    subject: names.subject,
    url: feed.url({ baseUrl: opts.wsBaseUrl ?? feed.defaultBaseUrl, symbols: opts.symbols ?? [] }),
    silenceMs: opts.silenceMs,
    minBackoffMs: opts.minBackoffMs,
    maxBackoffMs: opts.maxBackoffMs,
    gapFiller: feed.seriesPoint && opts.restBaseUrl ? klineGapFiller(opts.restBaseUrl) : undefined,
    log: opts.log,
  });
  producer.start();
  return {
    names,
    producer,
    consumer,
    async stop() {
      await producer.stop();
      await consumer.stop();
    },
  };
}
