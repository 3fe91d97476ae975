// What `coinlake status` shows of a distributed backfill: its chunks by state, and per worker the chunks it committed,
// is running and failed (its last attempt), with the rows it loaded.
import type { Session } from '../core/destination.ts';
import type { DistributedDetails } from './backfill-close.ts';
import { distributedRuns, taskCounts, workerCounts } from './task-table.ts';

/** A distributed backfill's progress, per worker. */
export interface DistributedStatus {
  processId: number;
  runId: string;
  job: string;
  total: number;
  /** Chunks loaded before the backfill started, or by another run meanwhile. */
  alreadyLoaded: number;
  counts: { committed: number; running: number; retrying: number; failed: number; queued: number };
  workers: { worker: string; done: number; running: number; failed: number; rows: number; lastUpdate: Date }[];
}

/** The distributed backfills among some runs (newest first), at most `limit` of them. */
export async function distributedStatuses(s: Session, processIds: number[], limit = 3): Promise<DistributedStatus[]> {
  const found = await distributedRuns(s, processIds);
  const out: DistributedStatus[] = [];
  for (const processId of [...processIds].sort((a, b) => b - a)) {
    if (!found.has(processId) || out.length >= limit) continue;
    const [run] = await s.query<{ run_id: string; details: string | null }>(`SELECT run_id, details FROM coinlake_meta.workflow_action_history WHERE process_id = $1`, [processId]);
    const details = JSON.parse(run?.details ?? '{}') as Partial<DistributedDetails>;
    const c = await taskCounts(s, processId);
    const tasks = c.queued + c.running + c.retrying + c.failed + c.committed + c.skipped;
    const skippedAtStart = details.chunks?.skipped ?? 0;
    out.push({
      processId,
      runId: run?.run_id ?? '',
      job: details.job ?? '',
      total: details.chunks?.total ?? tasks + skippedAtStart,
      alreadyLoaded: skippedAtStart + c.skipped,
      counts: { committed: c.committed, running: c.running, retrying: c.retrying, failed: c.failed, queued: c.queued },
      workers: await workerCounts(s, processId),
    });
  }
  return out;
}

/** The heading line of a distributed backfill's block. */
export function distributedHeading(d: DistributedStatus): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const c = d.counts;
  return (
    `backfill process ${d.processId} (run ${d.runId}, ${d.job}, distributed): ${n(d.total)} chunks — ${n(c.committed)} committed, ${n(c.running)} running, ` +
    `${n(c.retrying)} to retry, ${n(c.failed)} failed, ${n(c.queued)} queued, ${n(d.alreadyLoaded)} already loaded`
  );
}
