// Durable pull consumer of a feed's stream: gathers messages into micro-batches (by size or time) and loads each in
// one transaction on the pipeline (src/pipeline/): raw messages to the lake, rows by the feed's write mode,
// and the stream sequence reached as the job's state — all committed together. A message is acked only after the
// batch holding it commits — one ack per batch (AckPolicy.All acks every message up to the one acked); one that
// arrives again after that (a crash between COMMIT and ack) is recognised by its sequence and acked without loading
// it twice. Its parts: consumer-durable.ts (the durable), message-buffer.ts (batches), stream-batch.ts (preparing
// one), consumer-state.ts (the loaded sequences), recreated-stream.ts (a stream deleted under it), stream-acks.ts.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from '../core/destination.ts';
import type { Row } from '../core/table.ts';
import { errorMessage } from '../core/errors.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { physicalTable } from '../load/scd2.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import type { CommittedBatch, ExtractedBatch, RunScope } from '../pipeline/run-steps.ts';
import { RUN_COMPLETE, type RunOutcome } from '../runner/run-history.ts';
import { readState, writeState } from '../runner/state-store.ts';
import { ensureDurable } from './consumer-durable.ts';
import { LoadedSequences, type ConsumerState } from './consumer-state.ts';
import type { Feed } from './feed.ts';
import type { FeedSubject } from './jetstream-streams.ts';
import { MessageBuffer } from './message-buffer.ts';
import { checkStreamIdentity, watchResources, withoutLoadedKeys, type RecreatedNotice, type StreamIdentity } from './recreated-stream.ts';
import { StreamAcks } from './stream-acks.ts';
import { prepareBatch, splitBatch, type PreparedBatch } from './stream-batch.ts';

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
  notice?: RecreatedNotice;
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
  private readonly buffer = new MessageBuffer();
  private stopping = false;
  /** Set when the stream or the durable went away while consuming (watchResources): the loop fails with it. */
  private fatal?: Error;
  private loaded = new LoadedSequences();
  private lakePaths: string[] = [];
  /** Quarantine files already in lakePaths. */
  private readonly quarantineFiles = new Set<string>();
  private durable: string;
  private acks!: StreamAcks;
  /** The stream's identity and key-check bound, written with every state (see ConsumerState). */
  private streamIdentity: StreamIdentity = {};

  constructor(private readonly opts: ConsumerOptions) {
    this.durable = opts.durable ?? opts.names.durable;
  }

  private get connectionName(): string {
    return `STREAM_${this.opts.names.stream}`;
  }

  /** Creates the durable consumer if needed, opens the run, and starts loading batches. */
  async start(): Promise<void> {
    const { nc, names, session, lake } = this.opts;
    const batchSize = this.opts.batchSize ?? 1000;
    const jsm = await jetstreamManager(nc);
    const { durable, legacy, keptLegacy, ackAll } = await ensureDurable(jsm, { ...this.opts, batchSize });
    this.durable = durable;
    this.acks = new StreamAcks(nc, names, durable, ackAll);
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
          this.acks.log = scope.log;
          await this.resume(jsm, keptLegacy, legacy, batchSize);
          started();
          return endless();
        },
        extract: (unit, { signal }) => this.nextBatch(unit, signal),
        beforeTransaction: async ([{ unit, batch }]) => {
          const p = unit.prepared!;
          this.loading = p;
          p.next = this.loaded.with(p.seqs);
          batch.rows = await withoutLoadedKeys(p, this.opts.feed, session, this.streamIdentity, this.scope?.log);
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
          await this.acks.flush(2000);
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
          this.buffer.giveBack();
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
    const scope = this.scope!;
    if (keptLegacy) {
      scope.log.warn(
        { stream: names.stream, durable: legacy, name: names.durable },
        `durable consumer ${legacy} (named by an earlier version) kept on stream ${names.stream}: it holds this consumer's position; the name for this prefix would be ${names.durable}`,
      );
    }
    // The table before the first message: the first batch then waits for no DDL.
    await session.ensureTable(physicalTable(this.opts.feed.table, this.opts.feed.writeMode));
    const state = await readState<ConsumerState>(session, this.connectionName, this.durable);
    const stream = await jsm.streams.info(names.stream);
    const { identity, recreated } = checkStreamIdentity(names.stream, state, stream, scope.log);
    this.streamIdentity = identity;
    if (recreated) {
      // Its sequences start at 1 again: the floor of the earlier stream would skip the new messages as redeliveries.
      this.notice = recreated;
      await session.exec(`UPDATE coinlake_meta.workflow_action_history SET details = $2 WHERE process_id = $1`, [scope.processId, JSON.stringify(this.notice)]);
      this.loaded = new LoadedSequences();
    } else this.loaded = new LoadedSequences(state?.floor, state?.above);
    const consumer = await jetstream(nc).consumers.get(names.stream, this.durable);
    const info = await consumer.info();
    this.acks.resumeAt(info.ack_floor);
    // Sequences before the stream's first (expired or purged) and those the server saw acked are loaded.
    this.loaded.raiseFloor(Math.max(info.ack_floor.stream_seq, stream.state.first_seq - 1));
    this.messages = await consumer.consume({
      max_messages: Math.max(batchSize * 2, 100),
      callback: (m) => this.buffer.push(m),
    });
    void watchResources(this.messages, {
      nc,
      names,
      durable: this.durable,
      created: this.streamIdentity.created,
      quiet: () => Boolean(this.fatal) || this.stopping,
      fail: (err) => (this.fatal = err),
      log: () => this.scope?.log,
    });
  }

  /** Stops consuming, loads what was received, closes the run. Messages never received stay in the stream. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await this.done;
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
      const batch = this.buffer.takeDue(batchSize, batchMs, this.stopping);
      if (batch) {
        // Messages to load (in stream order) and repeats of loaded ones — or of the batch committing now.
        const parts = splitBatch(batch, batch.map((m) => this.acks.seqOf(m)), this.loaded, this.preparedSeqs);
        const p = await prepareBatch(this.scope!, this.opts.feed, this.opts.names.subject, batch, parts, () => ++this.stats.batches);
        this.preparedSeqs = p.seqs;
        unit.prepared = p;
        return { rows: p.rows, records: p.msgs.length, pages: p.msgs.length ? 1 : 0, lakePaths: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set(), missingFields: new Set() };
      }
      if (this.stopping) return null;
      await sleep(Math.min(10, batchMs));
    }
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
      [scope.processId, p.msgs.length, rows.length, p.quarantinedCount],
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
      // The run's one quarantine file comes back with every batch that set values aside: listed once.
      const quarantine = p.lakePaths.filter((q) => !this.quarantineFiles.has(q));
      quarantine.forEach((q) => this.quarantineFiles.add(q));
      this.lakePaths.push(p.rawPath ?? '', ...quarantine, ...curatedPaths);
      this.stats.messages += msgs.length;
      this.stats.rowsLoaded += rows.length;
      this.stats.alreadyLoaded += p.rows.length - rows.length;
      this.stats.quarantined += p.quarantinedCount;
      await this.opts.beforeAck?.();
      const timings = { ...p.timings, ...committed.timings };
      scope.log.debug({ batch: number, messages: msgs.length, rows: rows.length, floor: next.floor, ...committed.load, timings }, 'batch committed');
      this.opts.onBatch?.({ batch: number, messages: msgs.length, rows, committedAt, timings });
    }
    this.loading = undefined;
    this.buffer.settled(p.batch);
    this.stats.skipped += p.old.length;
    // The loop does not wait for the server's answer to the acks, except briefly when it stops.
    await this.acks.ackBatch(msgs, p.seqs, p.old, this.loaded);
  }
}
