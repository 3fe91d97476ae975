// The JetStream work queue of distributed backfills: a work-queue stream (`COINLAKE_TASKS`, subjects
// `coinlake.tasks.>`) whose messages are chunk tasks, and per warehouse ONE durable pull consumer that every worker of
// that warehouse shares, so a task goes to one worker at a time and comes back to another when its worker stops
// answering. A task's subject names its warehouse and run (`<queue>.tasks.backfill.<warehouse id>.<process id>`) and a
// warehouse's consumer takes only its own subjects: warehouses sharing a queue never see each other's tasks.
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
  /** Subject of backfill chunk tasks; of one warehouse's, once scoped by warehouseQueue (a run's tasks go below it). */
  backfillSubject: string;
  /** Durable consumer every backfill worker pulls from; once scoped, every worker of the warehouse. */
  consumer: string;
}

/** A queue's names as one warehouse uses them. */
export interface WarehouseQueue extends TaskQueueNames {
  warehouseId: string;
}

/** Names of queue `queue` (letters, digits, `_` and `-`): stream `<QUEUE>_TASKS`, subjects `<queue>.tasks.>`. */
export function taskQueueNames(queue = process.env.COINLAKE_QUEUE || DEFAULT_QUEUE): TaskQueueNames {
  if (!/^[A-Za-z0-9_-]+$/.test(queue)) throw new ConfigError(`queue name "${queue}" may only hold letters, digits, _ and -`);
  const stem = queue.replace(/-/g, '_');
  return { queue, stream: `${stem.toUpperCase()}_TASKS`, backfillSubject: `${queue}.tasks.backfill`, consumer: `${stem}_backfill_workers` };
}

/**
 * The queue as warehouse `warehouseId` (catalog/warehouse-identity.ts) uses it: tasks under
 * `<queue>.tasks.backfill.<warehouse id>`, consumer `<queue>_backfill_<warehouse id>`.
 */
export function warehouseQueue(names: TaskQueueNames, warehouseId: string): WarehouseQueue {
  const base = taskQueueNames(names.queue);
  return { ...base, warehouseId, backfillSubject: `${base.backfillSubject}.${warehouseId}`, consumer: `${base.consumer.replace(/_workers$/, '')}_${warehouseId}` };
}

/** Subject of the tasks of backfill process `processId`. */
export function runSubject(names: WarehouseQueue, processId: number): string {
  return `${names.backfillSubject}.${processId}`;
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
export async function ensureTaskQueue(nc: NatsConnection, names: WarehouseQueue, settings?: Partial<ConsumerSettings>, update = false): Promise<ConsumerSettings> {
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
      filter_subject: `${names.backfillSubject}.>`,
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

async function ensureStream(jsm: JetStreamManager, names: WarehouseQueue): Promise<void> {
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

async function consumerSettings(jsm: JetStreamManager, names: WarehouseQueue): Promise<ConsumerSettings | undefined> {
  try {
    const info = await jsm.consumers.info(names.stream, names.consumer);
    return { ackWaitMs: Math.round(Number(info.config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS)) / 1_000_000), maxDeliver: Number(info.config.max_deliver ?? -1) };
  } catch (err) {
    if (/not found/i.test(errorMessage(err))) return undefined;
    throw err;
  }
}

/** What the warehouse's consumer holds: tasks not yet delivered, delivered but not acked, and workers waiting for one. */
export async function queueActivity(nc: NatsConnection, names: WarehouseQueue): Promise<{ pending: number; ackPending: number; waiting: number }> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(names.stream, names.consumer);
  return { pending: info.num_pending, ackPending: info.num_ack_pending, waiting: info.num_waiting };
}

/** Tasks of backfill process `processId` the stream holds (delivered or not, until acked, failed or deleted). */
export async function runTasksStored(nc: NatsConnection, names: WarehouseQueue, processId: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const subject = runSubject(names, processId);
  const info = await jsm.streams.info(names.stream, { subjects_filter: subject });
  return Number(info.state.subjects?.[subject] ?? 0);
}

/** Deletes the stored tasks of backfill process `processId` (the run failed: no worker should take them). */
export async function purgeRunTasks(nc: NatsConnection, names: WarehouseQueue, processId: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge(names.stream, { filter: runSubject(names, processId) });
}
