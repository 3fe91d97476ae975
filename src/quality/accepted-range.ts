// Check `accepted_range`: every non-NULL value of a column lies within the bounds (gt / gte / lt / lte).
import type { AcceptedRangeCheck } from '../core/quality-check.ts';
import { col, num, type CheckContext, type CheckOutcome } from './check-context.ts';

const OPS = [
  ['gt', '>'],
  ['gte', '>='],
  ['lt', '<'],
  ['lte', '<='],
] as const;

/** The bounds as text, e.g. `price_usd > 0 and price_usd <= 1000000`. */
export function rangeText(check: AcceptedRangeCheck): string {
  return OPS.filter(([k]) => check[k] !== undefined)
    .map(([k, op]) => `${check.column} ${op} ${check[k]}`)
    .join(' and ');
}

/** Counts the non-NULL values outside the bounds; observes the column's minimum and maximum. */
export async function checkAcceptedRange(c: CheckContext, check: AcceptedRangeCheck): Promise<CheckOutcome> {
  const x = col(c, check.column);
  const params: number[] = [];
  const inside = OPS.filter(([k]) => check[k] !== undefined)
    .map(([k, op]) => {
      params.push(check[k] as number);
      return `${x} ${op} CAST($${params.length} AS DOUBLE PRECISION)`;
    })
    .join(' AND ');
  const [row] = await c.s.query<{ failing: unknown; min: unknown; max: unknown }>(
    `SELECT SUM(CASE WHEN ${x} IS NOT NULL AND NOT (${inside}) THEN 1 ELSE 0 END) AS failing, MIN(${x}) AS min, MAX(${x}) AS max
       FROM ${c.target} WHERE ${c.scope}`,
    params,
  );
  const failing = num(row.failing);
  return {
    passed: failing === 0,
    failing,
    observed: { min: row.min, max: row.max },
    message: failing === 0 ? `every ${check.column} within ${rangeText(check)}` : `${failing} row(s) outside ${rangeText(check)} (min ${row.min}, max ${row.max})`,
  };
}
