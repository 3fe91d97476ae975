// Durations as config files write them ('90s', '15m', '2h', '1d', '1w', '250ms'), for quality checks and intervals.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/;

/** Milliseconds of a duration such as '15m' or '2h', or undefined when the text is not one (or is zero). */
export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  return ms > 0 ? ms : undefined;
}

/** The form durationMs accepts, for error messages. */
export const DURATION_FORM = 'a positive number with a unit ms, s, m, h, d or w, e.g. 15m or 2h';
