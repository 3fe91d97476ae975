// THE engine: one run = units of work (a run's one window, a backfill's chunks, a worker's task, an import's files, a
// stream's micro-batches) extracted into batches (raw lake → typed rows), committed in groups (stage → curated → write
// mode + the hooks' rows + the run row in ONE transaction), their curated files published; the run row opened, closed
// or failed here. Hooks say what differs.
import PQueue from 'p-queue';
import type { LoadResult, Session, WriteMode } from '../core/destination.ts';
import { InternalError, errorMessage } from '../core/errors.ts';
import type { Row, TableSpec } from '../core/table.ts';
import type { CuratedFile } from '../lake/curated-writer.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';
import type { AfterLoadResult } from '../runner/after-load.ts';
import { closeRun, type RunOutcome } from '../runner/run-history.ts';
import {
  batchRowCount,
  commitBatch,
  discardCurated,
  failRunScope,
  landQuarantine,
  openRunScope,
  publishCurated,
  type CommittedBatch,
  type ExtractedBatch,
  type FailedFigures,
  type OpenRunInfo,
  type RunScope,
} from './run-steps.ts';

/** A unit of work and the batch extracted for it (empty for a file's landing, which brings its own load). */
export interface Extracted<U> {
  unit: U;
  batch: ExtractedBatch;
  landing?: FileLanding;
}

/**
 * A file's landing: a unit the warehouse loads itself inside the unit's transaction (import cdd reads a CSV file in
 * the warehouse), instead of typed rows for the write mode.
 */
export interface FileLanding {
  /** Curated files written so far under temporary names: published after the commit, removed when it fails. */
  readonly curated: CuratedFile[];
  /** Inside the transaction, after the lock and the table: loads the file; what the load did and the values set aside. */
  load(): Promise<{ load: LoadResult; quarantine: QuarantineEntry[] }>;
  /** True for a throw of load() after which the transaction runs once more (the first rolled back). Default never. */
  again?(err: unknown): boolean;
  /** After the commit (curated files the load left for then). */
  afterCommit(): Promise<void>;
  /** Always, after the commit or the failure. */
  close(): Promise<void>;
}

/** Where and how a group of batches is committed. */
export interface CommitTarget {
  table: TableSpec;
  writeMode: WriteMode;
  /** Serialises commits to the table on warehouses with several writers. */
  lockKey: string;
  /** Curated file stem; default the run id. */
  fileStem?: string;
  /** Row-count audit and quality checks in the transaction (default true). */
  afterLoad?: boolean;
  /** The table was ensured once already: skip the per-batch check. */
  tableReady?: boolean;
  /** The group holds nothing to load (a stream's batch of repeats only): no transaction; `committed` still runs. */
  nothingToLoad?: boolean;
}

/** A group being committed (inside its transaction) or just committed. */
export interface GroupCommit<U> {
  group: Extracted<U>[];
  /** Typed rows of the group (0 for a file's landing: its hooks count its rows). */
  rows: number;
  load: LoadResult;
  /** Lake-relative paths the group's curated files have once published. */
  curatedPaths: string[];
  quality?: AfterLoadResult;
  /** Lake-relative quarantine file of the run, when the group set values aside. */
  quarantineFile?: string;
}

/** Hands a batch source what it needs to extract one unit. */
export interface ExtractContext {
  scope: RunScope;
  /** Aborted when the run is stopped from outside or another unit failed. */
  signal: AbortSignal;
  /** The next raw page number of the run (1, 2, …), shared by all its units. */
  nextPage: () => number;
}

