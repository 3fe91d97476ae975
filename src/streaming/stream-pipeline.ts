// Starting a feed's producer, its consumer, or both in one process (`coinlake stream produce|consume|<both> --source …`):
// source → JetStream → micro-batches → warehouse. Every start ensures the feed's stream first.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { StreamParams } from '../core/source.ts';
import { errorMessage } from '../core/errors.ts';
import type { Endpoints } from '../runner/job-builder.ts';
import type { Feed, PollFeed, WsFeed } from './feed.ts';
import type { ProducerLog } from './feed-publisher.ts';
import { ensureFeedStream, feedSubject, type FeedSubject } from './jetstream-streams.ts';
import { PollProducer } from './poll-producer.ts';
import { lastPublishedPoints, lastStoredPoints, laterPoints } from './resume-points.ts';
import { StreamConsumer, type ConsumerOptions } from './stream-consumer.ts';
import { WsProducer } from './ws-producer.ts';

/** Where a feed's producer reads from and how. */
export interface ProducerSettings {
  feed: Feed;
  nc: NatsConnection;
  /** Subject prefix; default `coinlake`. */
  prefix?: string;
  log?: ProducerLog;
  /** Websocket feeds: asset ids or symbols; the feed's default when empty. */
  symbols?: string[];
  /** Websocket feeds: base URL; default the feed's. */
  wsBaseUrl?: string;
  /** binance.klines, binance.trades, binance.aggtrades: Binance REST base URL for gap-fill; none: gaps are only reported by the quality checks. */
  restBaseUrl?: string;
  /** Gap-filled feeds: the last point per series in the warehouse (lastStoredPoints), where gap-fill resumes after a restart. */
  resumeFrom?: ReadonlyMap<string, number>;
  silenceMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Polled feeds: where the source is reached (replay URLs); default the real API. */
  endpoints?: Endpoints;
  /** Polled feeds: stream parameters (`limit`, `max`, …). */
  params?: StreamParams;
  /** Polled feeds: milliseconds between polls; default the feed's. */
  intervalMs?: number;
}

export type FeedProducer = WsProducer | PollProducer;
/** The producer class of a feed type. */
export type ProducerOf<F extends Feed> = F extends PollFeed ? PollProducer : F extends WsFeed ? WsProducer : FeedProducer;

/** Ensures the feed's stream and starts its producer (websocket or polling). */
export async function startFeedProducer<F extends Feed>(s: ProducerSettings & { feed: F }): Promise<{ names: FeedSubject; producer: ProducerOf<F> }> {
  const names = feedSubject(s.feed, s.prefix);
  await ensureFeedStream(await jetstreamManager(s.nc), names);
  const feed = s.feed;
  // A gap-filled feed resumes after the later of what the warehouse holds and what the stream holds already.
  const published = await lastPublishedPoints(s.nc, names.stream, feed, {
    onError: (err) => s.log?.warn({ stream: names.stream, error: errorMessage(err) }, 'last published points not read; gap-fill resumes from the warehouse'),
  });
  const resumeFrom = published.size > 0 ? laterPoints(s.resumeFrom, published) : s.resumeFrom;
  const producer =
    feed.kind === 'polling'
      ? new PollProducer({ feed, nc: s.nc, subject: names.subject, endpoints: s.endpoints, params: s.params, intervalMs: s.intervalMs, log: s.log })
      : new WsProducer({
          feed,
          nc: s.nc,
          subject: names.subject,
          url: feed.url({ baseUrl: s.wsBaseUrl ?? feed.defaultBaseUrl, symbols: s.symbols ?? [] }),
          silenceMs: s.silenceMs,
          minBackoffMs: s.minBackoffMs,
          maxBackoffMs: s.maxBackoffMs,
          gapFiller: s.restBaseUrl ? feed.gapFiller?.(s.restBaseUrl) : undefined,
          resumeFrom,
          log: s.log,
        });
  producer.start();
  return { names, producer: producer as ProducerOf<F> };
}

export type ConsumerSettings = Omit<ConsumerOptions, 'names'> & { prefix?: string };

/** Ensures the feed's stream and starts its durable consumer. */
export async function startFeedConsumer(s: ConsumerSettings): Promise<{ names: FeedSubject; consumer: StreamConsumer }> {
  const names = feedSubject(s.feed, s.prefix);
  await ensureFeedStream(await jetstreamManager(s.nc), names);
  const consumer = new StreamConsumer({ ...s, names });
  await consumer.start();
  return { names, consumer };
}

export type StreamPipelineOptions = ProducerSettings & ConsumerSettings;

export interface StreamPipeline<F extends Feed = Feed> {
  names: FeedSubject;
  producer: ProducerOf<F>;
  consumer: StreamConsumer;
  /** Stops the producer (publishing what arrived), then the consumer (loading what it received). */
  stop(): Promise<void>;
}

/**
 * Starts a feed's consumer, then its producer, in this process. A gap-filled feed's producer resumes from the last
 * points in the consumer's warehouse, read before the consumer starts (unless opts.resumeFrom says where).
 */
export async function startStreamPipeline<F extends Feed>(opts: StreamPipelineOptions & { feed: F }): Promise<StreamPipeline<F>> {
  const resumeFrom = opts.resumeFrom ?? (await lastStoredPoints(opts.session, opts.feed));
  const { names, consumer } = await startFeedConsumer(opts);
  const { producer } = await startFeedProducer({ ...opts, resumeFrom });
  consumer.runDetails = () => ({ producer: { ...producer.stats } });
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
