// Acking a stream consumer's messages once their batch committed: one ack per batch on a durable with AckPolicy.All
// (it acks every message up to the one acked), one per message on an earlier version's AckPolicy.Explicit durable.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../core/errors.ts';
import type { LoadedSequences } from './consumer-state.ts';
import type { FeedSubject } from './jetstream-streams.ts';

/**
 * Stream sequence of a delivered message, read from its ack subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<seq>.…`,
 * `ackPrefix` being its part up to the consumer) without the client's parse of all nine tokens into an object
 * (about 0.8 µs a message, most of it garbage); any other form of subject takes the client's parse.
 */
export function streamSeq(m: JsMsg, ackPrefix: string): number {
  // The client's JsMsg carries its ack subject as `reply`, which the JsMsg type leaves out.
  const reply = (m as JsMsg & { readonly reply?: unknown }).reply;
  if (typeof reply === 'string' && reply.startsWith(ackPrefix)) {
    const from = reply.indexOf('.', ackPrefix.length) + 1;
    const to = reply.indexOf('.', from);
    if (from > 0 && to > from) {
      const seq = Number(reply.slice(from, to));
      if (Number.isSafeInteger(seq) && seq > 0) return seq;
    }
  }
  return m.seq;
}

/** The acks of one durable consumer's committed batches. */
export class StreamAcks {
  /** The run's log, once the run is open. */
  log?: Logger;
  /** AckPolicy.All: the last ack sent (stream and delivery sequence), and the loaded messages not acked yet. */
  private acked = { seq: 0, delivery: 0 };
  private readonly held = new Map<number, JsMsg>();
  /** What the ack subject of every message of this consumer starts with (see streamSeq). */
  readonly ackPrefix: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: FeedSubject,
    durable: string,
    /** The durable's ack policy is AckPolicy.All: one ack per batch (see ackThrough). */
    private readonly ackAll: boolean,
  ) {
    this.ackPrefix = `$JS.ACK.${names.stream}.${durable}.`;
  }

  /** Stream sequence of a message of this consumer. */
  seqOf(m: JsMsg): number {
    return streamSeq(m, this.ackPrefix);
  }

  /** Starts from the server's ack floor (stream and delivery sequence) of the durable. */
  resumeAt(ackFloor: { stream_seq: number; consumer_seq: number }): void {
    this.acked = { seq: ackFloor.stream_seq, delivery: ackFloor.consumer_seq };
  }

  /**
   * Acks a committed batch: its loaded messages `msgs` (sequences `seqs`) and the repeats `old` of loaded ones, then
   * sends the acks without waiting. An ack that never arrives (NATS restarting) only means a redelivery, which the
   * loaded sequences recognise.
   */
  async ackBatch(msgs: JsMsg[], seqs: number[], old: JsMsg[], loaded: LoadedSequences): Promise<void> {
    if (this.ackAll) {
      if (loaded.hasGap()) await this.skipMissing(loaded);
      this.ackThrough([...msgs, ...old], [...seqs, ...old.map((m) => this.seqOf(m))], loaded.floor);
    } else {
      for (const m of msgs) m.ack();
      for (const m of old) m.ack();
    }
    void this.flush();
  }

  /**
   * AckPolicy.All: one ack acks every message up to its stream sequence, so it must be of a loaded message at or below
   * the floor. JetStream also ignores an ack whose delivery sequence is not above the last ack's, so the ack goes to
   * the highest such message delivered before every unacked message above it. Messages that cannot be acked yet —
   * above the floor (loaded while an earlier one is still to come back, after a crash), or delivered out of order
   * (redeliveries) — are held and acked by a later ack, or come back after the ack wait and are acked then.
   */
  private ackThrough(batch: JsMsg[], seqs: number[], floor: number): void {
    // The messages not acked yet, in stream order, with their sequences: the batch itself when nothing is held and it
    // is in order (the usual batch), else the held ones with the batch's (a newer delivery replaces an older one).
    let waiting: JsMsg[];
    let waitingSeqs: number[];
    if (this.held.size === 0 && seqs.every((seq, i) => i === 0 || seq > seqs[i - 1])) {
      const first = seqs.findIndex((seq) => seq > this.acked.seq);
      waiting = first < 0 ? [] : batch.slice(first);
      waitingSeqs = first < 0 ? [] : seqs.slice(first);
    } else {
      batch.forEach((m, i) => {
        if (seqs[i] > this.acked.seq) this.held.set(seqs[i], m);
      });
      waitingSeqs = [...this.held.keys()].sort((a, b) => a - b);
      waiting = waitingSeqs.map((seq) => this.held.get(seq)!);
    }
    let minDeliveryAbove = Infinity;
    let acked = -1;
    for (let i = waiting.length - 1; i >= 0; i--) {
      const m = waiting[i];
      const delivery = m.info.deliverySequence;
      if (waitingSeqs[i] <= floor && delivery < minDeliveryAbove && delivery > this.acked.delivery) {
        m.ack();
        this.acked = { seq: waitingSeqs[i], delivery };
        acked = i;
        break;
      }
      minDeliveryAbove = Math.min(minDeliveryAbove, delivery);
    }
    // What the ack did not cover waits for a later one.
    this.held.clear();
    for (let i = acked + 1; i < waiting.length; i++) this.held.set(waitingSeqs[i], waiting[i]);
  }

  /**
   * The floor waits for a sequence above it that may never be delivered: expired or purged from the stream's start,
   * deleted, or of another subject. Such sequences have nothing to load; anything else is a message still pending
   * with the server (delivered before a crash), which comes back after the ack wait.
   */
  private async skipMissing(loaded: LoadedSequences): Promise<void> {
    const { nc, names } = this;
    try {
      const jsm = await jetstreamManager(nc);
      loaded.raiseFloor((await jsm.streams.info(names.stream)).state.first_seq - 1);
      while (loaded.hasGap()) {
        const seq = loaded.floor + 1;
        const m = await jsm.streams.getMessage(names.stream, { seq });
        if (m && m.subject === names.subject) break;
        loaded.raiseFloor(seq);
      }
    } catch (err) {
      // The next batch looks again.
      this.log?.debug({ error: errorMessage(err) }, 'could not look up the missing sequence');
    }
  }

  /** Sends the acks written so far; resolves within `waitMs` whatever the connection's state (at once for 0). */
  flush(waitMs = 0): Promise<void> {
    const flushed = this.nc.flush().catch((err) => this.log?.warn({ error: errorMessage(err) }, 'acks not confirmed; unconfirmed messages will be redelivered and skipped'));
    if (waitMs <= 0) return Promise.resolve();
    return Promise.race([flushed, sleep(waitMs)]).then(() => undefined);
  }
}
