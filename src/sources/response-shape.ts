// Checks that a JSON response has the shape a source expects; a mismatch is a TerminalError that names the URL,
// the path in the body that did not match and the shape that was expected (an HTML page or a changed API says so).
import type { z } from 'zod';
import { TerminalError } from '../core/errors.ts';

/** Short description of a JSON value for error messages: `an object`, `an array of 3`, `the string "<html>…"`. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `the ${typeof value} ${String(value)}`;
}

/** The value at a path of keys/indices, or undefined. */
function valueAt(json: unknown, path: PropertyKey[]): unknown {
  let v = json;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k as string];
  }
  return v;
}

/**
 * Parses `json` with `schema`; on failure throws a TerminalError like
 * `unexpected response from URL: at info.coins_num expected a number, got the string "x" (expected {"data": [...], ...})`.
 */
export function parseShape<S extends z.ZodType>(schema: S, json: unknown, url: string, expected: string): z.output<S> {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  const where = path.length ? path.map(String).join('.') : '(the body)';
  throw new TerminalError(`unexpected response from ${url}: at ${where} ${issue?.message ?? 'invalid'}, got ${describeJson(valueAt(json, path))} (expected ${expected})`, {
    url,
    field: path.length ? path.map(String).join('.') : undefined,
    hint: 'the API changed its response shape, or the URL points at something else',
  });
}

/**
 * A source record with one more field (the snapshot time of its response). A value that is not a JSON object
 * passes unchanged, for the normalizer to quarantine as a record: spreading it would make a record of nothing.
 */
export function withField(record: unknown, name: string, value: unknown): Record<string, unknown> {
  const isObject = record !== null && typeof record === 'object' && !Array.isArray(record);
  return (isObject ? { ...record, [name]: value } : record) as Record<string, unknown>;
}
