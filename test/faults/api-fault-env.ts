// Shared by the API fault tests: trial count and seeded randomness, fresh warehouses per trial, and the comparison of a
// table with a clean run's (rows lost, rows held twice).
import path from 'node:path';
import type { Session } from '../../src/core/destination.ts';
import type { Job } from '../../src/core/job.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import type { RecordedRequest, ReplayServer } from '../../src/replay/index.ts';

/** Trials per case: COINLAKE_FAULT_TRIALS (CI sets 20), default 3 so `npm test` stays fast. */
export const TRIALS = Math.max(1, Number(process.env.COINLAKE_FAULT_TRIALS ?? 3));

/** mulberry32: a small seeded generator, so a failing trial can be replayed with COINLAKE_FAULT_SEED. */
export function seededRandom(
  label: string,
  /** Seed when COINLAKE_FAULT_SEED is not set; default a random one. */
  defaultSeed?: number,
): { seed: number; random: () => number; pick<T>(items: readonly T[]): T; between(min: number, max: number): number } {
  const seed = Number(process.env.COINLAKE_FAULT_SEED ?? defaultSeed ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${label}: seed ${seed} (COINLAKE_FAULT_SEED=${seed} replays it), ${TRIALS} trial(s) per case`);
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    random,
    pick: (items) => items[Math.floor(random() * items.length)],
    between: (min, max) => min + Math.floor(random() * (max - min + 1)),
  };
}

/** Rows of a job's table as JSON text of every non-volatile data column, counted (empty when there is no table). */
export async function tableRows(s: Session, job: Job): Promise<Map<string, number>> {
  const t = job.table;
  const exists = await s.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [t.schema, t.name]);
  const out = new Map<string, number>();
  if (Number(exists[0].n) === 0) return out;
  const cols = t.columns.filter((c) => !c.volatile).map((c) => s.dialect.ident(c.name));
  for (const row of await s.query<Record<string, unknown>>(`SELECT ${cols.join(', ')} FROM ${s.dialect.table(t.schema, t.name)}`)) {
    const text = JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    out.set(text, (out.get(text) ?? 0) + 1);
  }
  return out;
}

/** Rows `expected` has that `got` lacks (lost), and rows `got` holds beyond `expected` (duplicated or foreign). */
export function compareRows(expected: Map<string, number>, got: Map<string, number>): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const [row, n] of expected) lost += Math.max(0, n - (got.get(row) ?? 0));
  for (const [row, n] of got) duplicated += Math.max(0, n - (expected.get(row) ?? 0));
  return { lost, duplicated };
}

/** `rows` with `change` applied to every row (parsed), e.g. the NULLs a drifted page leaves. */
export function mapRows(rows: Map<string, number>, change: (row: Record<string, unknown>) => void): Map<string, number> {
  const out = new Map<string, number>();
  for (const [text, n] of rows) {
    const row = JSON.parse(text) as Record<string, unknown>;
    change(row);
    const changed = JSON.stringify(row);
    out.set(changed, (out.get(changed) ?? 0) + n);
  }
  return out;
}

/** A DuckDB warehouse and a lake of their own, for one trial. */
export interface TrialWarehouse {
  session: Session;
  lake: LocalLake;
  close(): Promise<void>;
}

let opened = 0;
export async function trialWarehouse(dir: string): Promise<TrialWarehouse> {
  const n = ++opened;
  const session = await openWarehouse(path.join(dir, `trial-${n}.duckdb`));
  return { session, lake: new LocalLake(path.join(dir, `lake-${n}`)), close: () => session.close() };
}

/** The full URL of a recorded request, as the client sent it (and as errors name it). */
export function requestUrl(replay: ReplayServer, r: RecordedRequest): string {
  return `${replay.url}${r.path}${Object.keys(r.query).length ? `?${new URLSearchParams(r.query).toString()}` : ''}`;
}

/** The run row of a process. */
export async function runRow(s: Session, processId: number) {
  const [row] = await s.query<{ execution_status: number; error_message: string | null; rows_extracted: number; rows_loaded: number; rows_quarantined: number; details: string | null }>(
    `SELECT execution_status, error_message, rows_extracted, rows_loaded, rows_quarantined, details FROM coinlake_meta.workflow_action_history WHERE process_id = $1`,
    [processId],
  );
  return row;
}
