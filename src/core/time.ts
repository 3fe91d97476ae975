// Time helpers: every instant is UTC; epoch numbers are normalised by their magnitude.
import { TerminalError } from './errors.ts';

/** Epoch number in s, ms, µs or ns (told apart by magnitude) → milliseconds. */
export function epochToMs(n: number): number {
  const a = Math.abs(n);
  if (a < 1e11) return n * 1000; // seconds (until year 5138)
  if (a < 1e14) return n; // milliseconds
  if (a < 1e17) return Math.floor(n / 1000); // microseconds
  return Math.floor(n / 1e6); // nanoseconds
}

/** Parses a date given as 'YYYY-MM-DD', ISO-8601 or an epoch number; throws on anything else. */
export function parseInstant(value: string | number | Date): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(epochToMs(value));
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return new Date(epochToMs(Number(v)));
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    throw new TerminalError(`"${value}" is not a date (expected YYYY-MM-DD, ISO-8601 or epoch)`, {
      hint: 'write it as 2024-01-31, 2024-01-31T12:00:00Z or an epoch number in seconds or milliseconds',
    });
  }
  return d;
}

/** Splits [start, end) into consecutive windows of at most stepMs. */
export function chunkWindow(start: Date, end: Date, stepMs: number): { start: Date; end: Date }[] {
  const out: { start: Date; end: Date }[] = [];
  for (let t = start.getTime(); t < end.getTime(); t += stepMs) {
    out.push({ start: new Date(t), end: new Date(Math.min(t + stepMs, end.getTime())) });
  }
  return out;
}
