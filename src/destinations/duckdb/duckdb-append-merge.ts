// Merge for bulk loads the engine appends itself (DuckDB reading a multi-GB file straight into the target: no rows
// through JS, no second copy in a staging table). The rows go in with their lineage — run id and load time, which
// tell this batch apart — and this settles them against the rows already there, in the same transaction, with the
// outcome of write mode `merge`: one row per key, unchanged keys keep their old row and lineage, changed keys take
// the new row. When the batch touched no existing key and repeated none (a fresh range, the common case) it costs
// a few aggregate queries. DuckDB's (uses `rowid`); change events are not written (a multi-million-row import would
// write one per row).
import type { AppendedBatch, AppendedSeries, AppendedShape, AppendMergeOptions, AppendMergeResult } from '../../core/append-merge.ts';
import type { Session } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import type { TableSpec } from '../../core/table.ts';

/** Largest bitmap (bits) used to count distinct grid points; wider ranges count with a hash table. */
const MAX_BITMAP = 200_000_000;

/** Lineage test of the batch's rows ($1 run id, $2 load time), optionally on a table alias. */
function batchRows(s: Session, a?: string): string {
  const p = a ? `${a}.` : '';
  return `(${p}${s.dialect.ident('_run_id')} = $1 AND ${p}${s.dialect.ident('_loaded_at')} = $2)`;
}

function partitionColumn(t: TableSpec): string {
  const time = t.partitionBy;
  if (!time || !t.primaryKey.includes(time)) {
    throw new ConfigError(`bulk merge into ${t.schema}.${t.name} needs its partition column in the primary key`);
  }
  return time;
}

/**
 * Describes the rows of `batch` in `t` (appended by the caller in this transaction): per series its rows, distinct
 * times, first and last time; whether a key repeats; how many other rows share the series' time ranges. When
 * nothing repeats and nothing overlaps, settling would change no row (a fresh range).
 */
export async function describeAppended(s: Session, t: TableSpec, batch: AppendedBatch, opts: AppendMergeOptions = {}): Promise<AppendedShape> {
  const d = s.dialect;
  const time = partitionColumn(t);
  const target = d.table(t.schema, t.name);
  const seriesCols = t.primaryKey.filter((k) => k !== time);
  const q = (c: string) => d.ident(c);
  const tm = q(time);
  const mine = () => batchRows(s);
  const others = () => `NOT ${batchRows(s)}`;
  const lineage = [batch.runId, batch.loadedAt];
  const group = seriesCols.map(q).join(', ');
  const step = opts.gridMicros;
  const bitmap = (lo: number, hi: number) => `bit_count(bitstring_agg(CAST((epoch_us(${tm}) - ${lo}) // ${step} AS BIGINT), 0, ${Math.floor((hi - lo) / step!)}))`;
  const bounds = step && opts.timeBounds && (opts.timeBounds.hiUs - opts.timeBounds.loUs) / step < MAX_BITMAP ? opts.timeBounds : undefined;
  const stats = await s.query<Record<string, unknown> & { n: number; first_t: Date; last_t: Date; lo: number; hi: number; d?: number }>(
    `SELECT ${group ? `${group}, ` : ''}count(*) AS n, min(${tm}) AS first_t, max(${tm}) AS last_t, min(epoch_us(${tm})) AS lo, max(epoch_us(${tm})) AS hi
            ${bounds ? `, ${bitmap(bounds.loUs, bounds.hiUs)} AS d` : ''}
       FROM ${target} WHERE ${mine()} ${group ? `GROUP BY ${group}` : ''}`,
    lineage,
  );
  const series: AppendedSeries[] = [];
  for (const r of stats) {
    if (Number(r.n) === 0) continue;
    const values = Object.fromEntries(seriesCols.map((c) => [c, String(r[c])]));
    let distinct = r.d;
    if (distinct === undefined) {
      const where = [mine(), ...seriesCols.map((c, i) => `${q(c)} = $${i + 3}`)].join(' AND ');
      const params = [...lineage, ...seriesCols.map((c) => values[c])];
      const span = step ? (Number(r.hi) - Number(r.lo)) / step : Infinity;
      const distinctSql = step && span < MAX_BITMAP ? bitmap(Number(r.lo), Number(r.hi)) : `count(DISTINCT ${tm})`;
      [{ d: distinct }] = await s.query<{ d: number }>(`SELECT ${distinctSql} AS d FROM ${target} WHERE ${where}`, params);
    }
    series.push({ series: values, rows: Number(r.n), distinct: Number(distinct), first: r.first_t, last: r.last_t });
  }
  const repeatedKeys = series.some((x) => x.distinct < x.rows);
  let overlap = 0;
  for (const x of series) {
    const where = seriesCols.map((c, i) => `${q(c)} = $${i + 3}`);
    const [row] = await s.query<{ n: number }>(
      `SELECT count(*) AS n FROM ${target}
        WHERE ${others()} ${where.length ? `AND ${where.join(' AND ')}` : ''}
          AND ${tm} >= $${seriesCols.length + 3} AND ${tm} <= $${seriesCols.length + 4}`,
      [...lineage, ...seriesCols.map((c) => x.series[c]), x.first, x.last],
    );
    overlap += Number(row.n);
  }
  return { series, repeatedKeys, overlap };
}

