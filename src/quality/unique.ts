// Check `unique`: no two rows (current versions, for scd2) share the values of the columns, by default the key.
import type { UniqueCheck } from '../core/quality-check.ts';
import { col, num, type CheckContext, type CheckOutcome } from './check-context.ts';

/** The columns a unique check covers: its own, or the table's primary key. */
export function uniqueColumns(c: Pick<CheckContext, 't'>, check: UniqueCheck): string[] {
  return check.columns ?? c.t.primaryKey;
}

/** Counts the duplicated values (and the rows holding them); names up to 5 of them, most repeated first. */
export async function checkUnique(c: CheckContext, check: UniqueCheck): Promise<CheckOutcome> {
  const columns = uniqueColumns(c, check);
  const cols = columns.map((name) => col(c, name)).join(', ');
  const groups = `SELECT ${cols}, COUNT(*) AS n FROM ${c.target} WHERE ${c.scope} GROUP BY ${cols} HAVING COUNT(*) > 1`;
  const [row] = await c.s.query<{ keys: unknown; rows: unknown }>(`SELECT COUNT(*) AS keys, SUM(n) AS rows FROM (${groups}) AS dup`);
  const failing = num(row.keys);
  const observed: Record<string, unknown> = { duplicate_values: failing, rows: num(row.rows) };
  if (failing > 0) {
    const examples = await c.s.query<Record<string, unknown>>(`${groups} ORDER BY n DESC, ${cols} LIMIT 5`);
    observed.examples = examples.map((e) => ({ ...e, n: num(e.n) }));
  }
  return {
    passed: failing === 0,
    failing,
    observed,
    message: failing === 0 ? `${columns.join(', ')} unique` : `${failing} value(s) of ${columns.join(', ')} occur more than once (${num(row.rows)} rows)`,
  };
}
