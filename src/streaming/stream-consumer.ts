// Durable pull consumer of a feed's stream: gathers messages into micro-batches (by size or time) and loads each in
// one transaction on the pipeline (src/pipeline/): raw messages to the lake, rows by the feed's write mode,
// and the stream sequence reached as the job's state — all committed together. A message is acked only after the
// batch holding it commits — one ack per batch (AckPolicy.All acks every message up to the one acked); one that
// arrives again after that (a crash between COMMIT and ack) is recognised by its sequence and acked without loading
// it twice. Redeliveries come in any order, so the state is a set of sequences: a floor (every sequence up to it is
// loaded) plus the loaded ones above it.
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from '../core/destination.ts';
import type { Row } from '../core/table.ts';
import { TerminalError, errorMessage } from '../core/errors.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';
import { physicalTable } from '../load/scd2.ts';
import { normalizeRecords } from '../normalize/normalizer.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { landQuarantine, lakeRelative, stepTimer, type CommittedBatch, type ExtractedBatch, type RunScope } from '../pipeline/run-steps.ts';
import { RUN_COMPLETE, type RunOutcome } from '../runner/run-history.ts';
import { readState, writeState } from '../runner/state-store.ts';
import type { Feed } from './feed.ts';
import { legacyDurable, type FeedSubject } from './jetstream-streams.ts';
import { decodeBatch } from './message-batch.ts';

const nanos = (ms: number) => ms * 1_000_000;

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

export interface ConsumerOptions {
  feed: Feed;
  names: FeedSubject;
  nc: NatsConnection;
  session: Session;
  lake: LocalLake;
  /**
   * Durable consumer name; default `names.durable` (`<prefix>_<source>_<stream>`), or `coinlake_<source>_<stream>` where
   * an earlier version made that durable on this stream (it keeps its position) and none of the new name exists.
   */
  durable?: string;
  /** A batch is loaded when it holds this many messages. Default 1000. */
  batchSize?: number;
  /** … or when its first message waited this long. Default 1000 ms. */
  batchMs?: number;
  /** Unacked messages are redelivered after this. Default 30 s. */
  ackWaitMs?: number;
  logLevel?: string;
  printLog?: boolean;
  /** Test hook: runs inside the batch transaction just before COMMIT (a throw rolls the batch back). */
  beforeCommit?: () => Promise<void>;
  /** Test hook: runs after COMMIT, before the acks (a throw is a crash between the two). */
  beforeAck?: () => Promise<void>;
  /** Called after each batch commits (metrics, benchmarks): its typed rows and when COMMIT returned (ms). */
  onBatch?: (batch: CommittedStreamBatch) => void;
}

/** A batch the consumer committed. */
export interface CommittedStreamBatch {
  batch: number;
  messages: number;
  rows: Row[];
  committedAt: number;
  /**
   * Milliseconds of each step: decode, normalize, then commitBatch's (prepare, stage, curated, writeMode, afterLoad,
   * commit — which includes rawWait, the wait for the raw page still being written — and publish).
   */
  timings: Record<string, number>;
}

/**
 * State committed with every batch: every stream sequence ≤ floor is loaded, and so is each one in `above` — of the
 * stream created at `created` (JetStream's StreamInfo.created): a stream deleted and created again under the same name
 * starts its sequences at 1 again, and the consumer starts over on it. `checkKeysUntil` (ms): on a re-created stream,
 * messages published before it (the stream's duplicate window after its creation) may repeat records loaded from the
 * earlier stream, which JetStream cannot know of; append-mode rows whose key the table already holds are not loaded.
 */
interface ConsumerState {
  floor: number;
  above: number[];
  created?: string;
  checkKeysUntil?: number;
}

/**
 * Whether the state was written for an earlier stream of the same name: its creation time differs, or — a state
 * written before creation times were kept — its floor lies beyond the stream's last sequence (sequences never go back).
 */
function isRecreated(state: ConsumerState, created: string, lastSeq: number): boolean {
  return state.created !== undefined ? state.created !== created : state.floor > lastSeq;
}

