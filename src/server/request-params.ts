// Query parameters of the dashboard API: every endpoint declares the parameters it takes and how each is parsed;
// anything else — an unknown name (`sql=`…), a repeated one, a malformed value — is a 400 with a clear message.
import { parseInstant } from '../core/time.ts';

/** A request the API refuses: status (400 unless told), message and hint, sent as JSON. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly status: 400 | 401 | 403 | 404 | 409 | 415 | 503 = 400,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Parses one parameter's text; throws ApiError with the parameter's name in the message. */
export type ParamParser<T> = (value: string, name: string) => T;
export type ParamSpec = Record<string, ParamParser<unknown>>;
export type ParsedParams<S extends ParamSpec> = { [K in keyof S]?: S[K] extends ParamParser<infer T> ? T : never };

/** Parameters a query string may not carry, with why. */
const SQL_NAMES = /^(sql|query|q|where|filter|order_by|orderby|table|select)$/i;

/** Reads the parameters `spec` declares from a query string; refuses unknown and repeated names. */
export function readParams<S extends ParamSpec>(query: URLSearchParams, spec: S): ParsedParams<S> {
  const out: Record<string, unknown> = {};
  const known = Object.keys(spec);
  const seen = new Set<string>();
  for (const [name, value] of query) {
    const parse = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!parse) {
      const takes = known.length ? `this endpoint takes: ${known.join(', ')}` : 'this endpoint takes no parameters';
      const hint = SQL_NAMES.test(name) ? `the dashboard API runs only its own read-only, parameterised queries and accepts no SQL; ${takes}` : takes;
      throw new ApiError(`unknown parameter "${name}"`, hint);
    }
    if (seen.has(name)) throw new ApiError(`parameter "${name}" is given more than once`);
    seen.add(name);
    if (value === '') continue;
    out[name] = parse(value, name);
  }
  return out as ParsedParams<S>;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A comma-separated list of ids (letters, digits, `.`, `_`, `-`), 1 to `max` of them, duplicates dropped. */
export function idList(max: number): ParamParser<string[]> {
  return (value, name) => {
    const ids = [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
    const bad = ids.find((id) => !ID.test(id));
    if (bad !== undefined) throw new ApiError(`${name}: "${bad}" is not an id (letters, digits, ".", "_" and "-", at most 64)`);
    if (ids.length === 0) throw new ApiError(`${name}: expected at least one id, e.g. ${name}=bitcoin,ethereum`);
    if (ids.length > max) throw new ApiError(`${name}: at most ${max} ids, got ${ids.length}`);
    return ids;
  };
}

/** An instant: YYYY-MM-DD, ISO-8601 or epoch (s, ms, µs). */
export const instant: ParamParser<Date> = (value, name) => {
  try {
    return parseInstant(value);
  } catch {
    throw new ApiError(`${name}: "${value}" is not a date`, 'use YYYY-MM-DD, ISO-8601 (2024-12-01T00:00:00Z) or epoch seconds');
  }
};

/** An integer within [min, max]. */
export function integer(min: number, max: number): ParamParser<number> {
  return (value, name) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new ApiError(`${name}: expected an integer from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
}

/** A decimal number within [min, max] (`50`, `12.5`; no exponent, no sign but a leading minus). */
export function decimal(min: number, max: number): ParamParser<number> {
  return (value, name) => {
    if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(value) || Number(value) < min || Number(value) > max) throw new ApiError(`${name}: expected a number from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
}

/** One of a fixed set of values (case-sensitive). */
export function oneOf<T extends string>(values: readonly T[]): ParamParser<T> {
  return (value, name) => {
    if (!(values as readonly string[]).includes(value)) throw new ApiError(`${name}: expected one of ${values.join(', ')}, got "${value}"`);
    return value as T;
  };
}

/** Text matching `re` (described by `what` in the error). */
export function matching(re: RegExp, what: string): ParamParser<string> {
  return (value, name) => {
    if (!re.test(value)) throw new ApiError(`${name}: "${value.slice(0, 80)}" is not ${what}`);
    return value;
  };
}

/** Checks that `from` is before `to` when both are given. */
export function checkRange(p: { from?: Date; to?: Date }): void {
  if (p.from && p.to && p.to.getTime() <= p.from.getTime()) {
    throw new ApiError(`to (${p.to.toISOString()}) must be after from (${p.from.toISOString()})`);
  }
}
