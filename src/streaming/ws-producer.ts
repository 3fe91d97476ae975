// Websocket producer: reads a feed's frames, turns them into records and publishes each to JetStream with its
// natural key as `Nats-Msg-Id`. Reconnects with exponential backoff, a watchdog reconnects a feed that falls
// silent, and for time-series feeds a jump in a series' minutes is filled from REST before the new record.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { errorMessage } from '../core/errors.ts';
import type { Feed, FeedRecord } from './feed.ts';

const MINUTE = 60_000;

/** Fills the minutes [fromOpenTime, toOpenTime] (both inclusive) of a series; returns their records. */
export type GapFiller = (series: string, fromOpenTime: number, toOpenTime: number) => Promise<FeedRecord[]>;

/** What the producer reports as it runs (logs). */
export interface ProducerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ProducerOptions {
  feed: Feed;
  url: string;
  subject: string;
  nc: NatsConnection;
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs. Default 250 ms. */
  minBackoffMs?: number;
  /** Default 30 s. */
  maxBackoffMs?: number;
  /** A feed silent this long is reconnected. Default 30 s. */
  silenceMs?: number;
  gapFiller?: GapFiller;
  log?: ProducerLog;
}

/** Counters of a producer. */
export interface ProducerStats {
  frames: number;
  published: number;
  /** Publishes JetStream recognised as repeats of a stored message id. */
  duplicates: number;
  connects: number;
  watchdogReconnects: number;
  gapFilled: number;
}

/** Publishes one feed until stop(). */
export class WsProducer {
  readonly stats: ProducerStats = { frames: 0, published: 0, duplicates: 0, connects: 0, watchdogReconnects: 0, gapFilled: 0 };
  private readonly js: JetStreamClient;
  private ws?: WebSocket;
  private stopped = false;
  private attempt = 0;
  private lastFrameAt = 0;
  private watchdog?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private readonly lastPoint = new Map<string, number>();
  private failure?: unknown;

  constructor(private readonly opts: ProducerOptions) {
    this.js = jetstream(opts.nc);
  }

  /** Opens the websocket and starts the watchdog. */
  start(): void {
    this.connect();
    const silenceMs = this.opts.silenceMs ?? 30_000;
    this.watchdog = setInterval(() => {
      if (this.ws?.readyState === WebSocket.OPEN && Date.now() - this.lastFrameAt > silenceMs) {
        this.stats.watchdogReconnects++;
        this.opts.log?.warn({ url: this.opts.url, silentMs: Date.now() - this.lastFrameAt }, 'feed silent; reconnecting');
        this.ws.terminate();
      }
    }, Math.max(20, Math.min(1000, silenceMs / 4)));
  }

  /** Closes the websocket and waits until every record received so far is published. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.ws?.terminate();
    await this.chain;
  }

  /** Publishes records directly (tests re-publish with this; gap-fill uses it too). */
  async publish(records: FeedRecord[]): Promise<void> {
    for (const r of records) {
      const ack = await this.publishOne(r);
      this.stats.published++;
      if (ack) this.stats.duplicates++;
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url);
    this.ws = ws;
    ws.on('open', () => {
      this.stats.connects++;
      this.lastFrameAt = Date.now();
      this.opts.log?.info({ url: this.opts.url }, 'feed connected');
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const receivedAt = Date.now();
      this.lastFrameAt = receivedAt;
      this.attempt = 0;
      this.stats.frames++;
      const frame = data.toString();
      this.chain = this.chain.then(() => this.handle(frame, receivedAt)).catch((err) => {
        this.failure ??= err;
        this.opts.log?.warn({ error: errorMessage(err) }, 'frame not published');
      });
    });
    ws.on('error', (err) => this.opts.log?.warn({ url: this.opts.url, error: errorMessage(err) }, 'feed error'));
    ws.on('close', () => {
      if (this.stopped || this.ws !== ws) return;
      const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, (this.opts.minBackoffMs ?? 250) * 2 ** this.attempt++);
      const jittered = delay / 2 + Math.random() * (delay / 2);
      this.opts.log?.warn({ url: this.opts.url, retryInMs: Math.round(jittered) }, 'feed closed; reconnecting');
      setTimeout(() => this.connect(), jittered);
    });
  }

  private async handle(frame: string, receivedAt: number): Promise<void> {
    for (const r of this.opts.feed.parse(frame, receivedAt)) {
      const point = this.opts.feed.seriesPoint?.(r.record);
      if (point) {
        const last = this.lastPoint.get(point.series);
        if (last !== undefined && point.openTime > last + MINUTE && this.opts.gapFiller) {
          const filled = await this.opts.gapFiller(point.series, last + MINUTE, point.openTime - MINUTE);
          this.opts.log?.info({ series: point.series, from: new Date(last + MINUTE).toISOString(), to: new Date(point.openTime - MINUTE).toISOString(), records: filled.length }, 'gap filled from REST');
          await this.publish(filled);
          this.stats.gapFilled += filled.length;
        }
        if (last === undefined || point.openTime > last) this.lastPoint.set(point.series, point.openTime);
      }
      await this.publish([r]);
    }
  }

  /** Publishes until JetStream stores it (retrying while NATS is away); true when it was a duplicate. */
  private async publishOne(r: FeedRecord): Promise<boolean> {
    const payload = new TextEncoder().encode(JSON.stringify(r.record));
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await this.js.publish(this.opts.subject, payload, { msgID: r.msgId, timeout: 5000 });
        return ack.duplicate;
      } catch (err) {
        if (this.stopped && attempt > 3) throw err;
        this.opts.log?.warn({ subject: this.opts.subject, error: errorMessage(err) }, 'publish failed; retrying');
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }
}
