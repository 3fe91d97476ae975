// What every SQL dialect shares: quoted identifiers and the logical → SQL type mapping, given each engine's names.
import { ConfigError } from '../core/errors.ts';
import { assertIdentifier } from '../core/table.ts';

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/i;

/** Precision and scale of a `decimal(p,s)` column type (1–38 on every engine), or undefined for any other type. */
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

/** A validated, double-quoted identifier (the same on DuckDB and PostgreSQL). */
export function quoteIdent(name: string): string {
  return `"${assertIdentifier(name)}"`;
}

/**
 * Builds a dialect's sqlType from its names for the simple logical types and its decimal type name
 * (`DECIMAL` / `NUMERIC`); an unknown type is a ConfigError listing the known ones.
 */
export function sqlTypeMapper(simple: Record<string, string>, decimalName: string): (type: string) => string {
  return (type: string) => {
    const s = simple[type.toLowerCase()];
    if (s) return s;
    const dec = decimalParts(type);
    if (dec) return `${decimalName}(${dec.precision},${dec.scale})`;
    throw new ConfigError(`unknown column type "${type}"`, {
      hint: 'use varchar, double, bigint, integer, boolean, timestamptz, date, json or decimal(p,s)',
    });
  };
}
