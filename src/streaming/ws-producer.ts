// Websocket producer: reads a feed's frames, turns them into records and publishes each to JetStream with its
// natural key as `Nats-Msg-Id`. Reconnects with exponential backoff, a watchdog reconnects a feed that falls
// silent, and for time-series feeds a jump in a series' minutes (klines) or ids (trades) is filled from REST before
// the new record. A (re)started producer resumes from the last point per series stored in the warehouse, so a restart
// fills like a reconnect does.
import type { NatsConnection } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { errorMessage } from '../core/errors.ts';
import { USER_AGENT } from '../http/user-agent.ts';
import type { FeedRecord, WsFeed } from './feed.ts';
import { FeedPublisher, type ProducerLog, type PublishCounters } from './feed-publisher.ts';

export type { ProducerLog } from './feed-publisher.ts';

const MINUTE = 60_000;

/**
 * Fills the points [from, to] (both inclusive) of a series — the minutes' open times of a klines feed, the trade ids
 * of a trades feed: their records, one REST page at a time (each is published before the next is read, so a long
 * gap is never held in memory whole).
 */
export type GapFiller = (series: string, from: number, to: number) => AsyncIterable<FeedRecord[]>;

export interface ProducerOptions {
  feed: WsFeed;
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
  /** Last point per series already stored (kline open time, trade id): the first record of a series fills from there. */
  resumeFrom?: ReadonlyMap<string, number>;
  /** Publishes awaiting their JetStream ack at once. Default 512. */
  maxInFlight?: number;
  log?: ProducerLog;
}

/** Counters of a websocket producer. */
export interface ProducerStats extends PublishCounters {
  frames: number;
  connects: number;
  watchdogReconnects: number;
  gapFilled: number;
  /** Frames that gave no record, by kind (the feed's ignoredKind: `depthUpdate`, `non-JSON`, `trade (invalid)`…). */
  ignored: Record<string, number>;
}

/** Publishes one feed until stop(). */
export class WsProducer {
  readonly stats: ProducerStats = { frames: 0, published: 0, duplicates: 0, connects: 0, watchdogReconnects: 0, gapFilled: 0, ignored: {} };
  private readonly publisher: FeedPublisher;
  private ws?: WebSocket;
  private stopped = false;
  private attempt = 0;
  private lastFrameAt = 0;
  private watchdog?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private readonly lastPoint = new Map<string, number>();

  constructor(private readonly opts: ProducerOptions) {
    for (const [series, point] of opts.resumeFrom ?? []) this.lastPoint.set(series, point);
    this.publisher = new FeedPublisher(opts.nc, opts.subject, this.stats, { maxInFlight: opts.maxInFlight, log: opts.log });
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
    this.publisher.close();
    await this.publisher.flush();
    if (Object.keys(this.stats.ignored).length) this.opts.log?.warn({ url: this.opts.url, ignored: this.stats.ignored }, 'frames ignored, by kind');
  }

  /** One line of counters for the console. */
  summary(): string {
    const s = this.stats;
    const ignored = Object.entries(s.ignored).map(([kind, n]) => `${kind} ${n}`);
    return `frames ${s.frames}  published ${s.published} (${s.duplicates} duplicates)  gap-filled ${s.gapFilled}  connects ${s.connects}${ignored.length ? `  ignored ${ignored.join(', ')}` : ''}`;
  }

  /** Publishes records directly and waits for their acks (tests re-publish with this). */
  async publish(records: FeedRecord[]): Promise<void> {
    await this.publisher.publish(records);
    await this.publisher.flush();
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, { headers: { 'user-agent': USER_AGENT } });
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

  /** Counts a frame that gave no record by its kind; the first of each kind is logged. */
  private ignore(frame: string): void {
    const kind = this.opts.feed.ignoredKind?.(frame);
    if (kind === undefined) return;
    const n = (this.stats.ignored[kind] ?? 0) + 1;
    this.stats.ignored[kind] = n;
    if (n === 1) this.opts.log?.warn({ url: this.opts.url, kind, frame: frame.length > 200 ? `${frame.slice(0, 200)}…` : frame }, `frame ignored: kind ${kind} (the next ones of this kind are only counted)`);
  }

  private async handle(frame: string, receivedAt: number): Promise<void> {
    const records = this.opts.feed.parse(frame, receivedAt);
    if (records.length === 0) this.ignore(frame);
    for (const r of records) {
      const point = feedPoint(this.opts.feed, r.record);
      if (point) {
        const { series, at, step } = point;
        const last = this.lastPoint.get(series);
        if (last !== undefined && at > last + step && this.opts.gapFiller) {
          const show = step === MINUTE ? (t: number) => new Date(t).toISOString() : (id: number) => id;
          const gap = { series, from: show(last + step), to: show(at - step) };
          let filled = 0;
          try {
            for await (const page of this.opts.gapFiller(series, last + step, at - step)) {
              await this.publisher.publish(page);
              filled += page.length;
              this.stats.gapFilled += page.length;
            }
            this.opts.log?.info({ ...gap, records: filled }, 'gap filled from REST');
          } catch (err) {
            // The new record is still published; the quality checks report the minutes that stay missing.
            this.opts.log?.warn({ ...gap, records: filled, error: errorMessage(err) }, `gap not filled: REST ${step === MINUTE ? 'klines' : 'trades'} failed`);
          }
        }
        if (last === undefined || at > last) this.lastPoint.set(series, at);
      }
      await this.publisher.publish([r]);
    }
  }
}

/**
 * Where a record of a gap-filled feed sits in its series: a kline's minute (step one minute) or a trade's id (step 1);
 * undefined for a feed without gap-fill. The producer's gap check (per record) and lastPublishedPoints use it.
 */
export function feedPoint(feed: WsFeed, record: Record<string, unknown>): { series: string; at: number; step: number } | undefined {
  const k = feed.seriesPoint?.(record);
  if (k) return { series: k.series, at: k.openTime, step: MINUTE };
  const t = feed.tradeId?.(record);
  if (t && Number.isSafeInteger(t.id)) return { series: t.series, at: t.id, step: 1 };
  return undefined;
}