/** The loaded sequences of a consumer, as its state records them. */
class LoadedSequences {
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

export interface ConsumerStats {
  batches: number;
  messages: number;
  rowsLoaded: number;
  /** Values (or whole messages that were no record) set aside in the quarantine file. */
  quarantined: number;
  /** Redelivered messages already committed, acked without loading. */
  skipped: number;
  /** Rows of a re-created stream's messages whose key the (append-mode) table already held: not loaded again. */
  alreadyLoaded: number;
}

/** A batch decoded and typed, ready to commit. */
interface PreparedBatch {
  batch: JsMsg[];
  /** Messages to load, in stream order. */
  msgs: JsMsg[];
  /** Their stream sequences. */
  seqs: number[];
  /** Repeats of loaded messages: acked without loading. */
  old: JsMsg[];
  /** Batch number (raw page, curated file); 0 when nothing is to load. */
  number: number;
  rows: Row[];
  quarantined: QuarantineEntry[];
  /** The raw page being landed (lake-relative once written). */
  rawFile: Promise<string>;
  /** The quarantine file, if any. */
  lakePaths: string[];
  timings: Record<string, number>;
  /** The consumer's state once the batch commits (set just before its transaction). */
  next?: ConsumerState;
  /** The raw page, lake-relative, once written. */
  rawPath?: string;
}

/** A micro-batch as a unit of the pipeline: prepared by its extract step. */
interface StreamUnit {
  prepared?: PreparedBatch;
}

/** The units of a consumer: micro-batches until it stops (its extract step ends them). */
function* endless(): Iterable<StreamUnit> {
  for (;;) yield {};
}

/** Loads a feed's stream into the warehouse until stop(). */
export class StreamConsumer {
  readonly stats: ConsumerStats = { batches: 0, messages: 0, rowsLoaded: 0, quarantined: 0, skipped: 0, alreadyLoaded: 0 };
  /**
   * Set when the consumer found its stream deleted and created again since its state was written (see start()): the
   * log's and run row's message, and the short form `coinlake status` shows (`details.note`).
   */
  notice?: { notice: string; note: string };
  /** More details for the run row when the consumer stops (the producer's counters when both run in one process). */
  runDetails?: () => Record<string, unknown>;
  /** Settles when the consumer stops: rejects with the error of a batch that failed. */
  done!: Promise<void>;
  private scope?: RunScope;
  /** Sequences of the batch prepared last: not loaded until it commits, so the next batch counts them as repeats. */
  private preparedSeqs?: number[];
  /** The batch in its transaction, for the failure's log line. */
  private loading?: PreparedBatch;
  private messages?: ConsumerMessages;
  private buffer: JsMsg[] = [];
  /** Batches taken from the buffer and not yet acked: given back (nak) when the consumer fails. */
  private inFlight: JsMsg[][] = [];
  private firstAt = 0;
  private stopping = false;
  /** Set when the stream or the durable went away while consuming (watchResources): the loop fails with it. */
  private fatal?: Error;
  private loaded = new LoadedSequences();
  private lakePaths: string[] = [];
  private durable: string;
  /** The durable's ack policy is AckPolicy.All: one ack per batch (see ackThrough). */
  private ackAll = false;
  /** AckPolicy.All: the last ack sent (stream and delivery sequence), and the loaded messages not acked yet. */
  private acked = { seq: 0, delivery: 0 };
  private readonly held = new Map<number, JsMsg>();
  /** What the ack subject of every message of this consumer starts with (see streamSeq). */
  private ackPrefix: string;
  /** The stream's identity and key-check bound, written with every state (see ConsumerState). */
  private streamIdentity: { created?: string; checkKeysUntil?: number } = {};

  constructor(private readonly opts: ConsumerOptions) {
    this.durable = opts.durable ?? opts.names.durable;
    this.ackPrefix = `$JS.ACK.${opts.names.stream}.${this.durable}.`;
  }

  private get connectionName(): string {
    return `STREAM_${this.opts.names.stream}`;
  }

