// Identity of exchanges (#25 item 1): one exchange under one key, whatever id a source gives it. The well-known renames
// are built in; a row of coinlake_meta.exchange_alias (from `identity.exchanges` of the catalog YAML, or written by
// hand) adds an alias or overrides a built-in one (map an alias to itself to undo it).
import type { Session } from '../../core/destination.ts';
import { META_SCHEMA } from '../../catalog/meta-tables.ts';

/** One alias: the id a source uses → the exchange key it stands for. */
export interface ExchangeAlias {
  alias: string;
  exchange_key: string;
  note: string | null;
  /** `built-in` or where the row came from (`catalog`, `user`). */
  origin: string;
}

/** Renames every source still reports under an old id: CoinCap's `gdax` is Coinbase (Pro), ccxt's `bitfinex2` is Bitfinex's v2 API. */
export const BUILTIN_EXCHANGE_ALIASES: readonly ExchangeAlias[] = [
  { alias: 'gdax', exchange_key: 'coinbase', note: 'GDAX became Coinbase Pro (2018), then Coinbase Advanced', origin: 'built-in' },
  { alias: 'coinbasepro', exchange_key: 'coinbase', note: 'Coinbase Pro', origin: 'built-in' },
  { alias: 'coinbase-pro', exchange_key: 'coinbase', note: 'Coinbase Pro', origin: 'built-in' },
  { alias: 'bitfinex2', exchange_key: 'bitfinex', note: "ccxt's id for Bitfinex's v2 API", origin: 'built-in' },
  { alias: 'huobipro', exchange_key: 'huobi', note: 'Huobi Pro, now HTX', origin: 'built-in' },
  { alias: 'htx', exchange_key: 'huobi', note: 'Huobi renamed HTX (2023)', origin: 'built-in' },
  { alias: 'okex', exchange_key: 'okx', note: 'OKEx renamed OKX (2022)', origin: 'built-in' },
  { alias: 'okex5', exchange_key: 'okx', note: "ccxt's id for OKEx's v5 API", origin: 'built-in' },
];

export const EXCHANGE_ALIAS_TABLE = `${META_SCHEMA}.exchange_alias`;

/** The aliases in force: the built-in ones, overridden and extended by the table's rows (lower case). */
export async function exchangeAliases(s: Session): Promise<ExchangeAlias[]> {
  const rows = await s.query<{ alias: string; exchange_key: string; note: string | null; origin: string | null }>(
    `SELECT alias, exchange_key, note, origin FROM ${EXCHANGE_ALIAS_TABLE} ORDER BY alias`,
  );
  const byAlias = new Map(BUILTIN_EXCHANGE_ALIASES.map((a) => [a.alias, a]));
  for (const r of rows) byAlias.set(r.alias.toLowerCase(), { alias: r.alias.toLowerCase(), exchange_key: r.exchange_key.toLowerCase(), note: r.note, origin: r.origin ?? 'user' });
  return [...byAlias.values()].sort((a, b) => (a.alias < b.alias ? -1 : 1));
}

/**
 * SQL that maps a lower-case exchange id to its key, and its parameters (numbered from `firstParam`): a CASE over the
 * aliases, the id itself when none applies. Portable, and free of a table so a model can use it in any select.
 */
export function exchangeKeySql(s: Session, aliases: ExchangeAlias[], firstParam: number): { key: (expr: string) => string; params: string[] } {
  const mapped = aliases.filter((a) => a.alias !== a.exchange_key);
  const params: string[] = [];
  const whens = mapped.map((a) => {
    params.push(a.alias, a.exchange_key);
    const i = firstParam + params.length - 2;
    return `WHEN CAST(${s.dialect.param(i)} AS VARCHAR) THEN CAST(${s.dialect.param(i + 1)} AS VARCHAR)`;
  });
  return { key: (expr) => (whens.length ? `(CASE ${expr} ${whens.join(' ')} ELSE ${expr} END)` : expr), params };
}
