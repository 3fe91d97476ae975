// Decimal text for the replayed exchanges' JSON strings: a value on a market's tick written with at most that many
// decimals and no trailing zeros ("42000.5", "0.00000012"), never in exponent notation, so that ccxt's
// parseFloat gives back exactly the number the series holds.

/** `value` written with at most `decimals` fractional digits, trailing zeros dropped (`1e-8` → `0.00000001`). */
export function decimalText(value: number, decimals: number): string {
  const fixed = value.toFixed(decimals);
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** The tick of a market with `decimals` decimals as exchanges write it: `0.01` for 2, `1` for 0. */
export function tickText(decimals: number): string {
  return decimals === 0 ? '1' : `0.${'0'.repeat(decimals - 1)}1`;
}
