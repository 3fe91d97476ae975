// Path layout of the lake, and the guard that keeps every path inside the lake root.
import path from 'node:path';
import { TerminalError } from '../core/errors.ts';
import { assertIdentifier } from '../core/table.ts';

/** UTC calendar date of an instant as YYYY-MM-DD (the `dt=` partition). */
export function utcDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

const SEGMENT = /^[A-Za-z0-9_.=-]+$/;

/** Joins segments under root and refuses anything that would leave it (`..`, absolute parts, odd characters). */
export function confined(root: string, ...segments: string[]): string {
  for (const s of segments) {
    if (!SEGMENT.test(s) || s === '.' || s === '..' || s.includes('..')) {
      throw new TerminalError(`lake path segment "${s}" is not allowed (letters, digits, _ . = - only, no "..")`);
    }
  }
  const full = path.resolve(root, ...segments);
  const base = path.resolve(root);
  if (full !== base && !full.startsWith(base + path.sep)) {
    throw new TerminalError(`lake path ${full} is outside the lake root ${base}`);
  }
  return full;
}

/** `raw/<source>/<stream>/dt=YYYY-MM-DD/<run_id>-<page>.json.gz` relative to the lake root. */
export function rawPagePath(source: string, stream: string, day: Date, runId: string, page: number): string[] {
  return ['raw', source, stream, `dt=${utcDate(day)}`, `${runId}-${String(page).padStart(5, '0')}.json.gz`];
}

/** `curated/<table>/dt=YYYY-MM-DD/<run_id>.parquet` relative to the lake root. */
export function curatedPath(table: string, day: string, runId: string): string[] {
  assertIdentifier(table, 'table name');
  return ['curated', table, `dt=${day}`, `${runId}.parquet`];
}

/** `quarantine/<table>/<run_id>.jsonl` relative to the lake root. */
export function quarantinePath(table: string, runId: string): string[] {
  assertIdentifier(table, 'table name');
  return ['quarantine', table, `${runId}.jsonl`];
}

/** `logs/<run_id>.log` relative to the lake root. */
export function logPath(runId: string): string[] {
  return ['logs', `${runId}.log`];
}
