// SQL that reads a CryptoDataDownload file in bulk: the warehouse's CSV read (Dialect.readCsv) with explicit columns
// and typed values, the banner and header skipped, malformed lines kept in a rejects table with their line numbers;
// then normalisation in DuckDB SQL — epoch s/ms/µs/ns by magnitude, symbol → canonical `BASE-QUOTE`, and a reason for rows that parse but
// cannot be candles.
import { intervalMs, type CandleInterval } from '../../core/candle-interval.ts';
import type { Dialect } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import type { ColumnType } from '../../core/table.ts';
import { canonicalPair, canonicalPairSql } from '../pair-symbol.ts';
import type { CddLayout, CddRole } from './cdd-file.ts';

const TYPES: Record<CddRole, ColumnType> = {
  unix: 'bigint',
  date: 'varchar',
  symbol: 'varchar',
  open: 'double',
  high: 'double',
  low: 'double',
  close: 'double',
  volume_base: 'double',
  volume_quote: 'double',
  tradecount: 'double',
};

/** Values a candle cannot do without: an empty one is a malformed line, not a NULL. */
const NOT_NULL: CddRole[] = ['unix', 'symbol', 'open', 'high', 'low', 'close', 'volume_base', 'volume_quote'];
const NUMBERS = ['open', 'high', 'low', 'close', 'volume_base', 'volume_quote'];
/** 2009-01-03, the first Bitcoin block, in µs: no candle is older. */
const EARLIEST_US = 1_230_940_800_000_000;

/** The open times (µs) a candle may have when read at `nowMs`: from the first Bitcoin block to a day ahead. */
export function candleTimeBounds(nowMs: number): { loUs: number; hiUs: number } {
  return { loUs: EARLIEST_US, hiUs: (nowMs + 86_400_000) * 1000 };
}