/** What differs between runs: every hook is called by the engine at its step. */
export interface PipelineHooks<U, T> {
  /**
   * The run's units, worked out once the run is open (a backfill skips its committed chunks); an open-ended iterable
   * for a stream, whose `extract` ends it.
   */
  plan(scope: RunScope): Promise<U[] | Iterable<U>> | U[] | Iterable<U>;
  /**
   * Extracts one unit: HTTP → raw lake → typed rows (run-steps.ts extractBatch, usually). Either this or `land`.
   * Null: the source has ended (a stream stopping), no further unit starts.
   */
  extract?(unit: U, ctx: ExtractContext): Promise<ExtractedBatch | null>;
  /** Prepares a unit the warehouse loads itself (a file's landing), committed on its own. Either this or `extract`. */
  land?(unit: U, ctx: ExtractContext): Promise<FileLanding>;
  /** After a unit's batch is ready, before it is committed; returning 'stop' starts no further unit (a row limit). */
  extracted?(e: Extracted<U>, left: { units: number }, scope: RunScope): 'stop' | void;
  /**
   * The committer's turn for a group, after the previous group committed and before the group's transaction: the
   * last change to its rows (a stream leaves out rows a re-created stream repeats).
   */
  beforeTransaction?(group: Extracted<U>[], scope: RunScope): Promise<void>;
  /** A group's quarantined values were landed in the run's quarantine file (lake-relative), before its commit. */
  quarantined?(file: string, group: Extracted<U>[]): void;
  /** The commit target of a group; required when the run has units to commit. */
  target?(group: Extracted<U>[], scope: RunScope): CommitTarget;
  /** Inside the group's transaction, after the write mode: state, chunk records, progress. A throw rolls it back. */
  inTransaction?(c: GroupCommit<U>, scope: RunScope): Promise<void>;
  /**
   * The run row's outcome when it closes in the group's own transaction (a one-batch run: data, state and run row
   * commit together); undefined leaves the run open.
   */
  closeWith?(c: GroupCommit<U>): RunOutcome | undefined;
  /** After the group committed and its curated files were published (lake-relative `published`). */
  committed?(c: GroupCommit<U> & { committed: CommittedBatch; published: string[]; publishMs: number }, scope: RunScope): Promise<void> | void;
  /** After every unit committed: the result, and the run row's outcome when it is closed now (not in a transaction). */
  complete(scope: RunScope): Promise<{ result: T; outcome?: RunOutcome }>;
  /** When the run fails: the figures its run row keeps, and the error to throw (default the cause). */
  failed?(err: unknown, scope: RunScope): Promise<FailedOutcome> | FailedOutcome;
}

/** What a failed run's row keeps, and the error to throw (default the cause). */
export interface FailedOutcome {
  /** Absent: the run row is left as it is (another process owns it now, as a distributed backfill's workers do). */
  figures?: FailedFigures;
  error?: Error;
}

/** One run through the engine. */
export interface Pipeline<U, T> {
  session: Session;
  lake: LocalLake;
  /**
   * A new run (its row opened, closed or failed here), or a run another process opened and closes (a distributed
   * backfill's worker): then failures are thrown as they are, and the run row is left to its owner.
   */
  run: { open: OpenRunInfo } | { join: RunScope };
  hooks: PipelineHooks<U, T>;
  /** Units extracted at once. Default 1. */
  concurrency?: number;
  /**
   * A unit starts only while fewer than this many extracted batches wait for the committer (back-pressure; with those
   * in flight, up to lookahead + concurrency − 1 may wait). Default 4 × concurrency; 0: a unit is extracted only once
   * the previous one committed (a file's landing works the warehouse itself).
   */
  lookahead?: number;
  /** Ready batches committed together: up to this many rows (a single batch may be larger) and batches. Default one batch per commit. */
  group?: { maxRows: number; maxBatches: number };
  /** Stops the run: units not yet committed are left (for a rerun). */
  signal?: AbortSignal;
}

/**
 * Runs `p` to its end: opens the run (or joins it), extracts its units `concurrency` at a time while one committer
 * commits the ready batches in groups, then completes the run. On failure the run row gets status -1 with the
 * figures of `hooks.failed` (groups committed until then stay) and the error is thrown.
 */
export async function runPipeline<U, T>(p: Pipeline<U, T>): Promise<T> {
  const opened = 'open' in p.run;
  const scope = 'open' in p.run ? await openRunScope(p.session, p.lake, p.run.open) : p.run.join;
  const ready: Extracted<U>[] = [];
  try {
    const units = await p.hooks.plan(scope);
    await work(p, scope, units, ready, opened);
    const { result, outcome } = await p.hooks.complete(scope);
    if (opened && outcome) await closeRun(p.session, scope.processId, outcome);
    return result;
  } catch (err) {
    for (const r of ready.splice(0)) await dropUncommitted(scope, r);
    if (!opened) throw err;
    const failed = await p.hooks.failed?.(err, scope);
    if (!failed || failed.figures) await failRunScope(scope, err, failed?.figures ?? { rowsExtracted: 0, rowsQuarantined: 0, lakePaths: [] });
    throw failed?.error ?? err;
  } finally {
    if (opened) {
      scope.log.flush?.();
      // An object-storage lake gets the run's log once the run ended (a local lake has it in place already).
      await p.lake.finishLog(scope.runId).catch((e: unknown) => scope.log.warn({ error: errorMessage(e) }, 'could not upload the run log to the lake'));
    }
  }
}

