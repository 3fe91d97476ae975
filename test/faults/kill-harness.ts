/**
 * kill -9 trials of the real CLI (`node bin/coinlake.mjs …` in a subprocess). A case is a sequence of steps over one
 * warehouse — step 0 runs cleanly, every later step is SIGKILLed at a random moment and then run again to completion —
 * compared after every rerun with a clean run of the whole range in another warehouse: every data row (all columns
 * but the lineage ones) must be there exactly once, the committed state must match the data, and the run rows must
 * show the failure (the killed run marked abandoned by the rerun) and the completion.
 *
 * The kill moment is uniform over 90% of the run's active span (from its log file appearing — the run is opening — to
 * its exit, as measured on step 0 and the reruns), drawn from a seeded generator: the seed is printed, and COINLAKE_FAULT_SEED=<seed>
 * replays the same kill points.
 */
import { spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Session } from '../../src/core/destination.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { ABANDONED_MESSAGE } from '../../src/runner/abandoned-runs.ts';
import { expect } from 'vitest';
import { recordTrial } from './fault-ledger.ts';

export const BIN = path.resolve('bin/coinlake.mjs');

/** Kill trials per case: COINLAKE_FAULT_TRIALS (`npm run test:faults` and `.ci/run` set 20), default 3. */
export function faultTrials(): number {
  const raw = process.env.COINLAKE_FAULT_TRIALS;
  if (raw === undefined || raw === '') return 3;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`COINLAKE_FAULT_TRIALS must be a positive whole number, got "${raw}"`);
  return n;
}

/** The seed of a fault file: COINLAKE_FAULT_SEED, else a random one. Printed so a failure can be replayed. */
export function faultSeed(label: string): number {
  const raw = process.env.COINLAKE_FAULT_SEED;
  const seed = raw ? Number(raw) >>> 0 : randomInt(2 ** 31);
  console.log(`${label}: seed ${seed} (replay with COINLAKE_FAULT_SEED=${seed})`);
  return seed;
}

/** mulberry32: a small, good-enough seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the run's log file appearing to the exit; undefined when no run opened. */
  activeMs?: number;
  /** ms after the run's log appeared at which SIGKILL was sent; undefined when not killed. */
  killedAtMs?: number;
}

function logFiles(dir: string): Set<string> {
  return new Set(existsSync(dir) ? readdirSync(dir) : []);
}

/**
 * Runs the CLI; with `killAfterMs`, sends SIGKILL that long after the run's log file appears in `<lake>/logs` (or
 * right away when the run never opens before the process would end: it is then simply not killed).
 */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { cwd: string; lake: string; killAfterMs?: number }): Promise<CliResult> {
  const logs = path.join(opts.lake, 'logs');
  const before = logFiles(logs);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...env, COINLAKE_LAKE: opts.lake }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  let openedAt: number | undefined;
  let killedAtMs: number | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  // The run's log file is created when the run opens (before its row): poll for it.
  const poll = setInterval(() => {
    if (openedAt !== undefined) return;
    for (const f of logFiles(logs)) {
      if (before.has(f)) continue;
      openedAt = Date.now();
      if (opts.killAfterMs !== undefined) {
        killTimer = setTimeout(() => {
          killedAtMs = Date.now() - openedAt!;
          child.kill('SIGKILL');
        }, opts.killAfterMs);
      }
      break;
    }
  }, 2);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  const exitedAt = Date.now();
  clearInterval(poll);
  if (killTimer) clearTimeout(killTimer);
  return {
    code,
    signal,
    stdout,
    stderr,
    activeMs: openedAt === undefined ? undefined : exitedAt - openedAt,
    killedAtMs: signal === 'SIGKILL' ? killedAtMs : undefined,
  };
}

/** Opens a warehouse for one look and closes it (a DuckDB file must be free again before the next CLI run). */
export async function withSession<T>(location: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openWarehouse(location);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Every data row of a table as canonical text (lineage columns left out), as a multiset, with count and checksum. */
export interface TableSnapshot {
  rows: Map<string, number>;
  count: number;
  checksum: string;
}

const LINEAGE = new Set(['_run_id', '_loaded_at']);

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  return value ?? null;
}

