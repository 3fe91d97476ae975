// REST APIs on the replay server for the declarative REST source: CoinGecko's /coins/markets under /coingecko/api/v3,
// and the generic paging styles under /rest/<style>/markets.
import type { SourceReplayRoutes } from '../../replay/replay-mount.ts';
import { loadGeckoMarkets, routeCoingecko, routeRest } from './rest-replay-routes.ts';

export interface RestReplayOptions {
  /** Markets served by /coingecko/api/v3/coins/markets and /rest/<style>/markets. Default 7. */
  geckoMarketCount?: number;
}

export interface RestReplayApi {
  /** url + '/coingecko/api/v3'. */
  coingeckoUrl: string;
}

/** The REST replay routes for one server start. */
export async function restReplay(opts: RestReplayOptions): Promise<SourceReplayRoutes<RestReplayApi>> {
  const markets = await loadGeckoMarkets(opts.geckoMarketCount);
  return {
    mounts: [
      { prefix: '/coingecko/api/v3', answer: ({ path, query }) => routeCoingecko(markets, path, query) },
      { prefix: '/rest', answer: ({ path, query, serverUrl }) => routeRest(markets, path, query, serverUrl) },
    ],
    api: (url) => ({ coingeckoUrl: `${url}/coingecko/api/v3` }),
  };
}
