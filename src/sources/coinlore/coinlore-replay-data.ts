// What the replay server's CoinLore routes serve: the format examples (test/fixtures/formats/coinlore-*.json) plus
// deterministic generated coins, exchanges and markets, so paging and per-coin requests can be exercised.
import { readFile } from 'node:fs/promises';
import { unitFraction } from '../../replay/deterministic-numbers.ts';
import { fixturesRoot, type ApiRecord } from '../../replay/recorded-fixtures.ts';

export interface CoinloreData {
  /** `/tickers/` items in rank order. */
  tickers: ApiRecord[];
  /** `info.time` of `/tickers/` (unix s). */
  tickersTime: number;
  /** The 2023 `/ticker/?id=90` item (legacy shape). */
  legacyBitcoin: ApiRecord;
  global: ApiRecord;
  /** `/exchanges/` as served: an object keyed by id. */
  exchanges: Record<string, ApiRecord>;
  /** `/exchange/?id=5`. */
  binanceExchange: { '0': ApiRecord; pairs: ApiRecord[] };
  bitcoinMarkets: ApiRecord[];
  bitcoinSocial: ApiRecord;
}

/**
 * Exchanges in the 2021 shape (values from a 2021 CoinLore export): `date_live` (sometimes `YYYY-00-00` or empty),
 * `date_added` (`0000-00-00 00:00:00` when unknown), no `active_pairs`. Served after the two current-shape ones.
 */
export const LEGACY_EXCHANGES: ApiRecord[] = [
  { id: '21', name: 'BTCExchange', name_id: 'btcexchange', url: 'https://www.btcxchange.com', country: 'Philippines', date_live: '', date_added: '0000-00-00 00:00:00', usdt: 0, fiat: 0, auto: 'Yes', volume_usd: 0, udate: 'NA', volume_usd_adj: 0 },
  { id: '56', name: 'Kraken', name_id: 'kraken', url: 'https://www.kraken.com', country: 'San Francisco, California, United States', date_live: '2011-00-00', date_added: '0000-00-00 00:00:00', usdt: 0, fiat: 0, auto: 'Yes', volume_usd: 831383044.2069333, udate: 'Recently', volume_usd_adj: 576260146.0895193 },
  { id: '113', name: 'Crex24', name_id: 'crex24', url: 'https://crex24.com', country: 'Cyprus', date_live: '2017-01-01', date_added: '2018-05-03 00:00:00', usdt: 0, fiat: 1, auto: 'No', volume_usd: 2507461.65856224, udate: 'Recently', volume_usd_adj: 2507461.65856224 },
  { id: '187', name: 'Coinbase Pro', name_id: 'coinbase', url: 'https://www.coinbase.com/', country: 'San Francisco, California, United States', date_live: '2012-06-20', date_added: '2018-07-14 00:00:00', usdt: 0, fiat: 1, auto: 'No', volume_usd: 1705060864.9436858, udate: 'Recently', volume_usd_adj: 3169825716.0462747 },
];

const money = (x: number) => x.toFixed(2);

/** The generated coin at 1-based `rank` (> 3): id `1000 + rank`, CoinLore's mixed types; every 4th has no max supply. */
export function generatedTicker(rank: number): ApiRecord {
  const id = String(1000 + rank);
  const price = 10 ** (unitFraction(id, 'exp') * 5 - 2) * (1 + unitFraction(id, 'price'));
  const supply = Math.round(1e6 + unitFraction(id, 'supply') * 1e9);
  const volume = supply * price * unitFraction(id, 'volume') * 0.1;
  return {
    id,
    symbol: `C${rank}`,
    name: `Coin ${rank}`,
    nameid: `coin-${rank}`,
    rank,
    price_usd: money(price),
    percent_change_24h: money((unitFraction(id, 'c24') - 0.5) * 20),
    percent_change_1h: money((unitFraction(id, 'c1') - 0.5) * 4),
    percent_change_7d: money((unitFraction(id, 'c7') - 0.5) * 40),
    price_btc: (price / 69649.73).toFixed(8),
    market_cap_usd: money(supply * price),
    volume24: Math.round(volume * 100) / 100,
    volume24a: Math.round(volume * 95) / 100,
    csupply: money(supply),
    tsupply: String(supply),
    msupply: rank % 4 === 0 ? '' : String(supply * 2),
  };
}

