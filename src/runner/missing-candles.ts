// The missing candles of a candle table (`coinlake repair`): per (exchange, symbol) series, the grid points between
// its first and last row that hold no row and are not remembered as known missing (coinlake_meta.candle_known_missing,
// times the venue was asked for and answered without a candle). Found as ranges, in portable SQL (a window over the
// series' times), so a gap of a day is one range, not 1,440 rows.
import { candleCount, intervalMs, nextOpenTime, openTimeAtOrAfter, type CandleInterval } from '../core/candle-interval.ts';
import type { Session } from '../core/destination.ts';
import type { TableSpec } from '../core/table.ts';
import { META_SCHEMA } from '../catalog/meta-tables.ts';

/** Which series of the table to look at. */
export interface SeriesFilter {
  exchange?: string;
  /** Canonical `BASE-QUOTE` symbols. */
  symbols?: string[];
  /** Only grid points at or after this instant. */
  since?: Date;
}

/** A run of consecutive missing grid points of one series: [start, end), `count` points. */
export interface MissingRange {
  exchange: string;
  symbol: string;
  /** Open time of the first missing candle, ms. */
  start: number;
  /** Open time of the next present (or known missing) candle, ms: the range's exclusive end. */
  end: number;
  count: number;
}

/** The known-missing table. */
export const KNOWN_MISSING_TABLE = `${META_SCHEMA}.candle_known_missing`;

/** A series' time of the known-missing table. */
export interface KnownMissing {
  exchange: string;
  symbol: string;
  ts: number;
}

