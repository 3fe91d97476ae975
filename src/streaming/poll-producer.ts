// Polling producer: every interval, reads a REST stream whole (the batch job's requests, paging, rate limit and
// retries, through the one HTTP client) and publishes every record of the snapshot with its message id. Polls run
// at the interval's slots (multiples of it); a poll that overruns skips the slots it missed, and a poll that fails
// is logged and retried at the next slot — the feed goes on.
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../core/job.ts';
import type { StreamParams } from '../core/source.ts';
import { errorMessage } from '../core/errors.ts';
import { HttpClient } from '../http/http-client.ts';
import { buildJob, type Endpoints } from '../runner/job-builder.ts';
import type { PollFeed } from './feed.ts';
import { FeedPublisher, type ProducerLog, type PublishCounters } from './feed-publisher.ts';

export interface PollProducerOptions {
  feed: PollFeed;
  nc: NatsConnection;
  subject: string;
  /** Where the source is reached (the replay server's URLs under --replay); default the real API. */
  endpoints?: Endpoints;
  /** Stream parameters, as a batch job's (`limit`, `max`, …). */
  params?: StreamParams;
  /** Milliseconds between polls; default the feed's interval. */
  intervalMs?: number;
  log?: ProducerLog;
}

/** Counters of a polling producer. */
export interface PollStats extends PublishCounters {
  polls: number;
  failedPolls: number;
  /** Slots not polled because the poll before them overran. */
  skippedSlots: number;
  records: number;
}

/** Polls one feed until stop(). */
export class PollProducer {
  readonly stats: PollStats = { polls: 0, failedPolls: 0, skippedSlots: 0, records: 0, published: 0, duplicates: 0 };
  readonly intervalMs: number;
  private readonly job: Job;
  private readonly http: HttpClient;
  private readonly publisher: FeedPublisher;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly opts: PollProducerOptions) {
    this.intervalMs = opts.intervalMs ?? opts.feed.defaultIntervalSeconds * 1000;
    this.job = buildJob(opts.feed.job, { params: opts.params }, opts.endpoints);
    this.http = new HttpClient({ ...this.job.http, rateLimitPerMinute: this.job.rateLimitPerMinute, headers: this.job.headers });
    this.publisher = new FeedPublisher(opts.nc, opts.subject, this.stats, { log: opts.log });
  }

  /** Polls now (the current slot), then at every following slot. */
  start(): void {
    this.loop = this.run();
  }

  /** Stops polling (a poll under way is abandoned) and waits until what was handed to JetStream is acked. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    this.publisher.close();
    await this.publisher.flush();
  }

  /** One line of counters for the console. */
  summary(): string {
    const s = this.stats;
    return `polls ${s.polls} (${s.failedPolls} failed)  records ${s.records}  published ${s.published} (${s.duplicates} duplicates)`;
  }

  /**
   * Reads one whole snapshot and publishes its records with snapshot time `slot` (ms); resolves when JetStream has
   * acked them all. Returns the number of records.
   */
  async pollOnce(slot: number): Promise<number> {
    const records: Record<string, unknown>[] = [];
    const read = this.job.stream.read({ http: this.http, baseUrl: this.job.baseUrl, credentials: this.job.credentials, params: this.job.params, signal: this.abort.signal });
    for await (const page of read) records.push(...page.records);
    // Published only once the snapshot is complete: a poll that fails half-way publishes nothing.
    await this.publisher.publish(this.opts.feed.snapshot(records, slot));
    await this.publisher.flush();
    this.stats.polls++;
    this.stats.records += records.length;
    return records.length;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let last: number | undefined;
    while (!signal.aborted) {
      const slot = Math.floor(Date.now() / this.intervalMs) * this.intervalMs;
      if (slot !== last) {
        if (last !== undefined && slot > last + this.intervalMs) {
          const skipped = (slot - last) / this.intervalMs - 1;
          this.stats.skippedSlots += skipped;
          this.opts.log?.warn({ feed: this.opts.feed.job, skipped }, 'poll overran its interval; slots skipped');
        }
        last = slot;
        try {
          const n = await this.pollOnce(slot);
          this.opts.log?.info({ feed: this.opts.feed.job, slot: new Date(slot).toISOString(), records: n }, 'snapshot published');
        } catch (err) {
          if (signal.aborted) break;
          this.stats.failedPolls++;
          this.opts.log?.warn({ feed: this.opts.feed.job, slot: new Date(slot).toISOString(), error: errorMessage(err) }, 'poll failed; next one at the next slot');
        }
      }
      await sleep(Math.max(1, last + this.intervalMs - Date.now()), undefined, { signal }).catch(() => undefined);
    }
  }
}