  /** Creates the durable consumer if needed, opens the run, and starts loading batches. */
  async start(): Promise<void> {
    const { nc, names, session, lake } = this.opts;
    const batchSize = this.opts.batchSize ?? 1000;
    const jsm = await jetstreamManager(nc);
    const legacy = legacyDurable(this.opts.feed);
    let keptLegacy = false;
    const infoOf = (name: string) => jsm.consumers.info(names.stream, name).catch(() => undefined);
    let existing = await infoOf(this.durable);
    if (!existing && !this.opts.durable && this.durable !== legacy) {
      // Durable names followed no prefix before: an earlier version's durable on this stream holds its position.
      existing = await infoOf(legacy);
      if (existing) {
        keptLegacy = true;
        this.durable = legacy;
        this.ackPrefix = `$JS.ACK.${names.stream}.${legacy}.`;
      }
    }
    // A durable made by an earlier version acks every message (AckPolicy.Explicit); it keeps doing so.
    if (existing) this.ackAll = existing.config.ack_policy === AckPolicy.All;
    else {
      this.ackAll = true;
      await jsm.consumers.add(names.stream, {
        durable_name: this.durable,
        ack_policy: AckPolicy.All,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
        max_ack_pending: Math.max(batchSize * 4, 1000),
        filter_subject: names.subject,
      });
    }
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    // The run and its batches go through the pipeline: each micro-batch is a unit, prepared while the one before
    // commits (lookahead 1), committed with the consumer's state, then acked.
    this.done = runPipeline<StreamUnit, void>({
      session,
      lake,
      run: { open: { connectionName: this.connectionName, tableName: this.durable, logLevel: this.opts.logLevel, printLog: this.opts.printLog } },
      lookahead: 1,
      hooks: {
        plan: async (scope) => {
          this.scope = scope;
          await this.resume(jsm, keptLegacy, legacy, batchSize);
          started();
          return endless();
        },
        extract: (unit, { signal }) => this.nextBatch(unit, signal),
        beforeTransaction: async ([{ unit, batch }]) => {
          const p = unit.prepared!;
          this.loading = p;
          p.next = this.loaded.with(p.seqs);
          batch.rows = await this.withoutLoadedKeys(p);
        },
        target: ([{ unit }], scope) => ({
          table: this.opts.feed.table,
          writeMode: this.opts.feed.writeMode,
          lockKey: `stream/${this.durable}`,
          fileStem: `${scope.runId}-${unit.prepared!.number}`,
          afterLoad: false,
          tableReady: true, // ensured once, at start
          nothingToLoad: unit.prepared!.msgs.length === 0,
        }),
        inTransaction: ({ group: [{ unit, batch }] }, scope) => this.inTransaction(unit.prepared!, batch.rows, scope),
        committed: ({ group: [{ unit, batch }], committed, published, publishMs }) => this.committed(unit.prepared!, batch.rows, committed, published, publishMs),
        complete: async (scope) => {
          await this.flushAcks(this.opts.nc, 2000);
          scope.log.info({ ...this.stats }, 'stream consumer stopped');
          const outcome: RunOutcome = {
            status: RUN_COMPLETE,
            rowsExtracted: this.stats.messages,
            rowsLoaded: this.stats.rowsLoaded,
            rowsQuarantined: this.stats.quarantined,
            lakePaths: this.lakePaths,
            details: { ...this.stats, loaded: this.loaded.state().floor, ...this.notice, ...this.runDetails?.() },
          };
          return { result: undefined, outcome };
        },
        failed: async (err, scope) => {
          this.stopping = true;
          if (this.loading) scope.log.error({ error: errorMessage(err), batch: this.loading.number, messages: this.loading.batch.length }, 'batch rolled back; its messages will be redelivered');
          // Stop pulling first, so the messages given back go to the next consumer rather than to this one.
          await this.messages?.close().catch(() => undefined);
          for (const m of [...this.inFlight.splice(0).flat(), ...this.buffer.splice(0)]) m.nak();
          return { figures: { rowsExtracted: this.stats.messages, rowsLoaded: this.stats.rowsLoaded, rowsQuarantined: this.stats.quarantined, lakePaths: this.lakePaths, details: this.notice } };
        },
      },
    });
    this.done.catch(() => undefined);
    await Promise.race([ready, this.done]);
  }

