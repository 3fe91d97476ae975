// The JetStream work queue of distributed backfills: a work-queue stream (`COINLAKE_TASKS`, subjects
// `coinlake.tasks.>`) whose messages are chunk tasks, and ONE durable pull consumer that every worker shares, so a
// task goes to one worker at a time and comes back to another when its worker stops answering.
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { DEFAULT_DUPLICATE_WINDOW_MS } from '../streaming/jetstream-streams.ts';

/** Queue name used unless `--queue` or COINLAKE_QUEUE says otherwise (tests use their own). */
export const DEFAULT_QUEUE = 'coinlake';
/** Unacked tasks come back after this (a worker sends heartbeats while it works). Default 30 s. */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** Deliveries of one task before it counts as failed. Default 5. */
export const DEFAULT_MAX_DELIVER = 5;

const nanos = (ms: number) => ms * 1_000_000;

/** Names of a queue's stream, subjects and shared consumer. */
export interface TaskQueueNames {
  queue: string;
  stream: string;
  /** Subject of backfill chunk tasks. */
  backfillSubject: string;
  /** Durable consumer every backfill worker pulls from. */
  consumer: string;
}

/** Names of queue `queue` (letters, digits, `_` and `-`): stream `<QUEUE>_TASKS`, subjects `<queue>.tasks.>`. */
export function taskQueueNames(queue = process.env.COINLAKE_QUEUE || DEFAULT_QUEUE): TaskQueueNames {
  if (!/^[A-Za-z0-9_-]+$/.test(queue)) throw new ConfigError(`queue name "${queue}" may only hold letters, digits, _ and -`);
  const stem = queue.replace(/-/g, '_');
  return { queue, stream: `${stem.toUpperCase()}_TASKS`, backfillSubject: `${queue}.tasks.backfill`, consumer: `${stem}_backfill_workers` };
}

/** Settings of the shared consumer. */
export interface ConsumerSettings {
  ackWaitMs: number;
  maxDeliver: number;
}

/**
 * Creates the queue's stream (work-queue retention: a task is removed once acked; file storage; the duplicate window
 * that makes a re-published task id count once) and the shared consumer, if missing. Safe to repeat and to race.
 * With `update`, an existing consumer takes the ack wait and max deliveries given (the others stay).
 */
export async function ensureTaskQueue(nc: NatsConnection, names: TaskQueueNames, settings?: Partial<ConsumerSettings>, update = false): Promise<ConsumerSettings> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, names);
  const current = await consumerSettings(jsm, names);
  // Settings not given keep the consumer's (or the defaults for a new one).
  const wanted: ConsumerSettings = {
    ackWaitMs: settings?.ackWaitMs ?? current?.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
    maxDeliver: settings?.maxDeliver ?? current?.maxDeliver ?? DEFAULT_MAX_DELIVER,
  };
  if (current) {
    if (!update || (current.ackWaitMs === wanted.ackWaitMs && current.maxDeliver === wanted.maxDeliver)) return current;
    await jsm.consumers.update(names.stream, names.consumer, { ack_wait: nanos(wanted.ackWaitMs), max_deliver: wanted.maxDeliver });
    return wanted;
  }
  try {
    await jsm.consumers.add(names.stream, {
      durable_name: names.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(wanted.ackWaitMs),
      max_deliver: wanted.maxDeliver,
      filter_subject: names.backfillSubject,
      max_ack_pending: 10_000,
    });
    return wanted;
  } catch (err) {
    // Another process created it between our look and our add: theirs stands.
    const theirs = await consumerSettings(jsm, names);
    if (theirs) return theirs;
    throw err;
  }
}

async function ensureStream(jsm: JetStreamManager, names: TaskQueueNames): Promise<void> {
  try {
    await jsm.streams.info(names.stream);
    return;
  } catch (err) {
    if (!/not found/i.test(errorMessage(err))) throw err;
  }
  try {
    await jsm.streams.add({
      name: names.stream,
      subjects: [`${names.queue}.tasks.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
    });
  } catch (err) {
    if (!/already in use/i.test(errorMessage(err))) throw err;
  }
}

async function consumerSettings(jsm: JetStreamManager, names: TaskQueueNames): Promise<ConsumerSettings | undefined> {
  try {
    const info = await jsm.consumers.info(names.stream, names.consumer);
    return { ackWaitMs: Math.round(Number(info.config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS)) / 1_000_000), maxDeliver: Number(info.config.max_deliver ?? -1) };
  } catch (err) {
    if (/not found/i.test(errorMessage(err))) return undefined;
    throw err;
  }
}

/** What the shared consumer holds: tasks not yet delivered, delivered but not acked, and workers waiting for one. */
export async function queueActivity(nc: NatsConnection, names: TaskQueueNames): Promise<{ pending: number; ackPending: number; waiting: number }> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(names.stream, names.consumer);
  return { pending: info.num_pending, ackPending: info.num_ack_pending, waiting: info.num_waiting };
}
