// What every quality check is given and gives back; one check type per file beside this one, run by run-checks.ts.
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';

/** The table a check looks at. */
export interface CheckContext {
  s: Session;
  t: TableSpec;
  /** The table, quoted. */
  target: string;
  /** Predicate on the rows that count: `TRUE`, or the current versions of an scd2 table. */
  scope: string;
  /** The load time (after a run) or the time of `coinlake check`: what freshness is measured against. */
  now: Date;
}

/** What one check found. `failing` counts offending rows or keys, or is null where rows are not the measure. */
export interface CheckOutcome {
  passed: boolean;
  failing: number | null;
  /** Figures behind the verdict, stored as JSON in quality_result.observed. */
  observed: Record<string, unknown>;
  /** One line for people, e.g. `3 row(s) with price_usd outside > 0`. */
  message: string;
}

/** A quoted column of the context's table. */
export function col(c: CheckContext, name: string): string {
  return c.s.dialect.ident(name);
}

/** Numbers of a result row: engines return counts and sums as number, bigint text or null. */
export function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}
