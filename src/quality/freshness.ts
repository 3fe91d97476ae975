// Check `freshness`: the latest value of a timestamp or date column is at most `max_age` old.
import type { FreshnessCheck } from '../core/quality-check.ts';
import { durationMs } from '../core/duration.ts';
import { parseInstant } from '../core/time.ts';
import { col, type CheckContext, type CheckOutcome } from './check-context.ts';

/** Reads MAX(column) and compares its age at `now` with max_age; an empty table is stale. */
export async function checkFreshness(c: CheckContext, check: FreshnessCheck): Promise<CheckOutcome> {
  const maxAgeMs = durationMs(check.max_age)!;
  const [row] = await c.s.query<{ latest: Date | string | null }>(`SELECT MAX(${col(c, check.column)}) AS latest FROM ${c.target} WHERE ${c.scope}`);
  if (row.latest === null || row.latest === undefined) {
    return { passed: false, failing: null, observed: { latest: null }, message: `no ${check.column} at all (the table is empty)` };
  }
  const latest = parseInstant(row.latest instanceof Date ? row.latest : String(row.latest));
  const ageMs = c.now.getTime() - latest.getTime();
  const passed = ageMs <= maxAgeMs;
  return {
    passed,
    failing: null,
    observed: { latest: latest.toISOString(), age_seconds: ageMs / 1000, max_age_seconds: maxAgeMs / 1000 },
    message: `latest ${check.column} ${latest.toISOString()} is ${ageText(ageMs)} old (${passed ? 'within' : 'more than'} ${check.max_age})`,
  };
}

function ageText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 120) return `${s}s`;
  if (Math.abs(s) < 7200) return `${Math.round(s / 60)}m`;
  if (Math.abs(s) < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}
