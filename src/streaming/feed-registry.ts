// The live feeds by name (`coinlake stream --source <name>`): one line per feed.
import { ConfigError } from '../core/errors.ts';
import { binanceAggTradesFeed, binanceKlinesFeed, binanceTradesFeed } from './binance-feeds.ts';
import { coincapPricesFeed, coincapTradesFeed } from './coincap-feeds.ts';
import type { Feed } from './feed.ts';
import { coincapAssetsFeed, coincapExchangesFeed, coinloreExchangesFeed, coinloreTickersFeed } from './poll-feeds.ts';

export const FEEDS: Record<string, Feed> = {
  'coincap.prices': coincapPricesFeed,
  'coincap.trades': coincapTradesFeed,
  'binance.klines': binanceKlinesFeed,
  'binance.trades': binanceTradesFeed,
  'binance.aggtrades': binanceAggTradesFeed,
  'coincap.assets': coincapAssetsFeed,
  'coincap.exchanges': coincapExchangesFeed,
  'coinlore.tickers': coinloreTickersFeed,
  'coinlore.exchanges': coinloreExchangesFeed,
};

/** The feed named `<source>.<stream>`; a ConfigError listing the names otherwise. */
export function feedByName(name: string): Feed {
  const feed = FEEDS[name];
  if (!feed) throw new ConfigError(`unknown stream source "${name}"`, { hint: `one of ${Object.keys(FEEDS).join(', ')}` });
  return feed;
}
