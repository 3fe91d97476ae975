// Tasks the queue gave up on: delivered the most times allowed, the last time to a worker that died (a worker that
// fails a task itself records the failure and terminates it). JetStream announces each one with a max-deliveries
// advisory (sent when a worker pulls and the task is due again). The coordinator and every worker listen; whoever
// handles it first marks the task failed for good and deletes it from the work queue.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import { chunkCommittedBy } from '../runner/backfill-chunks.ts';
import { decodeTask, taskChunk, type BackfillTask } from './backfill-task.ts';
import type { WarehouseQueue } from './task-queue.ts';
import { BACKFILL_TASK_TABLE, markTaskFailed } from './task-table.ts';

/** One advisory: the task's stream sequence and how often it was delivered. */
export interface ExhaustedTask {
  seq: number;
  deliveries: number;
}

/** Collects max-deliveries advisories of the queue's consumer until drained. */
export class ExhaustedTasks {
  private readonly items: ExhaustedTask[] = [];
  private sub?: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WarehouseQueue,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.names.stream}.${this.names.consumer}`, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const a = msg.json<{ stream_seq?: number; deliveries?: number }>();
          if (typeof a.stream_seq === 'number') this.items.push({ seq: a.stream_seq, deliveries: Number(a.deliveries ?? 0) });
        } catch {
          // not an advisory of the expected shape
        }
      },
    });
  }

  /** The advisories received since the last call. */
  drain(): ExhaustedTask[] {
    return this.items.splice(0);
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}

/**
 * Marks the task of an advisory failed for good (unless its chunk got committed after all) and deletes it from the
 * queue. Returns the task, or undefined when it is gone already (another listener handled it) or not this warehouse's.
 */
export async function failExhausted(s: Session, nc: NatsConnection, names: WarehouseQueue, item: ExhaustedTask): Promise<BackfillTask | undefined> {
  const jsm = await jetstreamManager(nc);
  let data: Uint8Array;
  let subject: string;
  try {
    const stored = await jsm.streams.getMessage(names.stream, { seq: item.seq });
    if (!stored) return undefined;
    data = stored.data;
    subject = stored.subject;
  } catch (err) {
    if (/no message found|not found/i.test(errorMessage(err))) return undefined;
    throw err;
  }
  const task = decodeTask(data, subject);
  // Another warehouse's task is its workers' business: nothing is written here and the message stays.
  if (task.warehouseId !== names.warehouseId) return undefined;
  const chunk = taskChunk(task);
  if ((await chunkCommittedBy(s, chunk)) === undefined) {
    const [row] = await s.query<{ worker: string | null }>(`SELECT worker FROM ${BACKFILL_TASK_TABLE} WHERE process_id = $1 AND job = $2 AND chunk_start = $3`, [
      task.processId,
      chunk.job,
      chunk.window.start,
    ]);
    const last = row?.worker ? `; its last worker (${row.worker}) stopped answering` : '';
    await markTaskFailed(s, task.processId, chunk, row?.worker ?? null, item.deliveries, true, `delivered ${item.deliveries} times without finishing${last}`);
  }
  await jsm.streams.deleteMessage(names.stream, item.seq).catch(() => false);
  return task;
}
