// Rows → PostgreSQL COPY text format (`COPY … FROM STDIN`, the default TEXT format): one line per row, fields
// separated by tabs, NULL as \N, and backslash, tab, newline and carriage return escaped inside values.
import { TerminalError, errorMessage } from '../../core/errors.ts';
import type { ColumnSpec, ColumnType, Row } from '../../core/table.ts';
import { parseInstant } from '../../core/time.ts';
import { decimalParts } from '../sql-types.ts';

/** The NULL marker of the text format. */
export const COPY_NULL = '\\N';

/** Turns a non-null row value into the COPY text of a column of one logical type; throws a TypeError when it cannot. */
export type CopyFieldEncoder = (value: unknown) => string;

// Characters that must not appear raw in a text-format field. NUL is here only to be refused: PostgreSQL text cannot hold it.
const SPECIAL = /[\\\t\n\r\0]/;
const SPECIAL_ALL = /[\\\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Escapes text for a COPY text-format field. Only backslash, tab, newline and CR need it: every other character,
 * quotes and non-ASCII included, is taken literally, and since backslashes are doubled, no value can read as `\N` or `\.`.
 */
export function escapeCopyText(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text.replace(SPECIAL_ALL, (ch) => {
    if (ch === '\0') throw new TypeError('PostgreSQL text cannot hold the NUL character (\\u0000)');
    return ESCAPES[ch];
  });
}

function varcharText(value: unknown): string {
  if (typeof value === 'string') return escapeCopyText(value);
  if (value instanceof Date) return isoInstant(value);
  if (typeof value === 'object') return escapeCopyText(JSON.stringify(value));
  return escapeCopyText(String(value));
}

/** Doubles in their shortest round-trip text, so PostgreSQL stores the identical value; NaN and ±Infinity by name. */
function doubleText(value: unknown): string {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'string' && value.trim() !== '') {
    n = Number(value);
    if (Number.isNaN(n) && value.trim() !== 'NaN') throw new TypeError('not a number');
  } else throw new TypeError('not a number');
  return String(n); // 'NaN', 'Infinity', '-Infinity' and '1e+21' are all valid float8 input.
}

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;

function integerText(min: bigint, max: bigint): CopyFieldEncoder {
  const minN = Number(min);
  const maxN = Number(max);
  return (value) => {
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (value < minN || value > maxN) throw new TypeError('integer out of range');
      return String(value);
    }
    let n: bigint;
    if (typeof value === 'bigint') n = value;
    else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
    else if (typeof value === 'string' && INTEGER_TEXT.test(value)) n = BigInt(value.trim());
    else throw new TypeError('not an integer');
    if (n < min || n > max) throw new TypeError('integer out of range');
    return n.toString();
  };
}

function booleanText(value: unknown): string {
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value === 0 || value === 1) return value === 1 ? 't' : 'f';
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true' || s === 't' || s === '1') return 't';
    if (s === 'false' || s === 'f' || s === '0') return 'f';
  }
  throw new TypeError('not a boolean');
}

/** An instant as ISO-8601 UTC with milliseconds (`2024-01-01T00:00:00.000Z`), which timestamptz input reads exactly. */
function isoInstant(d: Date): string {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new TypeError('invalid Date');
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new TypeError('timestamp outside years 0001–9999');
  return d.toISOString();
}

// Batches often repeat an instant on consecutive rows (one candle per symbol per minute): reuse the last text.
let lastInstantMs = Number.NaN;
let lastInstantText = '';

function timestamptzText(value: unknown): string {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (ms === lastInstantMs) return lastInstantText;
    const text = isoInstant(value);
    lastInstantMs = ms;
    lastInstantText = text;
    return text;
  }
  // Strings without a zone are UTC, epoch numbers are told apart by magnitude (s, ms, µs, ns): as on DuckDB.
  if (typeof value === 'string' || typeof value === 'number') return isoInstant(parseInstant(value));
  throw new TypeError('not a timestamp');
}

function dateText(value: unknown): string {
  if (value instanceof Date) return isoInstant(value).slice(0, 10);
  if (typeof value === 'string') return isoInstant(parseInstant(value)).slice(0, 10);
  throw new TypeError('not a date');
}

