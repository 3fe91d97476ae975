// Chunks of a backfill and their records in coinlake_meta.backfill_chunk: a chunk is one job's time window; a row is
// written in the same transaction as the chunk's data, so a rerun knows exactly which chunks are already loaded.
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { TimeWindow } from '../core/source.ts';

/** `coinlake_meta.backfill_chunk` (created by ensureMetaTables). */
export const BACKFILL_CHUNK_TABLE = 'coinlake_meta.backfill_chunk';
export const CHUNK_COMMITTED = 'committed';

/** One unit of backfill work. */
export interface Chunk {
  /** Key of the job the chunk belongs to, `<connection>/<table name>`, e.g. `BINANCE/KLINES_BTCUSDT_1M`. */
  job: string;
  window: TimeWindow;
}

/**
 * Splits [from, to) into windows on a fixed grid of `stepMs` counted from the epoch (so reruns with other bounds
 * share their inner chunks); the first and last window are clipped to the range.
 */
export function planWindows(from: Date, to: Date, stepMs: number): TimeWindow[] {
  if (!(stepMs > 0)) throw new ConfigError(`chunk length must be positive, got ${stepMs} ms`, { hint: 'give the chunk length as a positive duration, e.g. --chunk 1d or --chunk 6h' });
  const out: TimeWindow[] = [];
  const end = to.getTime();
  let t = from.getTime();
  while (t < end) {
    const next = Math.min((Math.floor(t / stepMs) + 1) * stepMs, end);
    out.push({ start: new Date(t), end: new Date(next) });
    t = next;
  }
  return out;
}

/** The committed chunk windows of some jobs that overlap [from, to), per job. */
export async function committedWindows(s: Session, jobs: string[], from: Date, to: Date): Promise<Map<string, TimeWindow[]>> {
  const out = new Map<string, TimeWindow[]>(jobs.map((j) => [j, []]));
  if (jobs.length === 0) return out;
  const marks = jobs.map((_, i) => s.dialect.param(i + 4)).join(', ');
  const rows = await s.query<{ job: string; chunk_start: Date; chunk_end: Date }>(
    `SELECT job, chunk_start, chunk_end FROM ${BACKFILL_CHUNK_TABLE}
      WHERE status = $1 AND chunk_end > $2 AND chunk_start < $3 AND job IN (${marks})`,
    [CHUNK_COMMITTED, from, to, ...jobs],
  );
  for (const r of rows) out.get(r.job)?.push({ start: r.chunk_start, end: r.chunk_end });
  return out;
}

/** True when one committed window covers `w` entirely. */
export function isCovered(w: TimeWindow, committed: TimeWindow[]): boolean {
  return committed.some((c) => c.start.getTime() <= w.start.getTime() && c.end.getTime() >= w.end.getTime());
}

/**
 * Records chunks as committed; call inside the transaction that commits their data. One multi-row INSERT. `worker`
 * names the distributed worker that loaded them (NULL for a single-process backfill). The table's key (job, start,
 * end) makes a second record of the same chunk fail, so a chunk can never be committed twice.
 */
export async function recordChunks(s: Session, processId: number, chunks: { chunk: Chunk; rows: number }[], at: Date, worker?: string): Promise<void> {
  if (chunks.length === 0) return;
  const values: string[] = [];
  const params: unknown[] = [];
  for (const { chunk, rows } of chunks) {
    const base = params.length;
    values.push(`(${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => s.dialect.param(base + i)).join(', ')})`);
    params.push(processId, chunk.job, chunk.window.start, chunk.window.end, CHUNK_COMMITTED, rows, at, worker ?? null);
  }
  await s.exec(
    `INSERT INTO ${BACKFILL_CHUNK_TABLE} (process_id, job, chunk_start, chunk_end, status, rows_loaded, committed_at, worker) VALUES ${values.join(', ')}`,
    params,
  );
}

/** The process that committed a chunk (any run), or undefined when it is not committed. */
export async function chunkCommittedBy(s: Session, chunk: Chunk): Promise<number | undefined> {
  const rows = await s.query<{ process_id: number }>(
    `SELECT process_id FROM ${BACKFILL_CHUNK_TABLE} WHERE status = $1 AND job = $2 AND chunk_start <= $3 AND chunk_end >= $4 LIMIT 1`,
    [CHUNK_COMMITTED, chunk.job, chunk.window.start, chunk.window.end],
  );
  return rows.length ? Number(rows[0].process_id) : undefined;
}
