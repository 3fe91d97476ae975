// Value conversion between PostgreSQL and plain JS, matching the DuckDB session's shapes: timestamps → Date,
// NUMERIC → exact string, BIGINT → number when safe (else string), JSON/JSONB → parsed, DATE → 'YYYY-MM-DD'.
import pg from 'pg';

/** Type OIDs of the result columns whose parsing differs from pg's defaults. */
const OID = {
  int8: 20,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
} as const;

type TextParser = (text: string) => unknown;

function int8ToJs(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

// Output of timestamp / timestamptz in the ISO DateStyle: `2024-01-02 03:04:05.123456+00` (offset only for timestamptz).
const TIMESTAMP_TEXT = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?$/;

/**
 * Timestamp text → Date. The offset, when present, is applied; a timestamp without one is read as UTC, as DuckDB
 * does. Fractions beyond milliseconds are truncated; ±infinity stay the strings DuckDB returns for them.
 */
function timestampToJs(text: string): Date | string {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) {
    if (text === 'infinity' || text === '-infinity') return text;
    // BC dates and other exotic forms: pg's own parser.
    return pg.types.getTypeParser(OID.timestamptz, 'text')(text) as Date;
  }
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  if (m[8]) {
    const offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    t -= (m[8] === '-' ? -1 : 1) * offsetSeconds * 1000;
  }
  // Date.UTC maps years 0–99 to 1900–1999.
  const year = Number(m[1]);
  if (year < 100) {
    const d = new Date(t);
    d.setUTCFullYear(d.getUTCFullYear() - 1900);
    return d;
  }
  return new Date(t);
}

const identity: TextParser = (text) => text;

const TEXT_PARSERS = new Map<number, TextParser>([
  [OID.int8, int8ToJs],
  [OID.date, identity],
  [OID.timestamp, timestampToJs],
  [OID.timestamptz, timestampToJs],
  [OID.numeric, identity],
]);

/** The `types` option of a pg.Client: our text parsers first, pg's defaults (JSON/JSONB parsed, floats, booleans) for the rest. */
export const pgResultTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: never) => unknown {
    if (format !== 'binary') {
      const own = TEXT_PARSERS.get(oid);
      if (own) return own as (value: never) => unknown;
    }
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: never) => unknown;
  },
} as unknown as pg.CustomTypesConfig;

/**
 * A bound parameter, as on DuckDB: Date → timestamptz (the same instant), plain objects and arrays → JSON text,
 * Uint8Array → bytea, bigint → decimal text, undefined → NULL; strings, numbers and booleans as they are.
 */
export function toPgParam(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('invalid Date');
    return value.toISOString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'object') return JSON.stringify(value);
  throw new TypeError(`cannot bind a parameter of type ${typeof value}`);
}
