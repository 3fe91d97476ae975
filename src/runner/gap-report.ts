// Missing candles of a series: how many grid points a time range should hold versus how many rows the table has.
// Reported in the run row of a backfill or an import.
import { candleCount, type CandleInterval } from '../core/candle-interval.ts';
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';

/** One series' completeness over [from, to). */
export interface GapReport {
  /** The series' identifying values, e.g. { exchange: 'binance', symbol: 'BTC-USDT' }. */
  series: Record<string, string>;
  interval: CandleInterval;
  /** ISO instants of the range, `to` exclusive. */
  from: string;
  to: string;
  expected: number;
  present: number;
  missing: number;
}

/**
 * Counts the rows of `t` matching `filter` with `timeColumn` in [from, to) and compares them with the grid points of
 * `interval` in that range. Rows off the grid count as present, so `missing` is a lower bound for them.
 */
export async function gapReport(
  s: Session,
  t: TableSpec,
  spec: { filter: Record<string, string>; timeColumn: string; interval: CandleInterval },
  from: Date,
  to: Date,
): Promise<GapReport> {
  const d = s.dialect;
  const entries = Object.entries(spec.filter);
  const where = entries.map(([column], i) => `${d.ident(column)} = ${d.param(i + 1)}`);
  const time = d.ident(spec.timeColumn);
  where.push(`${time} >= ${d.param(entries.length + 1)}`, `${time} < ${d.param(entries.length + 2)}`);
  const [row] = await s.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM ${d.table(t.schema, t.name)} WHERE ${where.join(' AND ')}`,
    [...entries.map(([, v]) => v), from, to],
  );
  const expected = candleCount(from.getTime(), to.getTime(), spec.interval);
  const present = Number(row?.n ?? 0);
  return {
    series: spec.filter,
    interval: spec.interval,
    from: from.toISOString(),
    to: to.toISOString(),
    expected,
    present,
    missing: Math.max(0, expected - present),
  };
}

/** One line per series: `binance BTC-USDT 1m: 1,440 expected, 1,410 present, 30 missing`. */
export function gapLine(g: GapReport): string {
  const n = (v: number) => v.toLocaleString('en-US');
  return `${Object.values(g.series).join(' ')} ${g.interval}: ${n(g.expected)} expected, ${n(g.present)} present, ${n(g.missing)} missing`;
}
