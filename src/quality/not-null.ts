// Check `not_null`: no NULL in any of the listed columns.
import type { NotNullCheck } from '../core/quality-check.ts';
import { col, num, type CheckContext, type CheckOutcome } from './check-context.ts';

/** Counts the rows with a NULL in any listed column, and the NULLs per column. */
export async function checkNotNull(c: CheckContext, check: NotNullCheck): Promise<CheckOutcome> {
  const perColumn = check.columns.map((name, i) => `SUM(CASE WHEN ${col(c, name)} IS NULL THEN 1 ELSE 0 END) AS n${i}`);
  const anyNull = check.columns.map((name) => `${col(c, name)} IS NULL`).join(' OR ');
  const [row] = await c.s.query<Record<string, unknown>>(
    `SELECT COUNT(*) AS failing, ${perColumn.join(', ')} FROM ${c.target} WHERE ${c.scope} AND (${anyNull})`,
  );
  const failing = num(row.failing);
  const nulls = Object.fromEntries(check.columns.map((name, i) => [name, num(row[`n${i}`])]));
  const which = check.columns.filter((name) => nulls[name] > 0).map((name) => `${name} ${nulls[name]}`);
  return {
    passed: failing === 0,
    failing,
    observed: { nulls },
    message: failing === 0 ? `no NULL in ${check.columns.join(', ')}` : `${failing} row(s) with a NULL (${which.join(', ')})`,
  };
}
