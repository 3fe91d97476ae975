// A stream deleted (and perhaps created again under the same name) under its consumer: found from the state at
// start (the stream's creation time), or while consuming (the client's notices); and, on a re-created stream, the
// rows of records the earlier stream already loaded left out while the duplicate window may repeat them.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type ConsumerMessages, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Session } from '../core/destination.ts';
import { TerminalError, errorMessage } from '../core/errors.ts';
import type { Row } from '../core/table.ts';
import type { ConsumerState } from './consumer-state.ts';
import type { Feed } from './feed.ts';
import type { FeedSubject } from './jetstream-streams.ts';
import type { PreparedBatch } from './stream-batch.ts';

/** The stream's identity and key-check bound, written with every state (see ConsumerState). */
export type StreamIdentity = Pick<ConsumerState, 'created' | 'checkKeysUntil'>;

/** The log's and run row's message of a consumer that started over on a re-created stream, and its short form (`details.note`). */
export interface RecreatedNotice {
  notice: string;
  note: string;
}

/**
 * Whether the state was written for an earlier stream of the same name: its creation time differs, or — a state
 * written before creation times were kept — its floor lies beyond the stream's last sequence (sequences never go back).
 */
function isRecreated(state: ConsumerState, created: string, lastSeq: number): boolean {
  return state.created !== undefined ? state.created !== created : state.floor > lastSeq;
}

/**
 * The identity of `stream` (named `name`) to write with the state, and — when `state` was written for an earlier
 * stream of the same name, whose sequences start at 1 again — the notice of starting over (logged here) with the
 * key-check bound set to the end of the new stream's duplicate window.
 */
export function checkStreamIdentity(name: string, state: ConsumerState | undefined, stream: StreamInfo, log: Logger): { identity: StreamIdentity; recreated?: RecreatedNotice } {
  const identity: StreamIdentity = { created: stream.created, checkKeysUntil: state?.created === stream.created ? state.checkKeysUntil : undefined };
  if (!state || !isRecreated(state, stream.created, stream.state.last_seq)) return { identity };
  const recreated = {
    notice: `stream ${name} was deleted and created again (created ${stream.created}); loading started over from its sequence 1 (the earlier stream was loaded up to sequence ${state.floor})`,
    note: `stream re-created ${stream.created.slice(0, 19)}Z: started over`,
  };
  identity.checkKeysUntil = Date.parse(stream.created) + stream.config.duplicate_window / 1_000_000;
  log.warn({ stream: name, created: stream.created, earlierCreated: state.created ?? null, earlierFloor: state.floor, checkKeysUntil: new Date(identity.checkKeysUntil).toISOString() }, 'stream re-created; starting over from its first message');
  return { identity, recreated };
}

/** What watchResources looks up, and whom it tells. */
export interface ResourceWatch {
  nc: NatsConnection;
  names: FeedSubject;
  durable: string;
  /** Creation time of the stream being consumed. */
  created?: string;
  /** True once the consumer stops or already failed: notices are ignored. */
  quiet(): boolean;
  /** The consumer fails with this error. */
  fail(err: TerminalError): void;
  log(): Logger | undefined;
}

/**
 * The client keeps asking a deleted durable (or a stream's) for messages, silently, for ever. When it reports one
 * missing, the stream and the durable are looked up: a stream deleted, or deleted and created again (another
 * creation time), or the durable deleted, fails the consumer with an error naming it — started again, it starts over
 * on a re-created stream, or creates the durable again and skips what was loaded.
 */
export async function watchResources(messages: ConsumerMessages, w: ResourceWatch): Promise<void> {
  const { nc, names, durable } = w;
  for await (const status of messages.status()) {
    if (status.type !== 'consumer_deleted' && status.type !== 'consumer_not_found' && status.type !== 'stream_not_found') continue;
    if (w.quiet()) continue;
    try {
      const jsm = await jetstreamManager(nc);
      const missing = (err: unknown) => {
        if (/not found/i.test(errorMessage(err))) return undefined;
        throw err;
      };
      const stream = await jsm.streams.info(names.stream).catch(missing);
      const what = `while its consumer ${durable} was loading it`;
      if (!stream) {
        w.fail(new TerminalError(`stream ${names.stream} was deleted ${what}`, { hint: 'create the stream again (coinlake setup --streams, or start its producer), then start the consumer again: it loads the new stream from its start' }));
      } else if (stream.created !== w.created) {
        w.fail(new TerminalError(`stream ${names.stream} was deleted and created again ${what}`, { hint: 'start the consumer again: it starts over on the new stream; what was loaded stays, nothing twice' }));
      } else if (!(await jsm.consumers.info(names.stream, durable).catch(missing))) {
        w.fail(new TerminalError(`durable consumer ${durable} of stream ${names.stream} was deleted while it was loading`, { hint: 'start the consumer again: it creates the durable again and skips what was loaded' }));
      }
    } catch (err) {
      // NATS unreachable: the client reconnects and the next notice looks again.
      w.log()?.debug({ error: errorMessage(err) }, 'could not look up the stream and its durable');
    }
  }
}

/**
 * The rows of a batch to load: all of them, except on a re-created stream (see ConsumerState) for an append-mode
 * table while the batch holds a message published before `identity.checkKeysUntil`: then the rows whose key the table
 * holds already (loaded from the earlier stream) are left out. Runs before the batch's transaction, after the previous
 * batch committed.
 */
export async function withoutLoadedKeys(p: PreparedBatch, feed: Feed, session: Session, identity: StreamIdentity, log: Logger | undefined): Promise<Row[]> {
  const until = identity.checkKeysUntil;
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
  log?.info({ batch: p.number, rows: p.rows.length, alreadyLoaded: held.size }, 'rows of the re-created stream loaded from the earlier one: left out');
  return p.rows.filter((r) => !held.has(r[key[0]]));
}