/**
 * Settles the rows of `batch` in `t` (appended by the caller in this transaction) against the other rows. The key
 * must contain the partition column, e.g. (exchange, symbol, ts) partitioned by ts; keys must be non-NULL. `shape`
 * is describeAppended's answer when the caller already asked for it.
 */
export async function mergeAppended(s: Session, t: TableSpec, batch: AppendedBatch, opts: AppendMergeOptions = {}, shape?: AppendedShape): Promise<AppendMergeResult> {
  const d = s.dialect;
  partitionColumn(t);
  const target = d.table(t.schema, t.name);
  const q = (c: string) => d.ident(c);
  const mine = (a?: string) => batchRows(s, a);
  const others = (a?: string) => `NOT ${mine(a)}`;
  const lineage = [batch.runId, batch.loadedAt];
  const { series, repeatedKeys, overlap } = shape ?? (await describeAppended(s, t, batch, opts));
  const appended = series.reduce((a, x) => a + x.rows, 0);
  if (!repeatedKeys && overlap === 0) return { inserted: appended, updated: 0, deleted: 0, repeated: 0, unchanged: 0, series };

  const key = t.primaryKey.map(q);
  const match = (a: string, b: string) => key.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  const keySet = new Set(t.primaryKey);
  const comparedNames = t.columns.filter((c) => !keySet.has(c.name) && !c.volatile).map((c) => c.name);
  const same = comparedNames.length ? comparedNames.map((c) => `NOT (o.${q(c)} IS DISTINCT FROM n.${q(c)})`).join(' AND ') : 'TRUE';
  const prefer = [...(opts.preferDescending ?? []), ...comparedNames].map((c) => `${q(c)} DESC NULLS LAST`);
  const repeated = repeatedKeys
    ? await s.exec(
        `DELETE FROM ${target} WHERE rowid IN (
           SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY ${key.join(', ')} ORDER BY ${[...prefer, 'rowid DESC'].join(', ')}) AS rn
                                FROM ${target} WHERE ${mine()}) AS ranked WHERE rn > 1)`,
        lineage,
      )
    : 0;
  let unchanged = 0;
  let updated = 0;
  if (overlap > 0) {
    unchanged = await s.exec(
      `DELETE FROM ${target} AS n WHERE ${mine('n')}
         AND EXISTS (SELECT 1 FROM ${target} AS o WHERE ${others('o')} AND ${match('o', 'n')} AND ${same})`,
      lineage,
    );
    updated = await s.exec(
      `DELETE FROM ${target} AS o WHERE ${others('o')}
         AND EXISTS (SELECT 1 FROM ${target} AS n WHERE ${mine('n')} AND ${match('o', 'n')})`,
      lineage,
    );
  }
  return { inserted: appended - repeated - unchanged - updated, updated, deleted: 0, repeated, unchanged, series };
}
