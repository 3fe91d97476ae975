// Publishes a feed's records to JetStream with `Nats-Msg-Id`, many at once, each until JetStream acks it. This is
// JetStream's asynchronous publish (what the Go client's PublishAsync does): a plain NATS publish to the stream's
// subject with a reply subject under one inbox of ours, where JetStream sends its PubAck. A publish whose ack does not
// come within the ack timeout, or that JetStream refuses, is sent again with the same message id — a repeat of a stored
// message is a no-op, so retrying through a NATS restart never stores anything twice. The client's own js.publish()
// costs a request (promise, timer, inbox routing) per message, several times this one on the producer's CPU.
//
// Each message is encoded once, as its whole NATS protocol frame (`HPUB subject reply hlen total`, the Nats-Msg-Id
// header, the JSON record), with one Buffer.from, and handed to the connection's outbound buffer (the protocol
// handler's sendCommand, the client's internal API its own JetStream package is built on; the version is pinned).
// nc.publish() would take three TextEncoder calls a message (command line, headers, payload), each a new ArrayBuffer:
// measured on the producer alone, ~2 µs of its ~11 µs a message plus their garbage. A resend reuses the frame.
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { errors as natsErrors, type NatsConnectionImpl } from '@nats-io/nats-core/internal';
import { TerminalError, TransientError, errorMessage } from '../core/errors.ts';
import type { FeedRecord } from './feed.ts';
import { EXAMPLES } from '../sources/registry.ts';

/** What a producer reports as it runs (logs). */
export interface ProducerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Counters a publisher updates (a producer passes its own stats object). */
export interface PublishCounters {
  /** Records JetStream acknowledged (stored, or recognised as a repeat). */
  published: number;
  /** Publishes JetStream recognised as repeats of a stored message id (re-publishes, and retries of stored ones). */
  duplicates: number;
}

export interface PublisherOptions {
  /** Publishes awaiting their JetStream ack at once. Default 512. */
  maxInFlight?: number;
  /** A publish not acked this long is sent again. Default 5 s. */
  ackTimeoutMs?: number;
  log?: ProducerLog;
}

interface Pending {
  msgId: string;
  /** The message's whole protocol frame: HPUB line, headers, payload, CRLF. */
  frame: Uint8Array;
  attempts: number;
  /** When to send it again if no ack came. */
  dueAt: number;
}

const decoder = new TextDecoder();
/** Header block of a message with its id: `NATS/1.0`, `Nats-Msg-Id: <id>`, a blank line. */
const headerBlock = (msgId: string) => `NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n\r\n`;
/** Attempts a publish gets once the publisher is closing (shutdown), before it gives up. */
const CLOSING_ATTEMPTS = 3;

