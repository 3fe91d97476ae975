// The lease of a distributed backfill's run, shared. A run's lease (runner/abandoned-runs.ts) is the advisory lock that
// tells a live run from one whose process died: a sweep marks a status-0 run failed only when it can take the lock.
// One process holds it exclusively for an ordinary run; a distributed run is alive while its coordinator OR any
// worker with one of its tasks is, so they all hold it in shared mode. The coordinator turns its exclusive hold into
// a shared one right after opening the run; workers take it before touching the run's lake files.
import type { Session } from '../core/destination.ts';
import { leaseLocks, runLeaseId } from '../runner/abandoned-runs.ts';

/** Coordinator: keeps the run's lease in shared mode (taken first, so it is never let go in between). */
export async function shareRunLease(s: Session, runId: string): Promise<void> {
  const locks = leaseLocks(s);
  if (!locks) return;
  await s.query(locks.lock(true), [runLeaseId(runId)]);
  await s.query(locks.unlock(false), [runLeaseId(runId)]);
}

/** Worker: the run leases a session holds in shared mode, taken once each and let go when the run closes. */
export class SharedLeases {
  private readonly held = new Set<string>();

  constructor(private readonly session: Session) {}

  /** Takes the run's lease in shared mode unless held; false while a sweep holds it for a moment (try again). */
  async take(runId: string): Promise<boolean> {
    const locks = leaseLocks(this.session);
    if (this.held.has(runId) || !locks) return true;
    const [{ ok }] = await this.session.query<{ ok: boolean }>(locks.tryLock(true), [runLeaseId(runId)]);
    if (ok) this.held.add(runId);
    return ok;
  }

  /** Lets go of the lease of a run that is closed. */
  async release(runId: string): Promise<void> {
    const locks = leaseLocks(this.session);
    if (!this.held.delete(runId) || !locks) return;
    await this.session.query(locks.unlock(true), [runLeaseId(runId)]);
  }

  /** Run ids whose lease is held. */
  get runs(): string[] {
    return [...this.held];
  }
}