/** The legacy (pre-2024) `/ticker/` shape of a current item: volume24 as a string, volume24_native, no volume24a. */
export function legacyTicker(t: ApiRecord): ApiRecord {
  const { volume24a: _dropped, ...rest } = t;
  const price = Number(t.price_usd);
  return { ...rest, volume24: money(Number(t.volume24)), volume24_native: money(price > 0 ? Number(t.volume24) / price : 0) };
}

/** `/coin/markets/?id=` of a generated coin: two markets. */
export function generatedMarkets(t: ApiRecord, time: number): ApiRecord[] {
  const price = Number(t.price_usd);
  const id = String(t.id);
  return [
    { name: 'Binance', base: t.symbol, quote: 'USDT', price, price_usd: price, volume: 1000 + Math.round(unitFraction(id, 'm1') * 1e6) / 100, volume_usd: Math.round(price * (1000 + unitFraction(id, 'm1') * 1e4) * 100) / 100, time },
    { name: 'Coinbase', base: t.symbol, quote: 'USD', price, price_usd: price, volume: 10 + Math.round(unitFraction(id, 'm2') * 1e5) / 100, volume_usd: Math.round(price * (10 + unitFraction(id, 'm2') * 1e3) * 100) / 100, time },
  ];
}

/** `/coin/social_stats/?id=` of a generated coin; every 3rd has no reddit activity figure (null). */
export function generatedSocial(t: ApiRecord): ApiRecord {
  const id = String(t.id);
  const rank = Number(t.rank);
  return {
    reddit: { avg_active_users: rank % 3 === 0 ? null : Math.round(unitFraction(id, 'ra') * 1e5) / 100, subscribers: Math.round(unitFraction(id, 'rs') * 1e5) },
    twitter: { followers_count: Math.round(unitFraction(id, 'tf') * 1e6), status_count: Math.round(unitFraction(id, 'ts') * 1e4) },
  };
}

async function readFormat(name: string): Promise<unknown> {
  return JSON.parse(await readFile(new URL(`formats/${name}`, fixturesRoot), 'utf8'));
}

/** Loads the format examples and builds `coinCount` tickers (the three examples first). */
export async function loadCoinloreData(coinCount = 250): Promise<CoinloreData> {
  const [tickers, legacy, global, exchanges, exchange, markets, social] = await Promise.all([
    readFormat('coinlore-tickers-start0-limit3.json'),
    readFormat('coinlore-ticker-90.legacy-format.json'),
    readFormat('coinlore-global.json'),
    readFormat('coinlore-exchanges.json'),
    readFormat('coinlore-exchange-5.json'),
    readFormat('coinlore-coin-markets-90.json'),
    readFormat('coinlore-social-stats-90.json'),
  ]);
  const page = tickers as { data: ApiRecord[]; info: { time: number } };
  const all = page.data.slice(0, coinCount);
  for (let rank = all.length + 1; rank <= coinCount; rank++) all.push(generatedTicker(rank));
  const byId: Record<string, ApiRecord> = { ...(exchanges as Record<string, ApiRecord>) };
  for (const e of LEGACY_EXCHANGES) byId[String(e.id)] = e;
  return {
    tickers: all,
    tickersTime: page.info.time,
    legacyBitcoin: (legacy as ApiRecord[])[0],
    global: (global as ApiRecord[])[0],
    exchanges: byId,
    binanceExchange: exchange as CoinloreData['binanceExchange'],
    bitcoinMarkets: markets as ApiRecord[],
    bitcoinSocial: social as ApiRecord,
  };
}
