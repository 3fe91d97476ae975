// DuckDB's SQL flavour for the shared write-mode SQL: quoting, logical → SQL types, placeholders, row → JSON.
import type { Dialect } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import { decimalParts, quoteIdent, sqlTypeMapper } from '../sql-types.ts';
import { assertIdentifier, type ColumnType } from '../../core/table.ts';
import { duckdbExternalViewSelect } from './duckdb-external-view.ts';
import { duckdbCopyToParquet, duckdbCopyToCsv, duckdbReadCsv } from './duckdb-file-sql.ts';

const SIMPLE_TYPES: Record<string, string> = {
  varchar: 'VARCHAR',
  double: 'DOUBLE',
  bigint: 'BIGINT',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  timestamptz: 'TIMESTAMPTZ',
  date: 'DATE',
  json: 'JSON',
};

/** The DuckDB dialect; identifiers are validated and double-quoted, parameters are `$1…`. */
export const duckdbDialect: Dialect = {
  ident: quoteIdent,
  table(schema: string, name: string): string {
    return `${duckdbDialect.ident(schema)}.${duckdbDialect.ident(name)}`;
  },
  sqlType: sqlTypeMapper(SIMPLE_TYPES, 'DECIMAL'),
  param(i: number): string {
    return `$${i}`;
  },
  rowToJson(alias: string, columns: string[]): string {
    const a = duckdbDialect.ident(alias);
    const pairs = columns.map((c) => `'${assertIdentifier(c)}', ${a}.${duckdbDialect.ident(c)}`);
    return `json_object(${pairs.join(', ')})`;
  },
  /** UPDATE … FROM: the matched target rows, aliased t, joined to s. */
  updateFrom(target: string, set: string, from: string, where: string): string {
    return `UPDATE ${target} AS t SET ${set} FROM ${from} AS s WHERE ${where}`;
  },
  createSequence(schema: string, name: string): string {
    return `CREATE SEQUENCE IF NOT EXISTS ${duckdbDialect.table(schema, name)} START 1`;
  },
  nextId(schema: string, name: string): string {
    return `nextval('${assertIdentifier(schema)}.${assertIdentifier(name)}')`;
  },
  jsonValue(expr: string, type: ColumnType): string {
    return `COALESCE(${jsonText(expr, type)}, 'null')`;
  },
  externalViewSelect: duckdbExternalViewSelect,
  readCsv: (spec) => duckdbReadCsv(spec, duckdbDialect.sqlType),
  copyToParquet: duckdbCopyToParquet,
  copyToCsv: duckdbCopyToCsv,
};

/**
 * DuckDB's JSON text of a value, matching PostgreSQL's (see Dialect.jsonValue); NULL for NULL. Where DuckDB's own
 * text differs, it is rewritten: doubles lose the `.0` of integral values and use an exponent from 1e15 on, as
 * PostgreSQL's shortest round-trip text does; the \u00XX escapes of control characters become lower case (the
 * escaped backslashes are parked on chr(1), which to_json never emits raw, so `\\u001A` text stays as it was).
 * Change events render millions of values, so the common cases take short paths first: a finite timestamp is
 * formatted from its epoch without a time-zone conversion (the text is UTC either way), and a double below 1e15
 * is DuckDB's own text when it has a fraction, or its integer text when it has none (-0 keeps its sign).
 */
function jsonText(x: string, type: ColumnType): string {
  if (decimalParts(type)) return `'"' || CAST(${x} AS VARCHAR) || '"'`;
  switch (type) {
    case 'varchar': {
      const j = `CAST(to_json(CAST(${x} AS VARCHAR)) AS VARCHAR)`;
      let fixed = `replace(${j}, '\\\\', chr(1))`;
      for (const code of ['0B', '0E', '0F', '1A', '1B', '1C', '1D', '1E', '1F']) {
        fixed = `replace(${fixed}, '\\u00${code}', '\\u00${code.toLowerCase()}')`;
      }
      return `CASE WHEN strpos(${j}, '\\u00') = 0 THEN ${j} ELSE replace(${fixed}, chr(1), '\\\\') END`;
    }
    case 'double': {
      const digits = `rtrim(replace(CAST(abs(${x}) AS VARCHAR), '.', ''), '0')`;
      const e15 = `(CASE WHEN ${x} < 0 THEN '-' ELSE '' END) || substr(${digits}, 1, 1) || (CASE WHEN length(${digits}) > 1 THEN '.' || substr(${digits}, 2) ELSE '' END) || 'e+15'`;
      // NaN compares above every number, so it never takes the first two branches.
      return `CASE WHEN ${x} <> trunc(${x}) AND abs(${x}) < 1e15 THEN CAST(${x} AS VARCHAR)
        WHEN abs(${x}) < 1e15 AND NOT (${x} = 0 AND signbit(${x})) THEN CAST(CAST(${x} AS BIGINT) AS VARCHAR)
        WHEN isnan(${x}) THEN '"NaN"' WHEN isinf(${x}) THEN (CASE WHEN ${x} > 0 THEN '"Infinity"' ELSE '"-Infinity"' END)
        WHEN abs(${x}) >= 1e15 AND abs(${x}) < 1e16 THEN ${e15}
        ELSE regexp_replace(CAST(${x} AS VARCHAR), '\\.0$', '') END`;
    }
    case 'bigint':
    case 'integer':
      return `CAST(${x} AS VARCHAR)`;
    case 'boolean':
      return `CASE WHEN ${x} THEN 'true' WHEN NOT ${x} THEN 'false' END`;
    case 'timestamptz':
      return `'"' || (CASE WHEN isfinite(${x}) THEN strftime(make_timestamp(epoch_us(${x})), '%Y-%m-%dT%H:%M:%S.%fZ')
        ELSE strftime(${x} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') END) || '"'`;
    case 'date':
      return `'"' || strftime(${x}, '%Y-%m-%d') || '"'`;
    case 'json':
      return `CAST(json(${x}) AS VARCHAR)`;
  }
  throw new ConfigError(`unknown column type "${type}"`);
}
