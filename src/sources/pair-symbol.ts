// Canonical trading pairs `BASE-QUOTE` from exchange symbols: `BTC/USDT`, `BTC-USDT`, `BTCUSDT` all become
// `BTC-USDT`. A glued symbol is split before the longest known quote asset at its end; the same rule exists as
// SQL for files DuckDB reads in bulk, so both paths agree.

/** Quote assets recognised at the end of a glued symbol (`ETHBTC` → `ETH-BTC`). */
export const QUOTE_ASSETS = [
  'FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'USDP', 'DAI', 'USD', 'EUR', 'GBP', 'TRY', 'BRL', 'AUD', 'JPY', 'RUB', 'UAH',
  'ZAR', 'IDRT', 'NGN', 'PLN', 'RON', 'ARS', 'MXN', 'BTC', 'ETH', 'BNB', 'XRP', 'TRX', 'DOGE', 'DOT', 'SOL',
] as const;

const quoteAlternation = [...QUOTE_ASSETS].sort((a, b) => b.length - a.length).join('|');
/** Glued symbol: the shortest base before a known quote (so the longest quote wins). */
const GLUED = new RegExp(`^([A-Z0-9]+?)(${quoteAlternation})$`);
const SEPARATED = /^([A-Z0-9]+)[/\-_]([A-Z0-9]+)$/;

/**
 * `BASE-QUOTE` of an exchange symbol, or undefined when it cannot be split. `hint` (e.g. from CSV column names
 * `Volume BTC` / `Volume USDT`) settles glued symbols first.
 */
export function canonicalPair(symbol: string, hint?: { base?: string; quote?: string }): string | undefined {
  const s = symbol.trim().toUpperCase();
  const sep = SEPARATED.exec(s);
  if (sep) return `${sep[1]}-${sep[2]}`;
  const base = hint?.base?.toUpperCase();
  const quote = hint?.quote?.toUpperCase();
  if (base && quote && s === base + quote) return `${base}-${quote}`;
  const glued = GLUED.exec(s);
  return glued ? `${glued[1]}-${glued[2]}` : undefined;
}

/** DuckDB SQL for canonicalPair over a VARCHAR expression (NULL when it cannot be split); without the hint. */
export function canonicalPairSql(expr: string): string {
  const u = `upper(trim(${expr}))`;
  return `CASE
    WHEN regexp_full_match(${u}, '[A-Z0-9]+[/\\-_][A-Z0-9]+') THEN regexp_replace(${u}, '^([A-Z0-9]+)[/\\-_]([A-Z0-9]+)$', '\\1-\\2')
    WHEN regexp_full_match(${u}, '${GLUED.source.slice(1, -1)}') THEN regexp_replace(${u}, '${GLUED.source}', '\\1-\\2')
  END`;
}