/** A pipelined, retrying JetStream publisher for one subject. */
export class FeedPublisher {
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly inbox = createInbox();
  /** The connection's internals: its outbound buffer (sendCommand) and the server's max_payload. */
  private readonly conn: NatsConnectionImpl;
  private sub?: Subscription;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private timer?: NodeJS.Timeout;
  private roomWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private failure?: unknown;
  private closing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly counters: PublishCounters,
    private readonly opts: PublisherOptions = {},
  ) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 512);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.conn = nc as NatsConnectionImpl;
    if (typeof this.conn.protocol?.sendCommand !== 'function') {
      throw new TerminalError('FeedPublisher: this NATS client has no protocol.sendCommand (@nats-io/nats-core changed; pin 3.4.x)', {
        hint: 'reinstall with npm ci so @nats-io/nats-core is the version package-lock.json pins',
      });
    }
    if (/[\s*>]/.test(subject) || subject === '') {
      throw new TerminalError(`FeedPublisher: "${subject}" is not a subject to publish to`, { hint: `name one subject without spaces or wildcards (* or >), e.g. ${EXAMPLES.subject}` });
    }
  }

  /**
   * Starts publishing records; returns once they are all sent (not acked: see flush()), waiting only while
   * maxInFlight publishes await their acks. Records sent without a pause in between leave in one socket write.
   */
  async publish(records: Iterable<FeedRecord>): Promise<void> {
    for (const r of records) {
      this.throwFailure();
      // Once full, wait until a quarter of the window is free: records then leave in bursts, not one write each.
      while (this.pending.size >= this.maxInFlight) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      this.start(r);
    }
  }

  /** Waits until every record handed to publish() is acked; throws the first publish that gave up. */
  async flush(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.throwFailure();
  }

  /** From now on a publish gives up after a few attempts instead of retrying for ever (shutdown). */
  close(): void {
    this.closing = true;
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private start(r: FeedRecord): void {
    this.sub ??= this.nc.subscribe(`${this.inbox}.*`, { callback: (_err, m) => this.onAck(m) });
    if (/[\r\n]/.test(r.msgId)) {
      throw new TerminalError(`message id ${JSON.stringify(r.msgId)} on ${this.subject} holds a line break; a NATS header cannot`, { hint: 'build message ids from fields without line breaks' });
    }
    const id = ++this.next;
    const header = headerBlock(r.msgId);
    const payload = JSON.stringify(r.record);
    const hlen = Buffer.byteLength(header);
    const total = hlen + Buffer.byteLength(payload);
    const max = this.conn.info?.max_payload;
    if (max !== undefined && total > max) {
      throw new TerminalError(`message ${r.msgId} on ${this.subject} is ${total} bytes, over the server's max_payload of ${max}`, {
        hint: 'raise max_payload in the nats-server configuration, or publish smaller records',
      });
    }
    const frame = Buffer.from(`HPUB ${this.subject} ${this.inbox}.${id} ${hlen} ${total}\r\n${header}${payload}\r\n`);
    const p: Pending = { msgId: r.msgId, frame, attempts: 0, dueAt: 0 };
    this.pending.set(id, p);
    this.timer ??= setInterval(() => this.resendDue(), Math.min(250, this.ackTimeoutMs));
    this.send(p);
  }

  private send(p: Pending): void {
    p.attempts++;
    p.dueAt = Date.now() + this.ackTimeoutMs;
    try {
      // What nc.publish() checks first: a closed or draining connection takes no more publishes.
      if (this.nc.isClosed()) throw new natsErrors.ClosedConnectionError();
      if (this.conn.protocol.noMorePublishing) throw new natsErrors.DrainingConnectionError();
      this.conn.protocol.sendCommand(p.frame);
    } catch (err) {
      // A closed connection: resendDue() tries again, and gives up once closing.
      this.retryLater(p, errorMessage(err));
    }
  }

  /** A PubAck (`{"stream", "seq", "duplicate"?}`), a JetStream error (`{"error": {…}}`) or a no-responders status. */
  private onAck(m: Msg): void {
    const id = Number(m.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(id);
    if (!p) return; // the ack of an attempt already acked
    let ack: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { description?: unknown } } | undefined;
    try {
      ack = m.data.length > 0 ? JSON.parse(decoder.decode(m.data)) : undefined;
    } catch {
      ack = undefined;
    }
    if (!ack || typeof ack.seq !== 'number') {
      const why = ack?.error ? String(ack.error.description ?? JSON.stringify(ack.error)) : m.headers?.code === 503 ? 'no stream listens on the subject (503)' : 'not a JetStream ack';
      this.retryLater(p, why);
      return;
    }
    this.pending.delete(id);
    this.counters.published++;
    if (ack.duplicate === true) this.counters.duplicates++;
    this.wakeIfRoom();
    if (this.pending.size === 0) this.idle();
  }

  private wakeIfRoom(): void {
    if (this.roomWaiters.length > 0 && this.pending.size <= (this.maxInFlight * 3) >> 2) for (const w of this.roomWaiters.splice(0)) w();
  }

  /** Backs off a refused publish: 100 ms doubling to 5 s. */
  private retryLater(p: Pending, why: string): void {
    if (p.attempts === 1 || p.attempts % 10 === 0) this.opts.log?.warn({ subject: this.subject, msgId: p.msgId, attempt: p.attempts, error: why }, 'publish not acked; retrying');
    p.dueAt = Date.now() + Math.min(5000, 100 * 2 ** Math.min(p.attempts - 1, 6));
  }

  /** Sends again what is due; gives up (once closing) on a publish that had its attempts. */
  private resendDue(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.dueAt > now) continue;
      if (this.closing && p.attempts >= CLOSING_ATTEMPTS) {
        this.failure ??= new TransientError(`JetStream did not ack message ${p.msgId} on ${this.subject} after ${p.attempts} attempts`, { hint: 'is nats-server (with -js) running?' });
        this.pending.delete(id);
        this.wakeIfRoom();
        continue;
      }
      this.send(p);
    }
    if (this.pending.size === 0) this.idle();
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.closing) {
      this.sub?.unsubscribe();
      this.sub = undefined;
    }
  }
}
