// Value conversion between DuckDB and plain JS: query results out, parameters and staged column values in.
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { ColumnType } from '../../core/table.ts';
import { parseInstant } from '../../core/time.ts';
import { decimalParts } from '../sql-types.ts';

const MS_PER_DAY = 86_400_000;

// ---------------------------------------------------------------- DuckDB → JS

/** Converts one result value of a known column type to plain JS. */
export type ResultConverter = (value: DuckDBValue) => unknown;

function bigintToJs(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function dateFromMicros(micros: bigint): Date | string {
  const ms = micros / 1000n;
  const d = new Date(Number(ms));
  // ±infinity and values beyond JS Date's range have no Date; keep DuckDB's text for them.
  return Number.isNaN(d.getTime()) ? (micros > 0n ? 'infinity' : '-infinity') : d;
}

/**
 * Plain JS for any DuckDB value when the column type is not at hand (nested values):
 * timestamps → Date, DATE → 'YYYY-MM-DD', DECIMAL → exact string, big integers → number when safe.
 */
export function genericToJs(value: DuckDBValue): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'bigint':
      return bigintToJs(value);
    case 'boolean':
    case 'number':
    case 'string':
      return value;
  }
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) return dateFromMicros(value.micros);
  if (value instanceof DuckDBTimestampMillisecondsValue) return dateFromMicros(value.millis * 1000n);
  if (value instanceof DuckDBTimestampSecondsValue) return dateFromMicros(value.seconds * 1_000_000n);
  if (value instanceof DuckDBTimestampNanosecondsValue) return dateFromMicros(value.nanos / 1000n);
  if (value instanceof DuckDBDateValue || value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBBlobValue) return value.bytes;
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(genericToJs);
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, genericToJs(v)]));
  }
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: genericToJs(e.key), value: genericToJs(e.value) }));
  return String(value);
}

/** The converter for a result column: JSON text is parsed, everything else goes through genericToJs. */
export function resultConverter(type: DuckDBType): ResultConverter {
  switch (type.typeId) {
    case DuckDBTypeId.VARCHAR:
      if (type.alias?.toUpperCase() === 'JSON') return (v) => (typeof v === 'string' ? JSON.parse(v) : v);
      return (v) => v;
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return (v) => v;
    default:
      return genericToJs;
  }
}

// ---------------------------------------------------------------- JS → DuckDB parameters

/** A bound parameter: Date → TIMESTAMPTZ, objects and arrays → JSON text, undefined → NULL; others as they are. */
export function toDuckDBParam(value: unknown): DuckDBValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
  }
  if (value instanceof Date) return timestamptzFromDate(value);
  if (value instanceof Uint8Array) return new DuckDBBlobValue(value);
  if (typeof value === 'object') return JSON.stringify(value);
  throw new TypeError(`cannot bind a parameter of type ${typeof value}`);
}

function timestamptzFromDate(d: Date): DuckDBTimestampTZValue {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new TypeError('invalid Date');
  return new DuckDBTimestampTZValue(BigInt(ms) * 1000n);
}

// ---------------------------------------------------------------- JS → DuckDB staged column values

/** Turns a row value into the DuckDB value a column of the given logical type stores; throws a TypeError when it cannot. */
export type InputConverter = (value: unknown) => DuckDBValue;

function numberFrom(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (!Number.isNaN(n) || value.trim() === 'NaN') return n;
  }
  throw new TypeError('not a number');
}

function integerFrom(value: unknown, min: bigint, max: bigint): bigint {
  // Fast path for the common case: a safe integer always fits BIGINT.
  if (typeof value === 'number' && Number.isSafeInteger(value) && max > INT32_MAX) return BigInt(value);
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) n = BigInt(value.trim());
  else throw new TypeError('not an integer');
  if (n < min || n > max) throw new TypeError('integer out of range');
  return n;
}

