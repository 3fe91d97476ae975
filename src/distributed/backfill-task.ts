// A chunk task of a distributed backfill, as published to the work queue: everything a worker on another machine needs
// to rebuild the job and load the chunk into the backfill's run (no secrets: keys come from the worker's environment).
import { z } from 'zod';
import { TerminalError } from '../core/errors.ts';
import type { TimeWindow } from '../core/source.ts';
import type { Chunk } from '../runner/backfill-chunks.ts';

const isoInstant = z.iso.datetime();

export const backfillTaskSchema = z.object({
  kind: z.literal('backfill.chunk'),
  /** The warehouse the backfill runs in (catalog/warehouse-identity.ts): only its workers take the task. */
  warehouseId: z.string().regex(/^[0-9a-f]{12}$/),
  /** The backfill's run: process id and run id of its ONE run row, and when it started (the raw lake's dt=). */
  processId: z.number().int().positive(),
  runId: z.string().min(1),
  runStartedAt: isoInstant,
  /** The request, as planBackfill takes it (the worker plans the one symbol's job on the same grid). */
  job: z.string().min(1),
  symbol: z.string().min(1).optional(),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  from: isoInstant,
  to: isoInstant,
  chunkMs: z.number().positive(),
  /** `<connection>/<table name>` of the symbol's job, as backfill_chunk records it. */
  key: z.string().min(1),
  chunkStart: isoInstant,
  chunkEnd: isoInstant,
  /** 1-based position of the chunk in the plan: numbers its raw pages and curated files, so a retry overwrites them. */
  ordinal: z.number().int().positive(),
  /** Base URLs the coordinator was given (replay or COINLAKE_<SOURCE>_URL); the worker's own settings win. */
  baseUrls: z.record(z.string(), z.string()).optional(),
  rateLimitPerMinute: z.number().nonnegative().optional(),
  /** The workers share the rate limit through NATS (backfill --rate-shared): they call the API with one key. */
  rateLimitShared: z.boolean().optional(),
});

export type BackfillTask = z.infer<typeof backfillTaskSchema>;

/** The task's chunk as backfill_chunk knows it. */
export function taskChunk(t: BackfillTask): Chunk {
  return { job: t.key, window: taskWindow(t) };
}

function taskWindow(t: BackfillTask): TimeWindow {
  return { start: new Date(t.chunkStart), end: new Date(t.chunkEnd) };
}

/**
 * The message id that makes a re-publish of the same task be stored once: `<warehouse id>:<run id>:<job key>:<chunk
 * start>`. Unique per run: JetStream drops a repeated id for its duplicate window, and process ids restart at 1 in
 * every new warehouse, so an id without the run would drop a new warehouse's tasks as copies of an old one's.
 */
export function taskMsgId(t: BackfillTask): string {
  return `${t.warehouseId}:${t.runId}:${t.key}:${t.chunkStart}`;
}

/** `KEY 2024-03-04T00:00:00.000Z..2024-03-05T00:00:00.000Z`, how logs and errors name a chunk. */
export function chunkLabel(c: Chunk): string {
  return `${c.job} ${c.window.start.toISOString()}..${c.window.end.toISOString()}`;
}

export function encodeTask(t: BackfillTask): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(t));
}

/** Parses a task message; a message of another shape fails with what did not match (it is not retried). */
export function decodeTask(data: Uint8Array, subject: string): BackfillTask {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new TerminalError(`task on ${subject} is not JSON`);
  }
  const parsed = backfillTaskSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TerminalError(`task on ${subject} is not a backfill chunk task: ${issue.path.join('.') || '(the body)'}: ${issue.message}`);
  }
  return parsed.data;
}
