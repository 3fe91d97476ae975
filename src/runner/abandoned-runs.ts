// Runs whose process ended without closing them (kill -9, power loss, a lost warehouse connection): their row in
// workflow_action_history stays at status 0. Every run opening marks such rows failed (-1), so the history shows the
// failure next to the rerun that completes the work; and it settles the curated files that runs which are over left
// under temporary names (published when the run's row lists them as committed, removed otherwise).
//
// Whether the process of a status-0 row is gone is told by the warehouse's locks, never guessed from the clock:
// - a single-process warehouse (embedded DuckDB: `capabilities.multiProcess` false) is held by this process alone —
//   its file lock keeps every other one out — so a status-0 row that is not one of this process's runs is dead;
// - a multi-process warehouse (PostgreSQL) holds, for every open run, a session-level advisory lock on its run id,
//   taken before the row is inserted and gone with the connection; a row whose lock can be taken is dead;
// - a multi-process warehouse whose dialect has no advisory locks cannot tell, so no other run is ever marked.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AdvisoryLockSql, Session } from '../core/destination.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { RUN_FAILED, RUN_FAILED_QUALITY, RUN_IN_PROGRESS } from './run-history.ts';

/** error_message of a run found open with its process gone. */
export const ABANDONED_MESSAGE = 'abandoned: the process ended without closing the run (killed?)';

/** How much of the end of a run's log is searched for the failure it could not record. */
const LOG_TAIL_BYTES = 64 * 1024;

/** A run marked abandoned. */
export interface AbandonedRun {
  processId: number;
  runId: string;
  /** The message stored: ABANDONED_MESSAGE, or the failure the run logged but could not write to its row. */
  message: string;
  /** Curated temporary folders of the run that were removed (absolute paths). */
  removed: string[];
}

/**
 * Runs opened by this process, with when they were claimed. A run is claimed before its row is inserted, so a sweep
 * in this process never takes a run of its own for a dead one; entries whose row is closed are pruned after a while.
 */
const ownRuns = new Map<string, number>();
/** An entry younger than this is kept even when its row is not (yet) open: it may be about to be inserted. */
const OWN_RUN_GRACE_MS = 10 * 60_000;

/** Run ids whose session-level advisory lock a session holds (multi-process warehouses). */
const heldLeases = new WeakMap<Session, Set<string>>();

/**
 * The 64-bit advisory lock id of a run: the first 8 bytes of SHA-256 of `coinlake:run:<run id>`, signed decimal (the
 * scheme of the PostgreSQL destination's lockKey, in a namespace of its own).
 */
export function runLeaseId(runId: string): string {
  return createHash('sha256').update(`coinlake:run:${runId}`).digest().readBigInt64BE(0).toString();
}

/**
 * The statements of run leases: the dialect's advisory locks on a multi-process warehouse; undefined on a
 * single-process one (its file lock is the lease) and where the dialect has none (no leases: nothing is marked).
 */
export function leaseLocks(session: Session): AdvisoryLockSql | undefined {
  return session.capabilities.multiProcess ? session.dialect.advisoryLocks : undefined;
}

/**
 * Claims a run about to be opened (call before its row is inserted) and marks the dead runs of the warehouse
 * abandoned. On a multi-process warehouse the session keeps the run's lease until the run's row is closed and a later
 * claim on the same session releases it, or until the session closes.
 */
export async function claimRun(session: Session, lake: LocalLake | undefined, runId: string, log?: Logger): Promise<AbandonedRun[]> {
  ownRuns.set(runId, Date.now());
  const locks = leaseLocks(session);
  if (locks) {
    await session.query(locks.lock(false), [runLeaseId(runId)]);
    let held = heldLeases.get(session);
    if (!held) heldLeases.set(session, (held = new Set()));
    held.add(runId);
  }
  return markAbandonedRuns(session, lake, { log, exceptRunId: runId });
}

export interface SweepOptions {
  log?: Logger;
  /** A run that is being opened right now (its row may not exist yet). */
  exceptRunId?: string;
}

/**
 * Marks every status-0 run whose process is gone as failed (-1) and removes its unpublished curated files; returns
 * the runs it marked. Safe to call at any time (setup, status): live runs are never touched.
 */