/** `AND exchange = $n AND symbol IN (…)` for the filter, with its parameters numbered after `first - 1`. */
function seriesWhere(s: Session, f: SeriesFilter, first: number): { sql: string; params: unknown[] } {
  const d = s.dialect;
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.exchange !== undefined) {
    params.push(f.exchange);
    parts.push(`${d.ident('exchange')} = ${d.param(first + params.length - 1)}`);
  }
  if (f.symbols?.length) {
    const marks = f.symbols.map((sym) => {
      params.push(sym);
      return d.param(first + params.length - 1);
    });
    parts.push(`${d.ident('symbol')} IN (${marks.join(', ')})`);
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/** The (exchange, symbol) series of the table that match the filter, sorted. */
export async function candleSeries(s: Session, t: TableSpec, f: SeriesFilter): Promise<{ exchange: string; symbol: string }[]> {
  const d = s.dialect;
  const where = seriesWhere(s, f, 1);
  return s.query<{ exchange: string; symbol: string }>(
    `SELECT DISTINCT ${d.ident('exchange')} AS exchange, ${d.ident('symbol')} AS symbol FROM ${d.table(t.schema, t.name)} WHERE 1 = 1${where.sql} ORDER BY exchange, symbol`,
    where.params,
  );
}

/**
 * The missing ranges of every series matching `f` inside its loaded range (first row to last row), known-missing
 * times counted as present; with `since`, only the part at or after it. Sorted by start, then exchange and symbol.
 */
export async function missingRanges(s: Session, t: TableSpec, interval: CandleInterval, f: SeriesFilter): Promise<MissingRange[]> {
  const d = s.dialect;
  const [ex, sym, ts] = ['exchange', 'symbol', 'ts'].map((c) => d.ident(c));
  // A step longer than the shortest candle of the interval (a month may have 28 days) may hide a missing grid point.
  // Compared as timestamps (an interval literal of whole seconds: both engines read it, and it is cheaper than epochs).
  const minStepSeconds = (interval === '1M' ? 28 * 86_400_000 : intervalMs(interval)) / 1000;
  const rows = seriesWhere(s, f, 2);
  const known = seriesWhere(s, f, 2 + rows.params.length);
  const params: unknown[] = [t.name, ...rows.params, ...known.params];
  let since = '';
  if (f.since) {
    params.push(f.since);
    since = ` AND gap_before > ${d.param(params.length)}`;
  }
  const points = `SELECT ${ex} AS exchange, ${sym} AS symbol, ${ts} AS ts FROM ${d.table(t.schema, t.name)} WHERE 1 = 1${rows.sql}
                  UNION ALL
                  SELECT ${ex}, ${sym}, ${ts} FROM ${KNOWN_MISSING_TABLE} WHERE table_name = $1${known.sql}`;
  const steps = `SELECT exchange, symbol, ts AS gap_after, LEAD(ts) OVER (PARTITION BY exchange, symbol ORDER BY ts) AS gap_before FROM (${points}) AS pts`;
  const found = await s.query<{ exchange: string; symbol: string; gap_after: Date; gap_before: Date }>(
    `SELECT exchange, symbol, gap_after, gap_before FROM (${steps}) AS steps
      WHERE gap_before IS NOT NULL
        AND gap_before > gap_after + INTERVAL '${minStepSeconds} seconds'${since}
      ORDER BY gap_after, exchange, symbol`,
    params,
  );
  const out: MissingRange[] = [];
  for (const r of found) {
    const from = Math.max(r.gap_after.getTime() + 1, f.since?.getTime() ?? -Infinity);
    const start = openTimeAtOrAfter(from, interval);
    const end = r.gap_before.getTime();
    const count = candleCount(start, end, interval);
    if (count > 0) out.push({ exchange: r.exchange, symbol: r.symbol, start, end, count });
  }
  return out;
}

/** Known-missing times of the table's series matching `f` (at or after `since`). */
export async function knownMissingCount(s: Session, t: TableSpec, f: SeriesFilter): Promise<number> {
  const where = seriesWhere(s, f, 2);
  const params: unknown[] = [t.name, ...where.params];
  let since = '';
  if (f.since) {
    params.push(f.since);
    since = ` AND ${s.dialect.ident('ts')} >= ${s.dialect.param(params.length)}`;
  }
  const [row] = await s.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${KNOWN_MISSING_TABLE} WHERE table_name = $1${where.sql}${since}`, params);
  return Number(row?.n ?? 0);
}

/**
 * Remembers candle times the venue answered without a candle; times already remembered keep their first sighting.
 * Call inside the transaction that loads the repaired rows.
 */
export async function recordKnownMissing(s: Session, t: TableSpec, missing: KnownMissing[], runId: string, seen: Date): Promise<void> {
  const d = s.dialect;
  const per = 500;
  for (let i = 0; i < missing.length; i += per) {
    const part = missing.slice(i, i + per);
    const params: unknown[] = [t.name, seen, runId];
    const values = part.map((m) => {
      params.push(m.exchange, m.symbol, new Date(m.ts));
      const n = params.length;
      return `(CAST(${d.param(n - 2)} AS VARCHAR), CAST(${d.param(n - 1)} AS VARCHAR), CAST(${d.param(n)} AS TIMESTAMPTZ))`;
    });
    await s.exec(
      `INSERT INTO ${KNOWN_MISSING_TABLE} (table_name, exchange, symbol, ts, first_seen, run_id)
       SELECT CAST($1 AS VARCHAR), v.exchange, v.symbol, v.ts, CAST($2 AS TIMESTAMPTZ), CAST($3 AS VARCHAR) FROM (VALUES ${values.join(', ')}) AS v(exchange, symbol, ts)
        WHERE NOT EXISTS (SELECT 1 FROM ${KNOWN_MISSING_TABLE} k
                           WHERE k.table_name = CAST($1 AS VARCHAR) AND k.exchange = v.exchange AND k.symbol = v.symbol AND k.ts = v.ts)`,
      params,
    );
  }
}

/** The grid points of [start, end), in order. */
export function gridPoints(start: number, end: number, interval: CandleInterval): number[] {
  const out: number[] = [];
  for (let t = openTimeAtOrAfter(start, interval); t < end; t = nextOpenTime(t, interval)) out.push(t);
  return out;
}