  /**
   * Once the run is open: warns of a kept legacy durable, ensures the table, reads the state (starting over on a
   * re-created stream) and starts consuming.
   */
  private async resume(jsm: JetStreamManager, keptLegacy: boolean, legacy: string, batchSize: number): Promise<void> {
    const { nc, names, session } = this.opts;
    if (keptLegacy) {
      this.scope!.log.warn(
        { stream: names.stream, durable: legacy, name: names.durable },
        `durable consumer ${legacy} (named by an earlier version) kept on stream ${names.stream}: it holds this consumer's position; the name for this prefix would be ${names.durable}`,
      );
    }
    // The table before the first message: the first batch then waits for no DDL.
    await session.ensureTable(physicalTable(this.opts.feed.table, this.opts.feed.writeMode));
    const state = await readState<ConsumerState>(session, this.connectionName, this.durable);
    const stream = await jsm.streams.info(names.stream);
    this.streamIdentity = { created: stream.created, checkKeysUntil: state?.created === stream.created ? state.checkKeysUntil : undefined };
    if (state && isRecreated(state, stream.created, stream.state.last_seq)) {
      // Its sequences start at 1 again: the floor of the earlier stream would skip the new messages as redeliveries.
      this.notice = {
        notice: `stream ${names.stream} was deleted and created again (created ${stream.created}); loading started over from its sequence 1 (the earlier stream was loaded up to sequence ${state.floor})`,
        note: `stream re-created ${stream.created.slice(0, 19)}Z: started over`,
      };
      this.streamIdentity.checkKeysUntil = Date.parse(stream.created) + stream.config.duplicate_window / 1_000_000;
      this.scope!.log.warn({ stream: names.stream, created: stream.created, earlierCreated: state.created ?? null, earlierFloor: state.floor, checkKeysUntil: new Date(this.streamIdentity.checkKeysUntil).toISOString() }, 'stream re-created; starting over from its first message');
      await session.exec(`UPDATE coinlake_meta.workflow_action_history SET details = $2 WHERE process_id = $1`, [this.scope!.processId, JSON.stringify(this.notice)]);
      this.loaded = new LoadedSequences();
    } else this.loaded = new LoadedSequences(state?.floor, state?.above);
    const consumer = await jetstream(nc).consumers.get(names.stream, this.durable);
    const info = await consumer.info();
    this.acked = { seq: info.ack_floor.stream_seq, delivery: info.ack_floor.consumer_seq };
    // Sequences before the stream's first (expired or purged) and those the server saw acked are loaded.
    this.loaded.raiseFloor(Math.max(info.ack_floor.stream_seq, stream.state.first_seq - 1));
    this.messages = await consumer.consume({
      max_messages: Math.max(batchSize * 2, 100),
      callback: (m) => {
        if (this.buffer.length === 0) this.firstAt = Date.now();
        this.buffer.push(m);
      },
    });
    void this.watchResources(this.messages);
  }

