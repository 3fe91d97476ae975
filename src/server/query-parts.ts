// Pieces every dashboard query shares: how warehouse values become JSON (epoch seconds for series, ISO text for
// times), positional placeholders, time-range filters, and thinning of long series.

/** Epoch seconds of a Date (the time axis of every series). */
export const sec = (d: Date): number => Math.round(d.getTime()) / 1000;
/** A timestamp as ISO-8601 text (null stays null). */
export const iso = (d: unknown): string | null => (d instanceof Date ? d.toISOString() : d == null ? null : String(d));
/** A number (null stays null; bigints and decimals as JS numbers). */
export const num = (v: unknown): number | null => (v == null ? null : Number(v));
/** `$start, $start+1, …` for n values. */
export const placeholders = (start: number, n: number): string => Array.from({ length: n }, (_, i) => `$${start + i}`).join(', ');

/** Most points a series carries; longer ones are thinned evenly (first and last kept). */
export const MAX_SERIES_POINTS = 4000;

/** Keeps at most `max` evenly spaced indexes of n (always the first and the last). */
export function strideIndexes(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < max; k++) out.push(Math.round((k * (n - 1)) / (max - 1)));
  return out;
}

/** A time range of a request; both ends optional. */
export interface TimeRange {
  from?: Date;
  to?: Date;
}

/** Appends `AND <column> >= $n` / `< $m` for the ends the range has, pushing their values onto params. */
export function rangeSql(column: string, range: TimeRange, params: unknown[]): string {
  let sql = '';
  if (range.from) {
    params.push(range.from);
    sql += ` AND ${column} >= $${params.length}`;
  }
  if (range.to) {
    params.push(range.to);
    sql += ` AND ${column} < $${params.length}`;
  }
  return sql;
}

/** Why a part has nothing to show. */
export interface Unavailable {
  available: false;
  reason: string;
}
