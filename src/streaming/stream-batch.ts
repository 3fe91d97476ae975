// A stream consumer's micro-batch before its transaction: the messages to load (each once, in stream order) told
// apart from repeats of loaded ones, then decoded, its raw page landed (off the JavaScript thread) and its records
// typed by the feed's table.
import type { JsMsg } from '@nats-io/jetstream';
import type { Row } from '../core/table.ts';
import type { QuarantineEntry } from '../lake/local-lake.ts';
import { normalizeRecords } from '../normalize/normalizer.ts';
import { landQuarantine, lakeRelative, stepTimer, type RunScope } from '../pipeline/run-steps.ts';
import type { ConsumerState, LoadedSequences } from './consumer-state.ts';
import type { Feed } from './feed.ts';
import { decodeBatch } from './message-batch.ts';

/** The messages of a batch to load and the repeats among them. */
export interface BatchParts {
  /** Messages to load, in stream order. */
  msgs: JsMsg[];
  /** Their stream sequences. */
  seqs: number[];
  /** Repeats of loaded messages: acked without loading. */
  old: JsMsg[];
}

/** A batch decoded and typed, ready to commit. */
export interface PreparedBatch extends BatchParts {
  batch: JsMsg[];
  /** Batch number (raw page, curated file); 0 when nothing is to load. */
  number: number;
  rows: Row[];
  /** The first MAX_QUARANTINE_ENTRIES values set aside; quarantinedCount counts them all. */
  quarantined: QuarantineEntry[];
  quarantinedCount: number;
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

/**
 * The messages of a batch (stream sequences `seqs`) to load — new ones, each once, in stream order — and the repeats
 * of loaded messages or of the batch committing now (`committing`, in stream order).
 */
export function splitBatch(batch: JsMsg[], seqs: number[], loaded: LoadedSequences, committing: number[] = []): BatchParts {
  // The usual batch: in stream order, every message after the floor and after the batch committing now.
  const after = Math.max(loaded.floor, committing.length ? committing[committing.length - 1] : 0);
  if (!loaded.hasGap() && seqs.every((seq, i) => seq > (i === 0 ? after : seqs[i - 1]))) return { msgs: batch, seqs, old: [] };
  const inCommit = new Set(committing);
  const fresh = new Map<number, JsMsg>();
  const old: JsMsg[] = [];
  batch.forEach((m, i) => {
    const seq = seqs[i];
    if (loaded.has(seq) || inCommit.has(seq) || fresh.has(seq)) old.push(m);
    else fresh.set(seq, m);
  });
  const sorted = [...fresh.keys()].sort((a, b) => a - b);
  return { msgs: sorted.map((seq) => fresh.get(seq)!), seqs: sorted, old };
}

/**
 * Prepares the messages of a batch to load: decodes them, lands the raw page and types the records (their quarantined
 * values landed in the run's quarantine file). `nextNumber` numbers a batch that has anything to load.
 */
export async function prepareBatch(scope: RunScope, feed: Feed, subject: string, batch: JsMsg[], parts: BatchParts, nextNumber: () => number): Promise<PreparedBatch> {
  const { msgs, seqs, old } = parts;
  if (msgs.length === 0) return { batch, msgs, seqs, old, number: 0, rows: [], quarantined: [], quarantinedCount: 0, rawFile: Promise.resolve(''), lakePaths: [], timings: {} };
  const number = nextNumber();
  const timings: Record<string, number> = {};
  const lap = stepTimer(timings);
  const { raw, records } = decodeBatch(msgs.map((m) => m.data));
  lap('decode');
  // The raw page is compressed and written off the JavaScript thread while the records are typed and staged; the
  // batch's transaction waits for it before COMMIT.
  const rawFile = scope.lake.writeRawPage(feed.source, feed.stream, scope.startedAt, scope.runId, number, raw).then((file) => lakeRelative(scope, file));
  rawFile.catch(() => undefined); // awaited in the batch's transaction, or the batch is given back
  const n = normalizeRecords(feed.table, records as Record<string, unknown>[], { origin: subject });
  if (feed.derive) for (const r of n.rows) feed.derive(r);
  const qFile = await landQuarantine(scope, feed.table, n.quarantined);
  lap('normalize');
  return { batch, msgs, seqs, old, number, rows: n.rows, quarantined: n.quarantined, quarantinedCount: n.quarantinedCount, rawFile, lakePaths: qFile ? [qFile] : [], timings };
}
