// DuckDB's SQL flavour for the shared write-mode SQL: quoting, logical → SQL types, placeholders, row → JSON.
import type { Dialect } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import { assertIdentifier } from '../../core/table.ts';

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

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/i;

/** Precision and scale of a `decimal(p,s)` column type, or undefined for any other type. */
export function decimalParts(type: string): { precision: number; scale: number } | undefined {
  const m = DECIMAL.exec(type);
  if (!m) return undefined;
  const precision = Number(m[1]);
  const scale = Number(m[2]);
  if (precision < 1 || precision > 38 || scale > precision) {
    throw new ConfigError(`invalid column type "${type}": precision must be 1–38 and scale at most the precision`);
  }
  return { precision, scale };
}

/** The DuckDB dialect; identifiers are validated and double-quoted, parameters are `$1…`. */
export const duckdbDialect: Dialect = {
  ident(name: string): string {
    return `"${assertIdentifier(name)}"`;
  },
  table(schema: string, name: string): string {
    return `${duckdbDialect.ident(schema)}.${duckdbDialect.ident(name)}`;
  },
  sqlType(type: string): string {
    const simple = SIMPLE_TYPES[type.toLowerCase()];
    if (simple) return simple;
    const dec = decimalParts(type);
    if (dec) return `DECIMAL(${dec.precision},${dec.scale})`;
    throw new ConfigError(`unknown column type "${type}"`, {
      hint: 'use varchar, double, bigint, integer, boolean, timestamptz, date, json or decimal(p,s)',
    });
  },
  param(i: number): string {
    return `$${i}`;
  },
  rowToJson(alias: string, columns: string[]): string {
    const a = duckdbDialect.ident(alias);
    const pairs = columns.map((c) => `'${assertIdentifier(c)}', ${a}.${duckdbDialect.ident(c)}`);
    return `json_object(${pairs.join(', ')})`;
  },
};
