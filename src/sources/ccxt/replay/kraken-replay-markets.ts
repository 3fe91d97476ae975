// Kraken's names for the replayed markets and its reference-data shapes: GET /0/public/Assets and
// /0/public/AssetPairs as Kraken answers them (legacy X/Z-prefixed asset ids such as XXBT and ZUSD, pair ids such
// as XXBTZUSD, altnames such as XBTUSD), and the 24-hour Ticker entry, rendered from ccxt-replay-series.ts.
import { REPLAY_MARKETS, replayTicker, replayTrades, type ReplayMarket } from './ccxt-replay-series.ts';

/** One asset as Kraken lists it in /0/public/Assets. */
interface KrakenAsset {
  /** Kraken's asset id (the key in Assets and the `base`/`quote` of a pair). */
  id: string;
  altname: string;
  /** Decimals Kraken records balances with. */
  decimals: number;
  displayDecimals: number;
}

// ccxt's unified code → Kraken's asset (Kraken's own ids and decimals for these four).
const ASSETS: Record<string, KrakenAsset> = {
  BTC: { id: 'XXBT', altname: 'XBT', decimals: 10, displayDecimals: 5 },
  ETH: { id: 'XETH', altname: 'ETH', decimals: 10, displayDecimals: 5 },
  SOL: { id: 'SOL', altname: 'SOL', decimals: 10, displayDecimals: 5 },
  USD: { id: 'ZUSD', altname: 'USD', decimals: 4, displayDecimals: 2 },
};

/** A replayed market under Kraken's names. */
export interface KrakenPair {
  market: ReplayMarket;
  /** Pair id, e.g. XXBTZUSD: the key of every result. */
  id: string;
  /** e.g. XBTUSD (accepted as `pair` too). */
  altname: string;
  /** e.g. XBT/USD. */
  wsname: string;
  base: KrakenAsset;
  quote: KrakenAsset;
}

function krakenPair(market: ReplayMarket): KrakenPair {
  const base = ASSETS[market.base];
  const quote = ASSETS[market.quote];
  // Legacy pairs of two X/Z assets are keyed by both ids (XXBTZUSD); newer ones by their altname (SOLUSD).
  const legacy = base.id.length === 4 && quote.id.length === 4;
  const altname = base.altname + quote.altname;
  return { market, id: legacy ? base.id + quote.id : altname, altname, wsname: `${base.altname}/${quote.altname}`, base, quote };
}

/** The replayed Kraken pairs, in REPLAY_MARKETS order. */
export const KRAKEN_PAIRS: KrakenPair[] = REPLAY_MARKETS.kraken.map(krakenPair);

/** The pair a `pair` parameter names (its id or altname, as Kraken accepts either), or undefined. */
export function findKrakenPair(name: string): KrakenPair | undefined {
  const upper = name.toUpperCase();
  return KRAKEN_PAIRS.find((p) => p.id === upper || p.altname === upper);
}

/** A price on the pair's tick as Kraken prints it (a string with pair_decimals decimals). */
export const krakenPrice = (pair: KrakenPair, value: number): string => value.toFixed(pair.market.priceDecimals);
/** A base amount as Kraken prints it (lot_decimals decimals). */
export const krakenVolume = (pair: KrakenPair, value: number): string => value.toFixed(pair.market.amountDecimals);

/** `result` of /0/public/Assets: every asset the replayed pairs use. */
export function krakenAssets(): Record<string, object> {
  const result: Record<string, object> = {};
  for (const code of [...new Set(KRAKEN_PAIRS.flatMap((p) => [p.market.base, p.market.quote]))].sort()) {
    const a = ASSETS[code];
    result[a.id] = { aclass: 'currency', altname: a.altname, decimals: a.decimals, display_decimals: a.displayDecimals, status: 'enabled' };
  }
  return result;
}

// Kraken's public fee schedule for spot pairs (30-day volume in USD, percent), the first tiers.
const TAKER_FEES = [[0, 0.26], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18], [1000000, 0.16]];
const MAKER_FEES = [[0, 0.16], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08], [1000000, 0.06]];

/** `result` of /0/public/AssetPairs for `pairs` (all of them when none are asked for). */
export function krakenAssetPairs(pairs: KrakenPair[]): Record<string, object> {
  const result: Record<string, object> = {};
  for (const p of pairs) {
    result[p.id] = {
      altname: p.altname,
      wsname: p.wsname,
      aclass_base: 'currency',
      base: p.base.id,
      aclass_quote: 'currency',
      quote: p.quote.id,
      lot: 'unit',
      cost_decimals: p.market.priceDecimals + 1,
      pair_decimals: p.market.priceDecimals,
      lot_decimals: p.market.amountDecimals,
      lot_multiplier: 1,
      leverage_buy: [],
      leverage_sell: [],
      fees: TAKER_FEES,
      fees_maker: MAKER_FEES,
      fee_volume_currency: 'ZUSD',
      margin_call: 80,
      margin_stop: 40,
      // The smallest order is one lot step here (Kraken's real minimums differ per pair).
      ordermin: (10 ** -p.market.amountDecimals).toFixed(p.market.amountDecimals),
      tick_size: (10 ** -p.market.priceDecimals).toFixed(p.market.priceDecimals),
      status: 'online',
    };
  }
  return result;
}

/**
 * One pair's /0/public/Ticker entry at `nowMs` from replayTicker: a/b/c the ask, bid and last trade, then
 * [today, last 24 hours] pairs for v/p/t/l/h and o the opening price. The replayed market keeps only 24-hour figures,
 * so "today" repeats them; the 24-hour vwap is the typical price (high + low + last) / 3 on the pair's tick. The trade
 * count and the last trade's volume come from the replayed trades of those 24 hours.
 */
export function krakenTicker(pair: KrakenPair, nowMs: number): object | undefined {
  const t = replayTicker('kraken', pair.market.symbol, nowMs);
  if (!t) return undefined;
  const price = (v: number) => krakenPrice(pair, v);
  const volume = krakenVolume(pair, t.baseVolume);
  const vwap = price(Math.round(((t.high + t.low + t.last) / 3) * 10 ** pair.market.priceDecimals) / 10 ** pair.market.priceDecimals);
  const lot = krakenVolume(pair, 1);
  const trades = replayTrades('kraken', pair.market.symbol, t.timestamp - 86_400_000, t.timestamp);
  const lastVolume = krakenVolume(pair, trades.at(-1)?.amount ?? 0);
  return {
    a: [price(t.ask), '1', lot],
    b: [price(t.bid), '1', lot],
    c: [price(t.last), lastVolume],
    v: [volume, volume],
    p: [vwap, vwap],
    t: [trades.length, trades.length],
    l: [price(t.low), price(t.low)],
    h: [price(t.high), price(t.high)],
    o: price(t.open),
  };
}