  /**
   * The client keeps asking a deleted durable (or a stream's) for messages, silently, for ever. When it reports one
   * missing, the stream and the durable are looked up: a stream deleted, or deleted and created again (another
   * creation time), or the durable deleted, fails the consumer with an error naming it — started again, it starts over
   * on a re-created stream, or creates the durable again and skips what was loaded.
   */
  private async watchResources(messages: ConsumerMessages): Promise<void> {
    const { nc, names } = this.opts;
    for await (const status of messages.status()) {
      if (status.type !== 'consumer_deleted' && status.type !== 'consumer_not_found' && status.type !== 'stream_not_found') continue;
      if (this.fatal || this.stopping) continue;
      try {
        const jsm = await jetstreamManager(nc);
        const missing = (err: unknown) => {
          if (/not found/i.test(errorMessage(err))) return undefined;
          throw err;
        };
        const stream = await jsm.streams.info(names.stream).catch(missing);
        const what = `while its consumer ${this.durable} was loading it`;
        if (!stream) {
          this.fatal = new TerminalError(`stream ${names.stream} was deleted ${what}`, { hint: 'create the stream again (coinlake setup --streams, or start its producer), then start the consumer again: it loads the new stream from its start' });
        } else if (stream.created !== this.streamIdentity.created) {
          this.fatal = new TerminalError(`stream ${names.stream} was deleted and created again ${what}`, { hint: 'start the consumer again: it starts over on the new stream; what was loaded stays, nothing twice' });
        } else if (!(await jsm.consumers.info(names.stream, this.durable).catch(missing))) {
          this.fatal = new TerminalError(`durable consumer ${this.durable} of stream ${names.stream} was deleted while it was loading`, { hint: 'start the consumer again: it creates the durable again and skips what was loaded' });
        }
      } catch (err) {
        // NATS unreachable: the client reconnects and the next notice looks again.
        this.scope?.log.debug({ error: errorMessage(err) }, 'could not look up the stream and its durable');
      }
    }
  }

  /** Stops consuming, loads what was received, closes the run. Messages never received stay in the stream. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await this.done;
  }

  /** Takes the next batch when one is due: batchSize messages, or what waited batchMs (everything when stopping). */
  private takeDue(batchSize: number, batchMs: number): JsMsg[] | undefined {
    const due = this.buffer.length >= batchSize || (this.buffer.length > 0 && (this.stopping || Date.now() - this.firstAt >= batchMs));
    if (!due) return undefined;
    const batch = this.buffer.splice(0, batchSize);
    if (this.buffer.length) this.firstAt = Date.now();
    this.inFlight.push(batch);
    return batch;
  }

  /**
   * The pipeline's extract step: waits for the next batch due and prepares it (decode, raw page, typing) — while the
   * batch before it commits, so commits never overlap and state and acks follow the stream's order. Null once the
   * consumer stops and every message received was taken.
   */
  private async nextBatch(unit: StreamUnit, signal: AbortSignal): Promise<ExtractedBatch | null> {
    const batchSize = this.opts.batchSize ?? 1000;
    const batchMs = this.opts.batchMs ?? 1000;
    for (;;) {
      if (this.fatal) throw this.fatal;
      signal.throwIfAborted();
      const batch = this.takeDue(batchSize, batchMs);
      if (batch) {
        const p = await this.prepare(batch, this.preparedSeqs);
        this.preparedSeqs = p.seqs;
        unit.prepared = p;
        return { rows: p.rows, records: p.msgs.length, pages: p.msgs.length ? 1 : 0, lakePaths: [], quarantined: [], unknownFields: new Set(), missingFields: new Set() };
      }
      if (this.stopping) return null;
      await sleep(Math.min(10, batchMs));
    }
  }

  /**
   * Splits a batch into messages to load (in stream order) and repeats of loaded ones — or of the batch committing
   * now (`committing`) — then lands the raw page and types the records.
   */
  private async prepare(batch: JsMsg[], committing?: number[]): Promise<PreparedBatch> {
    const scope = this.scope!;
    const { feed } = this.opts;
    const { msgs, seqs, old } = this.split(batch, committing);
    if (msgs.length === 0) return { batch, msgs, seqs, old, number: 0, rows: [], quarantined: [], rawFile: Promise.resolve(''), lakePaths: [], timings: {} };
    const number = ++this.stats.batches;
    const timings: Record<string, number> = {};
    const lap = stepTimer(timings);
    const { raw, records } = decodeBatch(msgs.map((m) => m.data));
    lap('decode');
    // The raw page is compressed and written off the JavaScript thread while the records are typed and staged; the
    // batch's transaction waits for it before COMMIT.
    const rawFile = scope.lake.writeRawPage(feed.source, feed.stream, scope.startedAt, scope.runId, number, raw).then((file) => lakeRelative(scope, file));
    rawFile.catch(() => undefined); // awaited in commit(), or the batch is given back
    const n = normalizeRecords(feed.table, records as Record<string, unknown>[], { origin: this.opts.names.subject });
    if (feed.derive) for (const r of n.rows) feed.derive(r);
    const qFile = await landQuarantine(scope, feed.table, n.quarantined);
    lap('normalize');
    return { batch, msgs, seqs, old, number, rows: n.rows, quarantined: n.quarantined, rawFile, lakePaths: qFile ? [qFile] : [], timings };
  }