/** JSON column values: strings are JSON text (validated), anything else is serialised. */
function jsonText(value: unknown): string {
  if (typeof value === 'string') {
    JSON.parse(value);
    return escapeCopyText(value);
  }
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('not representable as JSON');
  return escapeCopyText(text);
}

const DECIMAL_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * Decimals go as exact text: strings as given (validated), doubles as their shortest round-trip text (0.1 → '0.1'),
 * as on DuckDB. PostgreSQL rounds to the scale (half away from zero) and rejects values beyond the precision.
 */
function decimalText(value: unknown): string {
  if (typeof value === 'string') {
    if (!DECIMAL_TEXT.test(value)) throw new TypeError('not a decimal number');
    return value.trim();
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('not a finite number');
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  throw new TypeError('not a decimal number');
}

const INT32 = integerText(-(2n ** 31n), 2n ** 31n - 1n);
const INT64 = integerText(-(2n ** 63n), 2n ** 63n - 1n);

/** The COPY text encoder for a logical column type. */
export function copyFieldEncoder(type: ColumnType): CopyFieldEncoder {
  switch (type) {
    case 'varchar':
      return varcharText;
    case 'double':
      return doubleText;
    case 'bigint':
      return INT64;
    case 'integer':
      return INT32;
    case 'boolean':
      return booleanText;
    case 'timestamptz':
      return timestamptzText;
    case 'date':
      return dateText;
    case 'json':
      return jsonText;
  }
  if (!decimalParts(type)) throw new TypeError(`unknown column type "${type}"`);
  return decimalText;
}

/** COPY text of one value of a column type, `\N` for null and undefined. */
export function encodeCopyValue(type: ColumnType, value: unknown): string {
  return value === null || value === undefined ? COPY_NULL : copyFieldEncoder(type)(value);
}

/** How a batch is encoded. */
export interface CopyTextOptions {
  /** `schema.table`, for error messages. */
  table: string;
  /** Text appended to row i after its data fields (starting with a tab when not empty), e.g. lineage columns. */
  trailing?: (rowIndex: number) => string;
  /** Characters per yielded chunk; default 256 Ki. */
  chunkChars?: number;
  /** Called with the COPY text of every non-null value of one column (e.g. to collect the months a batch covers). */
  watch?: { column: string; each(text: string): void };
}

/**
 * COPY text of `rows` (the given columns, in order, then `trailing`) in chunks of about `chunkChars` characters,
 * so a large batch streams with backpressure instead of becoming one string. A bad value throws a TerminalError
 * naming its row and column.
 */
export function* copyTextChunks(rows: Row[], columns: ColumnSpec[], opts: CopyTextOptions): Generator<string> {
  const encoders = columns.map((c) => copyFieldEncoder(c.type));
  const names = columns.map((c) => c.name);
  const trailing = opts.trailing;
  const limit = opts.chunkChars ?? 256 * 1024;
  const n = names.length;
  const watched = opts.watch ? names.indexOf(opts.watch.column) : -1;
  const watch = opts.watch?.each;
  let chunk = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    let line = '';
    for (let c = 0; c < n; c++) {
      const v = row[names[c]];
      let field: string;
      if (v === null || v === undefined) field = COPY_NULL;
      else {
        try {
          field = encoders[c](v);
        } catch (err) {
          throw badValue(v, opts.table, columns[c], i, err);
        }
        if (c === watched) watch!(field);
      }
      line = c === 0 ? field : `${line}\t${field}`;
    }
    chunk += trailing ? `${line}${trailing(i)}\n` : `${line}\n`;
    if (chunk.length >= limit) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

function badValue(v: unknown, table: string, spec: ColumnSpec, i: number, err: unknown): TerminalError {
  return new TerminalError(
    `cannot load ${preview(v)} into ${table}.${spec.name} (${spec.type}), row ${i + 1} of the batch: ${errorMessage(err)}`,
    { field: spec.name, row: i + 1 },
    { cause: err },
  );
}

function preview(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? Object.prototype.toString.call(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
