// What a stream consumer commits with every batch: the stream sequences it has loaded — a floor (every sequence up
// to it is loaded) plus the loaded ones above it, since redeliveries come in any order — and the stream's identity.
/**
 * State committed with every batch: every stream sequence ≤ floor is loaded, and so is each one in `above` — of the
 * stream created at `created` (JetStream's StreamInfo.created): a stream deleted and created again under the same name
 * starts its sequences at 1 again, and the consumer starts over on it. `checkKeysUntil` (ms): on a re-created stream,
 * messages published before it (the stream's duplicate window after its creation) may repeat records loaded from the
 * earlier stream, which JetStream cannot know of; append-mode rows whose key the table already holds are not loaded.
 */
export interface ConsumerState {
  floor: number;
  above: number[];
  created?: string;
  checkKeysUntil?: number;
}

/** The loaded sequences of a consumer, as its state records them. */
export class LoadedSequences {
  private readonly above = new Set<number>();
  constructor(
    /** Every sequence up to it is loaded. */
    public floor = 0,
    above: number[] = [],
  ) {
    for (const s of above) this.above.add(s);
    this.advance();
  }
  has(seq: number): boolean {
    return seq <= this.floor || this.above.has(seq);
  }
  /** Whether a sequence is loaded above one that is not. */
  hasGap(): boolean {
    return this.above.size > 0;
  }
  /** The state after adding `seqs` (this object changes only by commit()). */
  with(seqs: number[]): ConsumerState {
    // The usual batch: the sequences right after the floor, in order.
    if (this.above.size === 0 && seqs.every((seq, i) => seq === this.floor + 1 + i)) return { floor: this.floor + seqs.length, above: [] };
    const next = new LoadedSequences(this.floor, [...this.above, ...seqs]);
    return next.state();
  }
  state(): ConsumerState {
    return { floor: this.floor, above: [...this.above].sort((a, b) => a - b) };
  }
  /** Raises the floor to a sequence known loaded (the server's ack floor: nothing is acked before it commits). */
  raiseFloor(seq: number): void {
    this.floor = Math.max(this.floor, seq);
    for (const s of this.above) if (s <= this.floor) this.above.delete(s);
    this.advance();
  }
  private advance(): void {
    while (this.above.delete(this.floor + 1)) this.floor++;
  }
}
