// Coinbase Advanced Trade's product objects (GET /api/v3/brokerage/market/products[/{id}]) for the replayed markets:
// ids `BASE-QUOTE`, increments from each market's decimals, price and 24-hour figures from the generated ticker.
import { decimalText, tickText } from './ccxt-replay-decimal.ts';
import { REPLAY_MARKETS, replayTicker, type ReplayMarket } from './ccxt-replay-series.ts';

const DAY_MS = 86_400_000;

/** Display names Coinbase gives the replayed assets (`base_name`, `quote_name`, v2 currency names). */
export const COINBASE_ASSET_NAMES: Record<string, string> = { BTC: 'Bitcoin', ETH: 'Ethereum', SOL: 'Solana', USD: 'US Dollar' };

/** Coinbase's product id of a replayed market: `BTC-USD`. */
export const productId = (m: ReplayMarket): string => `${m.base}-${m.quote}`;

/** The replayed market with Coinbase product id `id`, or undefined. */
export function coinbaseMarket(id: string): ReplayMarket | undefined {
  return REPLAY_MARKETS.coinbase.find((m) => productId(m) === id);
}

/** The percent change from `from` to `to` as Coinbase writes it (a decimal string, e.g. `-1.25`). */
function percentChange(from: number, to: number): string {
  return from === 0 ? '0' : String(((to - from) / from) * 100);
}

/**
 * One SPOT product at `nowMs` in Advanced Trade's public shape. `price` is the last price, `volume_24h` the base
 * volume of the last 24 hours and `price_percentage_change_24h` the change from its open, all from replayTicker;
 * the order-size bounds are constants (the series has none).
 */
export function coinbaseProduct(m: ReplayMarket, nowMs: number): Record<string, unknown> {
  const id = productId(m);
  const ticker = replayTicker('coinbase', m.symbol, nowMs);
  const dayBefore = replayTicker('coinbase', m.symbol, nowMs - DAY_MS);
  const price = ticker ? decimalText(ticker.last, m.priceDecimals) : '';
  const volume = ticker ? decimalText(ticker.baseVolume, m.amountDecimals) : '';
  return {
    product_id: id,
    price,
    price_percentage_change_24h: ticker ? percentChange(ticker.open, ticker.last) : '',
    volume_24h: volume,
    volume_percentage_change_24h: ticker && dayBefore ? percentChange(dayBefore.baseVolume, ticker.baseVolume) : '',
    base_increment: tickText(m.amountDecimals),
    quote_increment: tickText(m.priceDecimals),
    quote_min_size: '1',
    quote_max_size: '25000000',
    base_min_size: tickText(m.amountDecimals),
    base_max_size: '100000',
    base_name: COINBASE_ASSET_NAMES[m.base] ?? m.base,
    quote_name: COINBASE_ASSET_NAMES[m.quote] ?? m.quote,
    watched: false,
    is_disabled: false,
    new: false,
    status: 'online',
    cancel_only: false,
    limit_only: false,
    post_only: false,
    trading_disabled: false,
    auction_mode: false,
    product_type: 'SPOT',
    quote_currency_id: m.quote,
    base_currency_id: m.base,
    fcm_trading_session_details: null,
    mid_market_price: '',
    alias: '',
    alias_to: [],
    base_display_symbol: m.base,
    quote_display_symbol: m.quote,
    view_only: false,
    price_increment: tickText(m.priceDecimals),
    display_name: id,
    product_venue: 'CBE',
    approximate_quote_24h_volume: ticker ? (ticker.baseVolume * ticker.last).toFixed(2) : '',
  };
}