/** A SQL string literal (DuckDB strings have no backslash escapes). */
export function sqlText(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Column name the CSV read gives a header column: its role, or `extra_<i>` for columns coinlake does not load. */
function columnName(c: { index: number; role?: CddRole }): string {
  return c.role ?? `extra_${c.index}`;
}

/**
 * The warehouse's read of the file (Dialect.readCsv) with every column named and typed, banner and header skipped,
 * nothing sniffed and nothing quoted (CDD files quote nothing: a stray `"` makes its own line malformed). With
 * `rejects`, lines that do not parse (wrong number of columns, a value of the wrong type, an empty required value) go
 * to that temp table with their line number instead of failing the read; without it they are skipped. With `part`,
 * the file read is a segment of the file's data lines (no banner, no header; cdd-line-scan.ts LineSegments).
 */
export function readCsvSql(d: Dialect, layout: CddLayout, rejects?: { table: string; scan: string }, part?: { file: string }): string {
  if (!d.readCsv) {
    throw new ConfigError(`this warehouse cannot read ${layout.file} itself`, { file: layout.file, hint: 'CDD files are read by a warehouse whose dialect has readCsv (DuckDB)' });
  }
  return d.readCsv({
    file: part?.file ?? layout.file,
    skipLines: part ? 0 : layout.skipLines + 1,
    delimiter: ',',
    columns: layout.columns.map((c) => ({ name: columnName(c), type: c.role ? TYPES[c.role] : 'varchar' })),
    notNull: NOT_NULL,
    rejects,
  });
}

/** Epoch in s, ms, µs or ns (told apart by magnitude, as core/time epochToMs) → µs. */
export function epochMicrosSql(expr: string): string {
  // BETWEEN rather than abs(): abs() of the smallest BIGINT overflows.
  return `(CASE WHEN ${expr} BETWEEN -99999999999 AND 99999999999 THEN ${expr} * 1000000
    WHEN ${expr} BETWEEN -99999999999999 AND 99999999999999 THEN ${expr} * 1000
    WHEN ${expr} BETWEEN -99999999999999999 AND 99999999999999999 THEN ${expr}
    ELSE ${expr} // 1000 END)`;
}

/**
 * Canonical pair of the `symbol` column: the first row's symbol (and the pair the volume columns name) are settled
 * here in JS, so the common case is one string comparison per row; anything else goes through the SQL rule.
 */
function pairSql(layout: CddLayout): string {
  const known = new Map<string, string>();
  const hint = { base: layout.baseAsset, quote: layout.quoteAsset };
  if (layout.firstSymbol) {
    const p = canonicalPair(layout.firstSymbol, hint);
    if (p) known.set(layout.firstSymbol, p);
  }
  if (layout.baseAsset && layout.quoteAsset) known.set(`${layout.baseAsset}${layout.quoteAsset}`, `${layout.baseAsset}-${layout.quoteAsset}`);
  const whens = [...known].map(([raw, pair]) => `WHEN symbol = ${sqlText(raw)} THEN ${sqlText(pair)}`).join(' ');
  return `CASE ${whens} ELSE ${canonicalPairSql('symbol')} END`;
}

/**
 * SELECT over the file with the typed source columns plus `us` (open time in µs), `pair`, `ok` (the row is a
 * candle) and `reason` (NULL for a candle, else why the row cannot be one). `nowMs` bounds the plausible open times.
 * `ok` is the cheap test every row takes (one `least` and one sum cover "finite and not negative" for all six
 * numbers); the reason is worked out only for the rows that fail it.
 */
export function normalizedSql(layout: CddLayout, interval: CandleInterval, read: string, nowMs: number): string {
  const stepUs = interval === '1w' || interval === '1M' ? undefined : intervalMs(interval) * 1000;
  const latestUs = candleTimeBounds(nowMs).hiUs;
  const finite = NUMBERS.map((c) => `isfinite(${c})`).join(' AND ');
  const negative = NUMBERS.map((c) => `${c} < 0`).join(' OR ');
  const hasTrades = layout.columns.some((c) => c.role === 'tradecount');
  // DuckDB sorts NaN above every number: least() skips it and the sum turns NaN; ±Infinity makes the sum infinite
  // (or NaN), -Infinity also makes least() negative. A sum beyond the largest double is the one false alarm: the
  // reason then says so.
  const ok = [
    'pair IS NOT NULL',
    `us BETWEEN ${EARLIEST_US} AND ${latestUs}`,
    stepUs ? `us % ${stepUs} = 0` : undefined,
    `least(${NUMBERS.join(', ')}) >= 0`,
    `isfinite(${NUMBERS.join(' + ')})`,
    hasTrades ? '(tradecount IS NULL OR tradecount BETWEEN 0 AND 1e15)' : undefined,
  ].filter((x) => x !== undefined);
  const reason = `CASE
      WHEN pair IS NULL THEN concat('symbol "', symbol, '" is not a pair (BASE/QUOTE, or a known quote asset at the end)')
      WHEN us < ${EARLIEST_US} OR us > ${latestUs} THEN concat('timestamp ', unix, ' is out of range')
      ${stepUs ? `WHEN us % ${stepUs} <> 0 THEN concat('open time ', unix, ' is not on the ${interval} grid')` : ''}
      WHEN NOT (${finite}) THEN 'a price or volume is not a finite number'
      WHEN ${negative} THEN 'a price or volume is negative'
      ${hasTrades ? `WHEN NOT isfinite(tradecount) OR tradecount < 0 OR tradecount > 1e15 THEN 'tradecount is not a count'` : ''}
      ELSE 'the prices and volumes add up beyond the largest number'
    END`;
  return `SELECT *, CASE WHEN ok THEN NULL ELSE ${reason} END AS reason FROM (
    SELECT *, COALESCE(${ok.join(' AND ')}, FALSE) AS ok FROM (
      SELECT unix, symbol, open, high, low, close, volume_base, volume_quote, ${hasTrades ? 'tradecount' : 'CAST(NULL AS DOUBLE) AS tradecount'},
        ${epochMicrosSql('unix')} AS us, ${pairSql(layout)} AS pair
      FROM ${read}))`;
}

/** The candle columns from a normalised row: rows that are not candles get a NULL `ts` so they can be found and removed. */
export function candleSelectSql(exchangeParam: string): string {
  return `${exchangeParam} AS exchange, pair AS symbol, CASE WHEN ok THEN make_timestamptz(us) END AS ts,
    open, high, low, close, volume_base, volume_quote, CASE WHEN ok THEN CAST(round(tradecount) AS BIGINT) END AS trade_count`;
}

/** Lake folder value (`dt=`) of a timestamptz column at a grain, without time-zone arithmetic per row. */
export function lakePartitionSql(column: string, grain: 'day' | 'month' | 'year' = 'day'): string {
  const utc = `make_timestamp(epoch_us(${column}))`;
  if (grain === 'year') return `CAST(year(${utc}) AS VARCHAR)`;
  if (grain === 'month') return `strftime(${utc}, '%Y-%m')`;
  return `CAST(CAST(${utc} AS DATE) AS VARCHAR)`;
}
