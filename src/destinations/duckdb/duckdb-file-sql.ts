// DuckDB reading and writing files itself: read_csv of a CSV with every column given (Dialect.readCsv) and COPY … TO
// Parquet, one file or hive-partitioned folders (Dialect.copyToParquet).
import type { CsvReadSpec, ParquetCopyOptions } from '../../core/destination.ts';
import { assertIdentifier, type ColumnType } from '../../core/table.ts';

/** A SQL string literal (DuckDB strings have no backslash escapes, so doubling quotes is enough). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * `read_csv(…)` of the file with every column named and typed and the dialect given (nothing sniffed). With
 * `rejects`, lines that do not parse go to that temp table (DuckDB's rejects shape: line, column_idx, column_name,
 * error_type, csv_line, error_message) instead of failing the read; without it they are skipped.
 */
export function duckdbReadCsv(spec: CsvReadSpec, sqlType: (type: ColumnType) => string): string {
  const columns = spec.columns.map((c) => `${sqlString(c.name)}: '${sqlType(c.type)}'`).join(', ');
  const options = [
    `skip = ${spec.skipLines}`,
    'header = false',
    `delim = ${sqlString(spec.delimiter)}`,
    // The dialect is known, so nothing is sniffed: DuckDB's sniffer gives up on a sample of mostly malformed lines.
    // No quote character: a stray `"` makes its own line malformed instead of opening a quoted field that would
    // swallow the lines after it.
    "auto_detect = false, quote = '', escape = ''",
    `columns = {${columns}}`,
    `force_not_null = [${spec.notNull.map((r) => sqlString(r)).join(', ')}]`,
    spec.rejects
      ? `store_rejects = true, rejects_table = ${sqlString(spec.rejects.table)}, rejects_scan = ${sqlString(spec.rejects.scan)}`
      : 'ignore_errors = true',
  ];
  return `read_csv(${sqlString(spec.file)}, ${options.join(', ')})`;
}

/**
 * `COPY (select) TO …` Parquet: to the file `target`, or with `partitionColumn` to `<target>/<column>=<value>/
 * <fileStem>_<i>.parquet` (files already there kept). `noDictionary` writes no dictionary pages (DICTIONARY_SIZE_LIMIT 1).
 */
export function duckdbCopyToParquet(select: string, target: string, opts: ParquetCopyOptions = {}): string {
  const options = ['FORMAT parquet'];
  if (opts.noDictionary) options.push('DICTIONARY_SIZE_LIMIT 1');
  if (opts.partitionColumn) {
    options.push(`PARTITION_BY (${assertIdentifier(opts.partitionColumn)})`, `FILENAME_PATTERN ${sqlString(`${opts.fileStem ?? 'data'}_{i}`)}`, 'OVERWRITE_OR_IGNORE');
  }
  return `COPY (${select}) TO ${sqlString(target)} (${options.join(', ')})`;
}

/** `COPY (select) TO …` headerless CSV (Dialect.copyToCsv; the session runs in UTC, so timestamps end in +00). */
export function duckdbCopyToCsv(select: string, target: string): string {
  return `COPY (${select}) TO ${sqlString(target)} (FORMAT csv, HEADER false)`;
}

/** Options of the curated candle files that benches compare against (no dictionary pages; see duckdbCopyToParquet). */
export const DUCKDB_CURATED_PARQUET = 'FORMAT parquet, DICTIONARY_SIZE_LIMIT 1';