export async function snapshot(s: Session, table: string, timeColumn: string, bound: Date): Promise<TableSnapshot> {
  const columns = (
    await s.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'coinlake' AND table_name = $1 ORDER BY column_name`,
      [table],
    )
  )
    .map((c) => c.column_name)
    .filter((c) => !LINEAGE.has(c));
  if (columns.length === 0) return { rows: new Map(), count: 0, checksum: 'empty' };
  const list = columns.map((c) => s.dialect.ident(c)).join(', ');
  const data = await s.query<Record<string, unknown>>(`SELECT ${list} FROM coinlake.${s.dialect.ident(table)} WHERE ${s.dialect.ident(timeColumn)} < $1`, [bound]);
  const rows = new Map<string, number>();
  const texts: string[] = [];
  for (const r of data) {
    const text = JSON.stringify(columns.map((c) => canonical(r[c])));
    texts.push(text);
    rows.set(text, (rows.get(text) ?? 0) + 1);
  }
  texts.sort();
  const checksum = createHash('sha256').update(texts.join('\n')).digest('hex').slice(0, 16);
  return { rows, count: data.length, checksum };
}

/** Rows of `clean` missing from `got` (lost) and rows of `got` beyond `clean` (duplicated or spurious). */
export function difference(clean: TableSnapshot, got: TableSnapshot): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const [text, n] of clean.rows) lost += Math.max(0, n - (got.rows.get(text) ?? 0));
  for (const [text, n] of got.rows) duplicated += Math.max(0, n - (clean.rows.get(text) ?? 0));
  return { lost, duplicated };
}

export interface RunRowLite {
  process_id: number;
  execution_status: number;
  error_message: string | null;
}

export async function runRowsAfter(s: Session, processId: number): Promise<RunRowLite[]> {
  const rows = await s.query<RunRowLite>(
    `SELECT process_id, execution_status, error_message FROM coinlake_meta.workflow_action_history WHERE process_id > $1 ORDER BY process_id`,
    [processId],
  );
  return rows.map((r) => ({ process_id: Number(r.process_id), execution_status: Number(r.execution_status), error_message: r.error_message }));
}

async function lastProcessId(s: Session): Promise<number> {
  const [{ id }] = await s.query<{ id: number | null }>(`SELECT max(process_id) AS id FROM coinlake_meta.workflow_action_history`);
  return Number(id ?? 0);
}

/** Curated batches left under a temporary name (`curated/<table>/.tmp-*`): written, never published or removed. */
export function unpublishedCurated(lake: string): string[] {
  const curated = path.join(lake, 'curated');
  if (!existsSync(curated)) return [];
  const out: string[] = [];
  for (const table of readdirSync(curated)) {
    const dir = path.join(curated, table);
    for (const e of existsSync(dir) ? readdirSync(dir) : []) if (e.startsWith('.tmp-')) out.push(path.join(table, e));
  }
  return out;
}

/** One case: a sequence of steps on one warehouse, compared with a clean run of the whole range. */
export interface KillCase {
  suite: string;
  name: string;
  /** Target table (schema coinlake) and its time column. */
  table: string;
  timeColumn: string;
  /** CLI arguments of step i (0 runs cleanly); its rows are those with time < bound. */
  step(i: number): { args: string[]; bound: Date };
  /** CLI arguments that bring the clean warehouse from holding steps 0…from-1 to holding steps 0…to, in one run. */
  cleanArgs(from: number, to: number): string[];
  /** Warehouse locations (a DuckDB file or a postgres:// URL) and lake folders. */
  trial: { warehouse: string; lake: string };
  clean: { warehouse: string; lake: string };
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Problems of the committed state against the data (empty: consistent). `final`: after a completed run. */
  checkState?: (s: Session, bound: Date, final: boolean) => Promise<string[]>;
}

/** A case runs at most this many steps per landed kill wanted (a run that ends before its kill is a step too). */
export const MAX_STEPS_PER_KILL = 2;

/** What one step found. */
export interface TrialResult {
  /** The step (1, 2, …). */
  step: number;
  killed: boolean;
  killedAtMs?: number;
  rowsLost: number;
  rowsDuplicated: number;
  count: number;
  cleanCount: number;
  checksum: string;
  cleanChecksum: string;
  /** Problems found (empty when the step passed). */
  problems: string[];
  /** What the killed run's row says: 'abandoned' (-1, the message), 'complete' (the kill came after its commit), 'none'. */
  killedRow: 'abandoned' | 'complete' | 'none' | 'wrong';
}

function cliEnv(c: KillCase, warehouse: string): NodeJS.ProcessEnv {
  return { ...process.env, ...c.env, COINLAKE_WAREHOUSE: warehouse };
}

function failed(label: string, r: CliResult): string {
  return `${label} exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 3).join(' | ')}`;
}

/**
 * Runs the clean run, step 0, then steps with a SIGKILL at a random moment until `trials` kills landed (a run that
 * ends before its kill is checked as a plain run and recorded with 0 faults; at most MAX_STEPS_PER_KILL × trials
 * steps). A killed step is run again to completion. Every step is recorded in the fault ledger; returns what they
 * found (the caller asserts). The seed makes the kill points reproducible.
 */
export async function runKillTrials(c: KillCase, trials: number, seed: number): Promise<TrialResult[]> {
  const random = seededRandom(seed);
  let cleanSteps = trials;
  const clean = await runCli(c.cleanArgs(0, cleanSteps), cliEnv(c, c.clean.warehouse), { cwd: c.cwd, lake: c.clean.lake });
  if (clean.code !== 0) throw new Error(failed(`${c.name}: the clean run`, clean));
  const warm = c.step(0);
  const first = await runCli(warm.args, cliEnv(c, c.trial.warehouse), { cwd: c.cwd, lake: c.trial.lake });
  if (first.code !== 0) throw new Error(failed(`${c.name}: step 0`, first));
  // The active span of one step, kept up to date with every run that did a whole step: kills land uniformly over
  // (most of) it. Step 0 also creates the tables, so it overestimates at first.
  let span = Math.max(20, first.activeMs ?? 0);
  const results: TrialResult[] = [];
  let landed = 0;
  for (let step = 1; landed < trials && step <= MAX_STEPS_PER_KILL * trials; step++) {
    const { args, bound } = c.step(step);
    if (step > cleanSteps) {
      // More steps than planned (runs that ended before their kill): the clean warehouse catches up.
      const upTo = Math.min(MAX_STEPS_PER_KILL * trials, step + trials - landed);
      const more = await runCli(c.cleanArgs(cleanSteps + 1, upTo), cliEnv(c, c.clean.warehouse), { cwd: c.cwd, lake: c.clean.lake });
      if (more.code !== 0) throw new Error(failed(`${c.name}: the clean run's extension`, more));
      cleanSteps = upTo;
    }
    const problems: string[] = [];
    const before = await withSession(c.trial.warehouse, lastProcessId);
    const usedSpan = span;
    const killAfterMs = Math.floor(random() * usedSpan * 0.9);
    const killed = await runCli(args, cliEnv(c, c.trial.warehouse), { cwd: c.cwd, lake: c.trial.lake, killAfterMs });
    const wasKilled = killed.signal === 'SIGKILL';
    if (wasKilled) landed++;
    const completed = !wasKilled && killed.code === 0;
    if (!wasKilled && killed.code !== 0) problems.push(failed('the run to be killed', killed));
    if (completed && killed.activeMs !== undefined) span = Math.max(20, killed.activeMs);
    // Between the kill and the rerun: the committed state must describe the committed data.
    if (c.checkState) {
      const found = await withSession(c.trial.warehouse, (s) => c.checkState!(s, bound, completed));
      problems.push(...found.map((p) => `after the kill: ${p}`));
    }
    // The rerun (not needed when the run ended before its kill).
    const rerun = completed ? undefined : await runCli(args, cliEnv(c, c.trial.warehouse), { cwd: c.cwd, lake: c.trial.lake });
    if (rerun && rerun.code !== 0) problems.push(failed('the rerun', rerun));
    if (rerun && rerun.stderr !== '') problems.push(`the rerun wrote to stderr: ${rerun.stderr.trim()}`);
    const got = await withSession(c.trial.warehouse, async (s) => {
      const snap = await snapshot(s, c.table, c.timeColumn, bound);
      if (c.checkState && rerun) problems.push(...(await c.checkState(s, bound, true)).map((p) => `after the rerun: ${p}`));
      const rows = await runRowsAfter(s, before);
      const open = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake_meta.workflow_action_history WHERE execution_status = 0`);
      if (Number(open[0].n) !== 0) problems.push(`${Number(open[0].n)} run row(s) still at status 0 after the rerun`);
      return { snap, rows };
    });
    const reference = await withSession(c.clean.warehouse, (s) => snapshot(s, c.table, c.timeColumn, bound));
    const diff = difference(reference, got.snap);
    if (got.snap.count !== reference.count || got.snap.checksum !== reference.checksum) {
      problems.push(`table ${c.table} up to ${bound.toISOString()}: ${got.snap.count} rows, checksum ${got.snap.checksum}; clean run: ${reference.count} rows, checksum ${reference.checksum}`);
    }
    // Run rows of this step: the killed run (if it opened one), then the rerun, complete — or the one complete run.
    let killedRow: TrialResult['killedRow'] = 'none';
    const rows = got.rows;
    const last = rows.at(-1);
    if (!last || last.execution_status !== 1) problems.push(`the ${rerun ? 'rerun' : 'run'}'s row is not complete: ${JSON.stringify(last)}`);
    const earlier = rows.slice(0, -1);
    if (earlier.length > (rerun ? 1 : 0)) problems.push(`more run rows than the killed run and the rerun: ${JSON.stringify(rows)}`);
    if (rerun && earlier.length === 1) {
      const k = earlier[0];
      if (k.execution_status === -1 && k.error_message === ABANDONED_MESSAGE) killedRow = 'abandoned';
      else if (k.execution_status === 1) killedRow = 'complete';
      else {
        killedRow = 'wrong';
        problems.push(`the killed run's row says status ${k.execution_status}: ${k.error_message}`);
      }
    }
    if (rerun && killedRow !== 'complete' && rerun.code === 0 && rerun.activeMs !== undefined) span = Math.max(20, Math.round((span + rerun.activeMs) / 2));
    const leftovers = unpublishedCurated(c.trial.lake);
    if (leftovers.length) problems.push(`curated batches left under temporary names: ${leftovers.join(', ')}`);
    results.push({
      step,
      killed: wasKilled,
      killedAtMs: killed.killedAtMs,
      rowsLost: diff.lost,
      rowsDuplicated: diff.duplicated,
      count: got.snap.count,
      cleanCount: reference.count,
      checksum: got.snap.checksum,
      cleanChecksum: reference.checksum,
      problems,
      killedRow,
    });
    recordTrial({
      suite: c.suite,
      case: c.name,
      faults: wasKilled ? 1 : 0,
      rowsLost: diff.lost,
      rowsDuplicated: diff.duplicated,
      // A killed run that had opened its row must end up saying so (abandoned) — or have committed before the kill.
      clearError: killedRow === 'none' ? null : killedRow !== 'wrong',
    });
    console.log(
      `${c.name} step ${step} (kill ${landed}/${trials}): ${wasKilled ? `killed ${killed.killedAtMs} ms into the run (of ~${usedSpan})` : 'ended before the kill'}, ` +
        `killed run's row ${killedRow}; ${got.snap.count} rows (clean ${reference.count}), lost ${diff.lost}, duplicated ${diff.duplicated}` +
        (problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''),
    );
  }
  return results;
}

/**
 * The verdict on a case's steps: no problem in any step, nothing lost or duplicated, each table equal to the clean
 * run's (count and checksum), and `trials` kills landed while the run worked.
 */
export function expectTrialsClean(results: TrialResult[], trials: number, seed: number): void {
  const failures = results.filter((r) => r.problems.length || r.rowsLost || r.rowsDuplicated);
  expect(failures.map((r) => `step ${r.step} (seed ${seed}, killed at ${r.killedAtMs} ms): lost ${r.rowsLost}, duplicated ${r.rowsDuplicated}; ${r.problems.join('; ')}`)).toEqual([]);
  expect(results.filter((r) => r.killed).length, `kills that landed in ${results.length} steps (seed ${seed})`).toBe(trials);
  for (const r of results) expect({ step: r.step, count: r.count, checksum: r.checksum }).toEqual({ step: r.step, count: r.cleanCount, checksum: r.cleanChecksum });
}