  /**
   * The messages of a batch to load (new ones, each once, in stream order, with their sequences) and the repeats of
   * loaded messages or of the batch committing now (`committing`, in stream order).
   */
  private split(batch: JsMsg[], committing: number[] = []): { msgs: JsMsg[]; seqs: number[]; old: JsMsg[] } {
    const seqs = batch.map((m) => streamSeq(m, this.ackPrefix));
    // The usual batch: in stream order, every message after the floor and after the batch committing now.
    const after = Math.max(this.loaded.floor, committing.length ? committing[committing.length - 1] : 0);
    if (!this.loaded.hasGap() && seqs.every((seq, i) => seq > (i === 0 ? after : seqs[i - 1]))) return { msgs: batch, seqs, old: [] };
    const inCommit = new Set(committing);
    const fresh = new Map<number, JsMsg>();
    const old: JsMsg[] = [];
    batch.forEach((m, i) => {
      const seq = seqs[i];
      if (this.loaded.has(seq) || inCommit.has(seq) || fresh.has(seq)) old.push(m);
      else fresh.set(seq, m);
    });
    const sorted = [...fresh.keys()].sort((a, b) => a - b);
    return { msgs: sorted.map((seq) => fresh.get(seq)!), seqs: sorted, old };
  }

  /** In the batch's transaction: waits for its raw page, then writes the consumer's state and the run's figures. */
  private async inTransaction(p: PreparedBatch, rows: Row[], scope: RunScope): Promise<void> {
    const { session } = this.opts;
    scope.log.debug({ batch: p.number, messages: p.msgs.length, firstSeq: p.seqs[0], lastSeq: p.seqs[p.seqs.length - 1] }, 'batch loading');
    const waitFrom = performance.now();
    p.rawPath = await p.rawFile;
    p.timings.rawWait = performance.now() - waitFrom;
    await writeState(session, this.connectionName, this.durable, { ...p.next!, ...this.streamIdentity } satisfies ConsumerState, scope.processId);
    await session.exec(
      `UPDATE coinlake_meta.workflow_action_history
          SET rows_extracted = COALESCE(rows_extracted, 0) + $2, rows_loaded = COALESCE(rows_loaded, 0) + $3, rows_quarantined = COALESCE(rows_quarantined, 0) + $4
        WHERE process_id = $1`,
      [scope.processId, p.msgs.length, rows.length, p.quarantined.length],
    );
    await this.opts.beforeCommit?.();
  }

  /** After the batch committed (or held only repeats): its figures, then the acks of its messages. */
  private async committed(p: PreparedBatch, rows: Row[], committed: CommittedBatch, curatedPaths: string[], publishMs: number): Promise<void> {
    const scope = this.scope!;
    const { msgs, number } = p;
    if (msgs.length) {
      committed.timings.publish = publishMs;
      const committedAt = Date.now();
      const next = p.next!;
      this.loaded = new LoadedSequences(next.floor, next.above);
      this.lakePaths.push(p.rawPath ?? '', ...p.lakePaths, ...curatedPaths);
      this.stats.messages += msgs.length;
      this.stats.rowsLoaded += rows.length;
      this.stats.alreadyLoaded += p.rows.length - rows.length;
      this.stats.quarantined += p.quarantined.length;
      await this.opts.beforeAck?.();
      const timings = { ...p.timings, ...committed.timings };
      scope.log.debug({ batch: number, messages: msgs.length, rows: rows.length, floor: next.floor, ...committed.load, timings }, 'batch committed');
      this.opts.onBatch?.({ batch: number, messages: msgs.length, rows, committedAt, timings });
    }
    this.loading = undefined;
    this.inFlight.splice(this.inFlight.indexOf(p.batch), 1);
    this.stats.skipped += p.old.length;
    // An ack that never arrives (NATS restarting) only means a redelivery, which the loaded sequences recognise: the
    // loop does not wait for the server's answer, except briefly when it stops.
    if (this.ackAll) {
      if (this.loaded.hasGap()) await this.skipMissing();
      this.ackThrough([...msgs, ...p.old], [...p.seqs, ...p.old.map((m) => streamSeq(m, this.ackPrefix))]);
    } else {
      for (const m of msgs) m.ack();
      for (const m of p.old) m.ack();
    }
    this.flushAcks(this.opts.nc);
  }