export async function markAbandonedRuns(session: Session, lake: LocalLake | undefined, opts: SweepOptions = {}): Promise<AbandonedRun[]> {
  const open = await session.query<{ process_id: number | bigint; run_id: string; log_path: string | null }>(
    `SELECT process_id, run_id, log_path FROM coinlake_meta.workflow_action_history WHERE execution_status = $1 ORDER BY process_id`,
    [RUN_IN_PROGRESS],
  );
  const openIds = new Set(open.map((r) => r.run_id));
  await forgetClosedRuns(session, openIds, opts.exceptRunId);
  const marked: AbandonedRun[] = [];
  for (const row of open) {
    if (ownRuns.has(row.run_id) || row.run_id === opts.exceptRunId) continue;
    const processId = Number(row.process_id);
    const logged = row.log_path ? await loggedFailure(row.log_path) : undefined;
    const message = logged?.message
      ? `${logged.message} (recorded from the run's log by a later run: the process could not close its run row)`
      : ABANDONED_MESSAGE;
    const endedAt = logged?.lastWrite ?? new Date();
    const updated = await closeIfDead(session, row.run_id, processId, message, endedAt);
    if (!updated) continue;
    const removed = lake ? await removeUnpublished(lake, row.run_id) : [];
    opts.log?.warn({ processId, runId: row.run_id, message, removed: removed.length }, 'marked a run abandoned by its process as failed');
    marked.push({ processId, runId: row.run_id, message, removed });
  }
  if (lake) await settleUnpublished(session, lake, opts);
  return marked;
}

/** `.tmp-<stem>` folder of a batch's curated files; the stem starts with its run id (`YYYYMMDDTHHMMSSZ-xxxxxxxx`). */
const TEMP_DIR = /^\.tmp-((\d{8}T\d{6}Z-[0-9a-f]{8})(?:-[A-Za-z0-9_-]+)?)$/;
/** A file the batch's export wrote: `<stem>_<i>.parquet`. */
const TEMP_FILE = /^(.+)_(\d+)\.parquet$/;

/**
 * Curated batches left under their temporary names by runs that are over, e.g. a process killed between a commit and
 * the renames after it. A run that committed (status 1 or -2) lists its curated files in its row: those are published
 * under their final names (`<table>/dt=…/<stem>[-i].parquet`, as lake/curated-writer.ts names them); everything else of
 * a closed run is removed. Folders of open runs, of runs whose process is still alive (it renames after closing its
 * row), and of runs without a row are left alone.
 */
async function settleUnpublished(session: Session, lake: LocalLake, opts: SweepOptions): Promise<void> {
  const curated = path.join(lake.root, 'curated');
  let tables: string[];
  try {
    tables = await readdir(curated);
  } catch {
    return;
  }
  for (const table of tables) {
    let entries: string[];
    try {
      entries = await readdir(path.join(curated, table));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = TEMP_DIR.exec(entry);
      if (!m) continue;
      const [, stem, runId] = m;
      if (ownRuns.has(runId) || runId === opts.exceptRunId) continue;
      const [row] = await session.query<{ execution_status: number; lake_paths: string | null }>(
        `SELECT execution_status, lake_paths FROM coinlake_meta.workflow_action_history WHERE run_id = $1`,
        [runId],
      );
      if (!row || Number(row.execution_status) === RUN_IN_PROGRESS) continue;
      // A run closes its row before it renames its files: on a multi-process warehouse its process may be doing so now.
      if (session.capabilities.multiProcess && (await leaseHeld(session, runId))) continue;
      const committed = Number(row.execution_status) > 0 || Number(row.execution_status) === RUN_FAILED_QUALITY;
      const listed = new Set<string>(committed && row.lake_paths ? (JSON.parse(row.lake_paths) as string[]) : []);
      const tempDir = path.join(curated, table, entry);
      let published = 0;
      for (const partition of await readdir(tempDir).catch(() => [] as string[])) {
        for (const file of await readdir(path.join(tempDir, partition)).catch(() => [] as string[])) {
          const f = TEMP_FILE.exec(file);
          if (!f || f[1] !== stem) continue;
          const relative = path.join('curated', table, partition, `${stem}${f[2] === '0' ? '' : `-${f[2]}`}.parquet`);
          if (!listed.has(relative)) continue;
          await mkdir(path.join(lake.root, 'curated', table, partition), { recursive: true });
          await rename(path.join(tempDir, partition, file), path.join(lake.root, relative));
          published++;
        }
      }
      await rm(tempDir, { recursive: true, force: true });
      opts.log?.warn({ runId, folder: path.join(table, entry), published }, 'settled the curated files a finished run left unpublished');
    }
  }
}

