// Pure, seedless number helpers for generated payloads: the same input always gives the same
// value, so two replay runs (or two processes) serve byte-identical generated data.

/** FNV-1a 32-bit hash of a string: a stable seed for per-asset values. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A value in [0, 1) derived from a string; `salt` gives independent values for the same id. */
export function unitFraction(text: string, salt = ''): number {
  return hashString(`${salt}:${text}`) / 0x1_0000_0000;
}

/** CoinCap's decimal encoding: a JSON string with exactly 16 fractional digits. */
export function decimalString(value: number): string {
  return value.toFixed(16);
}