/**
 * Extracts the units on a p-queue (at most `concurrency` at once, none started while `lookahead` batches wait for the
 * committer) and commits the ready batches in groups, one group at a time, in the order they became ready.
 */
async function work<U, T>(p: Pipeline<U, T>, scope: RunScope, planned: U[] | Iterable<U>, ready: Extracted<U>[], opened: boolean): Promise<void> {
  const concurrency = Math.max(1, Math.floor(p.concurrency ?? 1));
  const pool = new PQueue({ concurrency });
  const abort = new AbortController();
  const signal = p.signal ? AbortSignal.any([p.signal, abort.signal]) : abort.signal;
  let page = 0;
  const ctx: ExtractContext = { scope, signal, nextPage: () => ++page };
  // Units started; an array's remaining ones are counted (a row limit), an iterable's end is found by taking.
  const list = Array.isArray(planned) ? planned : undefined;
  const units = planned[Symbol.iterator]();
  let next = 0;
  let ended = false;
  const noMoreUnits = () => ended || (list !== undefined && next >= list.length);
  let running = 0;
  let stop = false;
  let committing = false;
  const ahead = p.lookahead ?? concurrency * 4;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const fail = (err: unknown) => {
    failure ??= { err };
    abort.abort(err);
  };
  // Starts units while a slot is free and the committer keeps up (back-pressure).
  const feed = () => {
    while (!stop && !failure && !noMoreUnits() && running < concurrency && (ahead > 0 ? ready.length < ahead : ready.length === 0 && !committing)) {
      const taken = units.next();
      if (taken.done) {
        ended = true;
        break;
      }
      const unit = taken.value;
      next++;
      running++;
      void pool.add(async () => {
        try {
          const landing = p.hooks.land ? await p.hooks.land(unit, ctx) : undefined;
          const batch = landing ? emptyBatch() : await extractWith(p.hooks, unit, ctx);
          if (!batch) {
            ended = true;
            return;
          }
          const e: Extracted<U> = { unit, batch, landing };
          ready.push(e);
          if (p.hooks.extracted?.(e, { units: list ? list.length - next : Infinity }, scope) === 'stop') stop = true;
        } catch (err) {
          fail(err);
        } finally {
          running--;
          feed();
          notify();
        }
      });
    }
  };
  feed();
  const maxRows = p.group?.maxRows ?? 0;
  const maxBatches = p.hooks.land ? 1 : (p.group?.maxBatches ?? 1);
  for (;;) {
    if (ready.length === 0) {
      if (failure || (running === 0 && (stop || noMoreUnits()))) break;
      await new Promise<void>((r) => (wake = r));
      continue;
    }
    const group: Extracted<U>[] = [];
    let rows = 0;
    while (ready.length > 0 && group.length < maxBatches && (group.length === 0 || rows + batchRowCount(ready[0].batch) <= maxRows)) {
      const r = ready.shift()!;
      rows += batchRowCount(r.batch);
      group.push(r);
    }
    committing = true;
    feed();
    try {
      // Stopped from outside (signal): batches not yet committed are left for a rerun.
      signal.throwIfAborted();
      if (group[0].landing) await commitLanding(p, scope, group[0], opened);
      else await commitGroup(p, scope, group, opened);
    } catch (err) {
      fail(err);
      break;
    } finally {
      committing = false;
    }
    feed();
  }
  await pool.onIdle();
  if (failure) throw failure.err;
}

