// Check `divergence` (candle tables of several venues): a venue's price stays more than `max_bps` from the cross-venue
// median for `minutes` or more consecutive candles — the same median and deviation as model fact_price_divergence.
import type { DivergenceCheck } from '../core/quality-check.ts';
import { durationMs } from '../core/duration.ts';
import { parseInstant } from '../core/time.ts';
import { col, num, type CheckContext, type CheckOutcome } from './check-context.ts';

/** A divergence check with its defaults filled in: time `ts`, price `close`, venue `exchange`, per `symbol`, `1m`, 1 candle. */
export function divergenceSettings(check: DivergenceCheck): Required<Pick<DivergenceCheck, 'column' | 'price' | 'venue' | 'partition_by' | 'interval' | 'minutes'>> {
  return {
    column: check.column ?? 'ts',
    price: check.price ?? 'close',
    venue: check.venue ?? 'exchange',
    partition_by: check.partition_by ?? ['symbol'],
    interval: check.interval ?? '1m',
    minutes: check.minutes ?? 1,
  };
}

/** The shown name, e.g. `divergence(close > 50 bps for 5 × 1m)`. */
export function divergenceName(check: DivergenceCheck): string {
  const o = divergenceSettings(check);
  return `divergence(${o.price} > ${check.max_bps} bps for ${o.minutes} × ${o.interval})`;
}

/** Columns the check reads. */
export function divergenceColumns(check: DivergenceCheck): string[] {
  const o = divergenceSettings(check);
  return [o.column, o.price, o.venue, ...o.partition_by];
}

/** How many episodes `observed.first` and the message name. */
const FIRST = 5;

/**
 * One SQL on both engines: the median per series and time (percentile_cont), each venue's deviation in bps, then the
 * runs of its candles beyond max_bps (gaps and islands: a new run where the previous such candle is not exactly one
 * interval before), kept when at least `minutes` long. Rows with a NULL time, price, venue or series value do not
 * count; a time with a median of 0 neither. Returns the number of episodes and the first 5 by start time.
 */
export async function checkDivergence(c: CheckContext, check: DivergenceCheck): Promise<CheckOutcome> {
  const o = divergenceSettings(check);
  const intervalMs = durationMs(o.interval)!;
  const series = o.partition_by.map((name, i) => ({ name, sql: col(c, name), alias: `p${i}` }));
  const [time, price, venue] = [col(c, o.column), col(c, o.price), col(c, o.venue)];
  const keys = series.map((p) => p.alias);
  const by = (prefix: string) => keys.map((k) => `${prefix}${k}, `).join('');
  const notNull = [time, price, venue, ...series.map((p) => p.sql)].map((x) => `${x} IS NOT NULL`).join(' AND ');
  const sql = `
    WITH base AS (
      SELECT ${series.map((p) => `${p.sql} AS ${p.alias}, `).join('')}${venue} AS venue, ${time} AS t, CAST(${price} AS DOUBLE PRECISION) AS px
        FROM ${c.target} WHERE ${c.scope} AND ${notNull}
    ), med AS (
      SELECT ${by('')}t, percentile_cont(0.5) WITHIN GROUP (ORDER BY px) AS median FROM base GROUP BY ${by('')}t
    ), dev AS (
      SELECT ${by('b.')}b.venue, b.t, (b.px - m.median) / m.median * 10000 AS bps
        FROM base b JOIN med m ON ${[...keys, 't'].map((k) => `m.${k} = b.${k}`).join(' AND ')}
       WHERE m.median <> 0
    ), beyond AS (
      SELECT ${by('')}venue, t, bps, EXTRACT(EPOCH FROM t) - EXTRACT(EPOCH FROM LAG(t) OVER (PARTITION BY ${by('')}venue ORDER BY t)) AS step
        FROM dev WHERE abs(bps) > CAST($1 AS DOUBLE PRECISION)
    ), runs AS (
      SELECT ${by('')}venue, t, bps,
             SUM(CASE WHEN CAST(step AS DOUBLE PRECISION) = CAST($2 AS DOUBLE PRECISION) THEN 0 ELSE 1 END)
               OVER (PARTITION BY ${by('')}venue ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
        FROM beyond
    ), episodes AS (
      SELECT ${by('')}venue, min(t) AS ep_from, max(t) AS ep_to, count(*) AS candles, max(abs(bps)) AS max_abs_bps
        FROM runs GROUP BY ${by('')}venue, run HAVING count(*) >= CAST($3 AS BIGINT)
    )
    SELECT ${by('')}venue, ep_from, ep_to, candles, max_abs_bps, COUNT(*) OVER () AS total
      FROM episodes ORDER BY ep_from, ${by('')}venue LIMIT ${FIRST}`;
  const rows = await c.s.query<Record<string, unknown>>(sql, [check.max_bps, intervalMs / 1000, o.minutes]);
  const failing = rows.length ? num(rows[0].total) : 0;
  const first = rows.map((r) => ({
    ...Object.fromEntries(series.map((p) => [p.name, r[p.alias]])),
    venue: r.venue,
    from: instant(r.ep_from),
    to: instant(r.ep_to),
    minutes: (num(r.candles) * intervalMs) / 60_000,
    max_abs_bps: Math.round(num(r.max_abs_bps) * 10) / 10,
  }));
  const span = `${(o.minutes * intervalMs) / 60_000} minute(s)`;
  if (failing === 0) {
    return { passed: true, failing: 0, observed: { episodes: 0 }, message: `no ${o.venue} more than ${check.max_bps} bps from the median ${o.price} for ≥ ${span}` };
  }
  const listed = first.map((e, i) => {
    const of = series.map((p) => String(rows[i][p.alias])).join(' ');
    return `${String(e.venue)} ${of} ${timeRange(e.from, e.to)} (${e.minutes} min, max ${e.max_abs_bps} bps)`;
  });
  const more = failing > first.length ? `, and ${failing - first.length} more` : '';
  return {
    passed: false,
    failing,
    observed: { episodes: failing, first },
    message: `${failing} episode(s) above ${check.max_bps} bps for ≥ ${span}: ${listed.join(', ')}${more}`,
  };
}

/** ISO text of a time as either engine returns it. */
function instant(v: unknown): string {
  return parseInstant(v instanceof Date ? v : String(v)).toISOString();
}

/** `2024-03-01 10:05–10:11` (UTC; the second date only when it differs; seconds only when not 0). */
function timeRange(from: string, to: string): string {
  const short = (iso: string) => iso.slice(0, iso.endsWith(':00.000Z') ? 16 : 19).replace('T', ' ');
  const [a, b] = [short(from), short(to)];
  return `${a}–${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b}`;
}