  /**
   * The rows of a batch to load: all of them, except on a re-created stream (see ConsumerState) for an append-mode
   * table while the batch holds a message published before `checkKeysUntil`: then the rows whose key the table holds
   * already (loaded from the earlier stream) are left out. Runs before the batch's transaction, after the previous
   * batch committed.
   */
  private async withoutLoadedKeys(p: PreparedBatch): Promise<Row[]> {
    const { feed, session } = this.opts;
    const until = this.streamIdentity.checkKeysUntil;
    const key = feed.table.primaryKey;
    if (!until || feed.writeMode !== 'append' || key.length !== 1 || p.rows.length === 0) return p.rows;
    // Messages are in stream order, whose publish times only grow: the first is the oldest.
    if (p.msgs[0].info.timestampNanos / 1_000_000 >= until) return p.rows;
    const d = session.dialect;
    const values = [...new Set(p.rows.map((r) => r[key[0]]))];
    const held = new Set<unknown>();
    for (let i = 0; i < values.length; i += 1000) {
      const part = values.slice(i, i + 1000);
      const found = await session.query<Record<string, unknown>>(
        `SELECT ${d.ident(key[0])} AS k FROM ${d.table(feed.table.schema, feed.table.name)} WHERE ${d.ident(key[0])} IN (${part.map((_, j) => `$${j + 1}`).join(', ')})`,
        part,
      );
      for (const r of found) held.add(r.k);
    }
    if (held.size === 0) return p.rows;
    this.scope?.log.info({ batch: p.number, rows: p.rows.length, alreadyLoaded: held.size }, 'rows of the re-created stream loaded from the earlier one: left out');
    return p.rows.filter((r) => !held.has(r[key[0]]));
  }

  /**
   * AckPolicy.All: one ack acks every message up to its stream sequence, so it must be of a loaded message at or below
   * the floor. JetStream also ignores an ack whose delivery sequence is not above the last ack's, so the ack goes to
   * the highest such message delivered before every unacked message above it. Messages that cannot be acked yet —
   * above the floor (loaded while an earlier one is still to come back, after a crash), or delivered out of order
   * (redeliveries) — are held and acked by a later ack, or come back after the ack wait and are acked then.
   */
  private ackThrough(batch: JsMsg[], seqs: number[]): void {
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
    const floor = this.loaded.floor;
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
  private async skipMissing(): Promise<void> {
    const { nc, names } = this.opts;
    try {
      const jsm = await jetstreamManager(nc);
      this.loaded.raiseFloor((await jsm.streams.info(names.stream)).state.first_seq - 1);
      while (this.loaded.hasGap()) {
        const seq = this.loaded.floor + 1;
        const m = await jsm.streams.getMessage(names.stream, { seq });
        if (m && m.subject === names.subject) break;
        this.loaded.raiseFloor(seq);
      }
    } catch (err) {
      // The next batch looks again.
      this.scope?.log.debug({ error: errorMessage(err) }, 'could not look up the missing sequence');
    }
  }

  /** Sends the acks written so far; resolves within `waitMs` whatever the connection's state. */
  private flushAcks(nc: NatsConnection, waitMs = 0): Promise<void> {
    const flushed = nc.flush().catch((err) => this.scope?.log.warn({ error: errorMessage(err) }, 'acks not confirmed; unconfirmed messages will be redelivered and skipped'));
    if (waitMs <= 0) return Promise.resolve();
    return Promise.race([flushed, sleep(waitMs)]).then(() => undefined);
  }
}