/** Lands a group's quarantined values, commits its rows in one transaction and publishes its curated files. */
async function commitGroup<U, T>(p: Pipeline<U, T>, scope: RunScope, group: Extracted<U>[], opened: boolean): Promise<void> {
  const { hooks } = p;
  const target = targetOf(hooks, group, scope);
  const one = group.length === 1 ? group[0].batch : undefined;
  if (target.nothingToLoad) {
    const load = { inserted: 0, updated: 0, deleted: 0 };
    await hooks.committed?.({ group, rows: 0, load, curatedPaths: [], committed: { load, curated: [], timings: {} }, published: [], publishMs: 0 }, scope);
    return;
  }
  await hooks.beforeTransaction?.(group, scope);
  let rows: Row[];
  if (one) rows = one.rows;
  else {
    rows = [];
    for (const g of group) {
      if (g.batch.staged) throw new InternalError('a batch typed in the warehouse is committed on its own, not in a group of several');
      for (const r of g.batch.rows) rows.push(r);
    }
  }
  const quarantined = one ? one.quarantined : group.flatMap((g) => g.batch.quarantined);
  let quarantineFile: string | undefined;
  try {
    quarantineFile = await landQuarantine(scope, target.table, quarantined);
    if (quarantineFile) hooks.quarantined?.(quarantineFile, group);
  } catch (err) {
    await one?.staged?.discard().catch(() => undefined);
    throw err;
  }
  const rowCount = one ? batchRowCount(one) : rows.length;
  let c: GroupCommit<U> | undefined;
  const committed = await commitBatch(scope, {
    ...target,
    rows,
    staged: one?.staged,
    inTransaction: async (load, curatedPaths, quality) => {
      c = { group, rows: rowCount, load, curatedPaths, quality, quarantineFile };
      await hooks.inTransaction?.(c, scope);
      const outcome = opened ? hooks.closeWith?.(c) : undefined;
      if (outcome) await closeRun(scope.session, scope.processId, outcome);
    },
  });
  const publishFrom = performance.now();
  const published = await publishCurated(scope, committed.curated);
  const publishMs = performance.now() - publishFrom;
  c ??= { group, rows: rowCount, load: committed.load, curatedPaths: published, quality: committed.quality, quarantineFile };
  await hooks.committed?.({ ...c, committed, published, publishMs }, scope);
}

/** Commits a file's landing in its own transaction (run again once when it says so), then publishes its curated files. */
async function commitLanding<U, T>(p: Pipeline<U, T>, scope: RunScope, e: Extracted<U>, opened: boolean): Promise<void> {
  const { hooks } = p;
  const { session } = scope;
  const landing = e.landing!;
  const target = targetOf(hooks, [e], scope);
  let landed!: Awaited<ReturnType<FileLanding['load']>>;
  let c!: GroupCommit<U>;
  try {
    for (let round = 1; ; round++) {
      try {
        await session.transaction(async () => {
          await session.lockKey(target.lockKey);
          await session.ensureTable(target.table);
          landed = await landing.load();
          c = { group: [e], rows: 0, load: landed.load, curatedPaths: [] };
          await hooks.inTransaction?.(c, scope);
          const outcome = opened ? hooks.closeWith?.(c) : undefined;
          if (outcome) await closeRun(session, scope.processId, outcome);
        });
        break;
      } catch (err) {
        if (round > 1 || !landing.again?.(err)) throw err;
      }
    }
    await landing.afterCommit();
  } catch (err) {
    await discardCurated(scope, landing.curated);
    throw err;
  } finally {
    await landing.close();
  }
  const published = await publishCurated(scope, landing.curated);
  const quarantineFile = await landQuarantine(scope, target.table, landed.quarantine);
  const committed: CommittedBatch = { load: landed.load, curated: landing.curated, timings: {} };
  await hooks.committed?.({ ...c, curatedPaths: published, quarantineFile, committed, published, publishMs: 0 }, scope);
}

/** Lets go of a batch that will not be committed: its staging table, or its landing and the curated files it wrote. */
async function dropUncommitted<U>(scope: RunScope, r: Extracted<U>): Promise<void> {
  await r.batch.staged?.discard().catch(() => undefined);
  if (r.landing) {
    await discardCurated(scope, r.landing.curated).catch(() => undefined);
    await r.landing.close().catch(() => undefined);
  }
}

/** The batch of a file's landing: the landing brings its rows. */
function emptyBatch(): ExtractedBatch {
  return { rows: [], records: 0, pages: 0, lakePaths: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set(), missingFields: new Set() };
}

function extractWith<U, T>(hooks: PipelineHooks<U, T>, unit: U, ctx: ExtractContext): Promise<ExtractedBatch | null> {
  if (!hooks.extract) throw new InternalError('a pipeline needs an extract or a land hook');
  return hooks.extract(unit, ctx);
}

function targetOf<U, T>(hooks: PipelineHooks<U, T>, group: Extracted<U>[], scope: RunScope): CommitTarget {
  if (!hooks.target) throw new InternalError(`run ${scope.runId} has a batch to commit but its pipeline names no commit target`);
  return hooks.target(group, scope);
}
