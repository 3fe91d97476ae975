// Safe casts from source values (CoinCap strings, CoinLore mixed types, CSV text) to column types.
import type { ColumnType } from '../core/table.ts';
import { epochToMs } from '../core/time.ts';

/** Result of a cast: a value, or the reason it could not be cast. */
export type CastResult = { ok: true; value: unknown } | { ok: false; reason: string };

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;
const ZERO_DATES = /^0000-00-00( 00:00:00)?$/;

const ok = (value: unknown): CastResult => ({ ok: true, value });
const fail = (reason: string): CastResult => ({ ok: false, reason });

/**
 * A finite number, else the reason ("1e999" is not Infinity). -0 is 0: a sign on zero means nothing in market data,
 * and the warehouses would not keep it alike (PostgreSQL's COPY text of JavaScript's -0 is "0", DuckDB keeps it).
 */
const finite = (n: number, value: unknown): CastResult => (Number.isFinite(n) ? ok(n === 0 ? 0 : n) : fail(`${JSON.stringify(value)} is not a finite number`));

/** An instant both warehouses hold (years 0001–9999), else the reason. */
function instant(d: Date, value: unknown): CastResult {
  const year = d.getUTCFullYear();
  return year >= 1 && year <= 9999 ? ok(d) : fail(`${JSON.stringify(value)} is not a time between the years 0001 and 9999`);
}

/** False when text starts with a YYYY-MM-DD that is no calendar day (2024-02-30, which Date would roll into March). */
function realDay(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!m) return true;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/**
 * Text holding U+0000 is refused on every warehouse: PostgreSQL text and jsonb cannot store it, and the same payload
 * must give the same table on DuckDB and on PostgreSQL. The value is NULL and quarantined with this reason (or fails
 * the run under on_invalid: strict) instead of failing the whole load on PostgreSQL.
 */
const NUL_TEXT = 'holds the NUL character (U+0000), which PostgreSQL cannot store';

/** Whether a value parsed from JSON holds U+0000 in a string or a key, at any depth. */
function holdsNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(holdsNul);
  if (typeof v === 'object' && v !== null) return Object.entries(v).some(([k, x]) => k.includes('\u0000') || holdsNul(x));
  return false;
}

/** Casts one value to a column type. null, undefined and '' become NULL (sources send '' for "none"). */
export function castValue(value: unknown, type: ColumnType): CastResult {
  if (value === null || value === undefined || value === '') return ok(null);
  switch (type) {
    case 'varchar': {
      // An object is kept as its JSON text, where U+0000 is the escape \u0000: no NUL character left.
      const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
      return text.includes('\u0000') ? fail(`the text ${NUL_TEXT}`) : ok(text);
    }
    case 'double': {
      if (typeof value === 'number') return Number.isFinite(value) ? ok(value === 0 ? 0 : value) : fail(`${value} is not a finite number`);
      if (typeof value === 'string' && NUMERIC.test(value.trim())) return finite(Number(value), value);
      return fail(`${JSON.stringify(value)} is not a number`);
    }
    case 'bigint':
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && NUMERIC.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isInteger(n)) return fail(`${JSON.stringify(value)} is not an integer`);
      if (type === 'integer' && Math.abs(n) > 2147483647) return fail(`${n} does not fit a 32-bit integer`);
      if (!Number.isSafeInteger(n)) return fail(`${JSON.stringify(value)} is beyond the exact integer range`);
      return ok(n === 0 ? 0 : n); // no -0 in an integer column
    }
    case 'boolean': {
      if (typeof value === 'boolean') return ok(value);
      if (value === 'true' || value === 1 || value === '1') return ok(true);
      if (value === 'false' || value === 0 || value === '0') return ok(false);
      return fail(`${JSON.stringify(value)} is not a boolean`);
    }
    case 'timestamptz': {
      if (value instanceof Date) return instant(value, value);
      if (typeof value === 'number') return Number.isFinite(value) ? instant(new Date(epochToMs(value)), value) : fail(`${value} is not a time`);
      if (typeof value === 'string') {
        const v = value.trim();
        if (ZERO_DATES.test(v)) return ok(null);
        if (NUMERIC.test(v)) return instant(new Date(epochToMs(Number(v))), value);
        const iso = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /[zZ]$|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
        const d = new Date(iso);
        if (!Number.isNaN(d.getTime()) && realDay(v)) return instant(d, value);
      }
      return fail(`${JSON.stringify(value)} is not a time`);
    }
    case 'date': {
      if (typeof value === 'string' && ZERO_DATES.test(value.trim())) return ok(null);
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
        const d = new Date(`${value.slice(0, 10)}T00:00:00Z`);
        if (!Number.isNaN(d.getTime()) && realDay(value)) return ok(value.slice(0, 10));
      }
      return fail(`${JSON.stringify(value)} is not a date (YYYY-MM-DD)`);
    }
    case 'json':
      // Destinations take a string as JSON text: text that is not JSON is kept as a JSON string.
      if (typeof value === 'string') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          return value.includes('\u0000') ? fail(`the text ${NUL_TEXT}`) : ok(JSON.stringify(value));
        }
        return holdsNul(parsed) ? fail(`the JSON ${NUL_TEXT}`) : ok(value);
      }
      return holdsNul(value) ? fail(`the JSON ${NUL_TEXT}`) : ok(value);
    default: {
      if (type.startsWith('decimal(')) {
        const [, p, s] = /^decimal\((\d+),(\d+)\)$/.exec(type) ?? [];
        const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
        if (!DECIMAL.test(text)) return fail(`${JSON.stringify(value)} is not a decimal`);
        const [int] = text.replace(/^[+-]/, '').split('.');
        if (int.replace(/^0+/, '').length > Number(p) - Number(s)) return fail(`${text} does not fit ${type}`);
        return ok(text);
      }
      return fail(`unknown column type ${type}`);
    }
  }
}
