// Check `candle_gaps` (OHLCV): within each series (`partition_by`), consecutive candle times are `interval` apart.
import type { CandleGapsCheck } from '../core/quality-check.ts';
import { durationMs } from '../core/duration.ts';
import { col, num, type CheckContext, type CheckOutcome } from './check-context.ts';

/**
 * Finds the steps between consecutive candles longer than the interval (LEAD over the time column, in epoch seconds,
 * which both engines extract the same way); counts them and the candles missing in them; names the first 5 gaps.
 */
export async function checkCandleGaps(c: CheckContext, check: CandleGapsCheck): Promise<CheckOutcome> {
  const seconds = durationMs(check.interval)! / 1000;
  const time = col(c, check.column);
  const series = (check.partition_by ?? []).map((name) => col(c, name));
  const over = `OVER (${series.length ? `PARTITION BY ${series.join(', ')} ` : ''}ORDER BY ${time})`;
  const steps = `SELECT ${[...series, `${time} AS gap_from`, `LEAD(${time}) ${over} AS gap_to`].join(', ')},
                        EXTRACT(EPOCH FROM LEAD(${time}) ${over}) - EXTRACT(EPOCH FROM ${time}) AS step
                   FROM ${c.target} WHERE ${c.scope} AND ${time} IS NOT NULL`;
  const gaps = `SELECT * FROM (${steps}) AS w WHERE step > CAST($1 AS DOUBLE PRECISION)`;
  const [row] = await c.s.query<{ gaps: unknown; missing: unknown }>(
    `SELECT COUNT(*) AS gaps, SUM(ROUND(CAST(step AS DOUBLE PRECISION) / CAST($1 AS DOUBLE PRECISION)) - 1) AS missing FROM (${gaps}) AS g`,
    [seconds],
  );
  const failing = num(row.gaps);
  const missing = num(row.missing);
  const observed: Record<string, unknown> = { gaps: failing, missing_candles: missing };
  if (failing > 0) {
    const names = (check.partition_by ?? []).map((name) => col(c, name));
    const first = await c.s.query<Record<string, unknown>>(
      `SELECT ${[...names, 'gap_from', 'gap_to'].join(', ')} FROM (${gaps}) AS g ORDER BY gap_from${names.length ? `, ${names.join(', ')}` : ''} LIMIT 5`,
      [seconds],
    );
    observed.first = first;
  }
  return {
    passed: failing === 0,
    failing,
    observed,
    message: failing === 0 ? `no gap longer than ${check.interval} in ${check.column}` : `${failing} gap(s), ${missing} missing ${check.interval} candle(s)`,
  };
}
