// The messages a stream consumer has received and not yet acked: gathered into micro-batches (by size, or by how
// long the first one waited), and given back (nak) when the consumer fails.
import type { JsMsg } from '@nats-io/jetstream';

/** Received messages, and the batches taken from them until they are acked. */
export class MessageBuffer {
  private buffer: JsMsg[] = [];
  /** Batches taken from the buffer and not yet acked: given back (nak) when the consumer fails. */
  private inFlight: JsMsg[][] = [];
  private firstAt = 0;

  /** A message the subscription delivered. */
  push(m: JsMsg): void {
    if (this.buffer.length === 0) this.firstAt = Date.now();
    this.buffer.push(m);
  }

  /** Takes the next batch when one is due: batchSize messages, or what waited batchMs (everything when `stopping`). */
  takeDue(batchSize: number, batchMs: number, stopping: boolean): JsMsg[] | undefined {
    const due = this.buffer.length >= batchSize || (this.buffer.length > 0 && (stopping || Date.now() - this.firstAt >= batchMs));
    if (!due) return undefined;
    const batch = this.buffer.splice(0, batchSize);
    if (this.buffer.length) this.firstAt = Date.now();
    this.inFlight.push(batch);
    return batch;
  }

  /** A batch taken by takeDue was committed (its acks are sent). */
  settled(batch: JsMsg[]): void {
    this.inFlight.splice(this.inFlight.indexOf(batch), 1);
  }

  /** Gives back every message not acked (in flight or still buffered), for redelivery to the next consumer. */
  giveBack(): void {
    for (const m of [...this.inFlight.splice(0).flat(), ...this.buffer.splice(0)]) m.nak();
  }
}