/** Sets the row to -1 when its process is gone; false when it is alive (or was closed meanwhile). */
async function closeIfDead(session: Session, runId: string, processId: number, message: string, endedAt: Date): Promise<boolean> {
  const close = () =>
    session.exec(
      `UPDATE coinlake_meta.workflow_action_history SET execution_status = $2, execution_end_datetime = $3, error_message = $4
        WHERE process_id = $1 AND execution_status = $5`,
      [processId, RUN_FAILED, endedAt, message, RUN_IN_PROGRESS],
    );
  // One process holds the whole warehouse (its file lock keeps others out): a run that is not ours is dead.
  if (!session.capabilities.multiProcess) return (await close()) > 0;
  // Several processes: the run's owner holds its lease for as long as it lives. Taking it here (until this
  // transaction ends) proves the owner is gone and keeps a sweep in another process from racing this one.
  // Without advisory locks nothing proves it: the run is left open.
  const locks = leaseLocks(session);
  if (!locks) return false;
  return session.transaction(async () => {
    const [{ ok }] = await session.query<{ ok: boolean }>(locks.tryTransactionLock(), [runLeaseId(runId)]);
    if (!ok) return false;
    return (await close()) > 0;
  });
}

/** True while another session holds the run's lease (its process is alive); always true without advisory locks. */
async function leaseHeld(session: Session, runId: string): Promise<boolean> {
  const locks = leaseLocks(session);
  if (!locks) return true;
  return session.transaction(async () => {
    const [{ ok }] = await session.query<{ ok: boolean }>(locks.tryTransactionLock(), [runLeaseId(runId)]);
    return !ok;
  });
}

/** Drops this process's record of runs that are closed; releases their leases held by this session. */
async function forgetClosedRuns(session: Session, openIds: Set<string>, current?: string): Promise<void> {
  const now = Date.now();
  for (const [runId, at] of ownRuns) {
    if (runId !== current && !openIds.has(runId) && now - at > OWN_RUN_GRACE_MS) ownRuns.delete(runId);
  }
  const held = heldLeases.get(session);
  const locks = leaseLocks(session);
  if (!held || !locks) return;
  for (const runId of [...held]) {
    if (runId === current || openIds.has(runId)) continue;
    await session.query(locks.unlock(false), [runLeaseId(runId)]);
    held.delete(runId);
  }
}

/**
 * The failure a run logged (`run failed`) but could not write to its row — e.g. after its connection to the
 * warehouse was lost — and when its log was last written. Undefined when the log is not on this machine.
 */
async function loggedFailure(logPath: string): Promise<{ message?: string; lastWrite: Date } | undefined> {
  let handle;
  try {
    handle = await open(logPath, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size, mtime } = await handle.stat();
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    let message: string | undefined;
    for (const line of buffer.toString('utf8').split('\n')) {
      if (!line.includes('"run failed"')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
        if (entry.msg === 'run failed' && typeof entry.err?.message === 'string') message = entry.err.message;
      } catch {
        // a partial first line of the tail, or a line cut by the kill
      }
    }
    return { message, lastWrite: mtime };
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** Removes `curated/<table>/.tmp-<run id>[-…]` folders: batches of the run that were written but never published. */
async function removeUnpublished(lake: LocalLake, runId: string): Promise<string[]> {
  const curated = path.join(lake.root, 'curated');
  let tables: string[];
  try {
    tables = await readdir(curated);
  } catch {
    return [];
  }
  const prefix = `.tmp-${runId}`;
  const removed: string[] = [];
  for (const table of tables) {
    const dir = path.join(curated, table);
    let entries: string[];
    try {
      if (!(await stat(dir)).isDirectory()) continue;
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry !== prefix && !entry.startsWith(`${prefix}-`)) continue;
      const target = path.join(dir, entry);
      await rm(target, { recursive: true, force: true });
      removed.push(target);
    }
  }
  return removed;
}