function timestamptzFrom(value: unknown): DuckDBTimestampTZValue {
  if (value instanceof Date) return timestamptzFromDate(value);
  // Strings without a zone are UTC, epoch numbers are told apart by magnitude (s, ms, µs, ns).
  if (typeof value === 'string' || typeof value === 'number') return timestamptzFromDate(parseInstant(value));
  throw new TypeError('not a timestamp');
}

function dateFrom(value: unknown): DuckDBDateValue {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'string') ms = parseInstant(value).getTime();
  else throw new TypeError('not a date');
  if (Number.isNaN(ms)) throw new TypeError('not a date');
  return new DuckDBDateValue(Math.floor(ms / MS_PER_DAY));
}

function booleanFrom(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true' || s === 't' || s === '1') return true;
    if (s === 'false' || s === 'f' || s === '0') return false;
  }
  throw new TypeError('not a boolean');
}

function varcharFrom(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** JSON column values: strings are JSON text (validated), anything else is serialised. */
function jsonFrom(value: unknown): string {
  if (typeof value === 'string') {
    JSON.parse(value);
    return value;
  }
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('not representable as JSON');
  return text;
}

const DECIMAL_TEXT = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/**
 * The exact scaled integer of a decimal text at `scale` fractional digits (`'1.25'`, scale 4 → 12500n),
 * rounding half away from zero beyond the scale, as DuckDB's own VARCHAR → DECIMAL cast does.
 */
export function scaledDecimal(text: string, scale: number): bigint {
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (!m[2] && !m[3])) throw new TypeError('not a decimal number');
  const negative = m[1] === '-';
  const intPart = m[2] ?? '';
  let digits = intPart + (m[3] ?? '');
  // Position of the decimal point counted from the left of `digits`; shift leading zeros in when it is left of them.
  let point = intPart.length + Number(m[4] ?? 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > 40) throw new TypeError('decimal out of range');
  const wanted = point + scale;
  if (digits.length < wanted) digits = digits.padEnd(wanted, '0');
  let result = BigInt(digits.slice(0, wanted) || '0');
  if (digits.length > wanted && digits.charCodeAt(wanted) >= 53 /* '5' */) result += 1n;
  return negative ? -result : result;
}

function decimalFrom(precision: number, scale: number): InputConverter {
  const limit = 10n ** BigInt(precision);
  const factor = 10n ** BigInt(scale);
  return (value) => {
    let scaled: bigint;
    if (typeof value === 'string') scaled = scaledDecimal(value, scale);
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new TypeError('not a finite number');
      // The shortest text that round-trips the double is what the user wrote (0.1 → '0.1'), so convert that.
      scaled = scaledDecimal(String(value), scale);
    } else if (typeof value === 'bigint') scaled = value * factor;
    else throw new TypeError('not a decimal number');
    if (scaled >= limit || scaled <= -limit) throw new TypeError(`does not fit decimal(${precision},${scale})`);
    return new DuckDBDecimalValue(scaled, precision, scale);
  };
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The input converter for a logical column type (see InputConverter). */
export function inputConverter(type: ColumnType): InputConverter {
  switch (type) {
    case 'varchar':
      return varcharFrom;
    case 'double':
      return numberFrom;
    case 'bigint':
      return (v) => integerFrom(v, INT64_MIN, INT64_MAX);
    case 'integer':
      return (v) =>
        typeof v === 'number' && Number.isInteger(v) && v >= -2_147_483_648 && v <= 2_147_483_647
          ? v
          : Number(integerFrom(v, INT32_MIN, INT32_MAX));
    case 'boolean':
      return booleanFrom;
    case 'timestamptz':
      return timestamptzFrom;
    case 'date':
      return dateFrom;
    case 'json':
      return jsonFrom;
  }
  const dec = decimalParts(type);
  if (!dec) throw new TypeError(`unknown column type "${type}"`);
  return decimalFrom(dec.precision, dec.scale);
}
