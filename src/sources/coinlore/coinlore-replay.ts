// CoinLore on the replay server, under /coinlore/api: the format examples first, then generated coins.
import type { SourceReplayRoutes } from '../../replay/replay-mount.ts';
import { loadCoinloreData } from './coinlore-replay-data.ts';
import { routeCoinlore } from './coinlore-replay-routes.ts';

export interface CoinloreReplayOptions {
  /** CoinLore coins served by /coinlore/api/tickers/ (the three format examples first). Default 250. */
  coinloreCoinCount?: number;
  /** Shape of CoinLore's /ticker/ items: 'current' (default) or 'legacy' (pre-2024). */
  coinloreTickerShape?: 'current' | 'legacy';
}

export interface CoinloreReplayApi {
  /** url + '/coinlore/api' (CoinLore's paths follow, e.g. `/tickers/`). */
  coinloreUrl: string;
}

/** CoinLore's replay routes for one server start. */
export async function coinloreReplay(opts: CoinloreReplayOptions): Promise<SourceReplayRoutes<CoinloreReplayApi>> {
  const data = await loadCoinloreData(opts.coinloreCoinCount);
  return {
    mounts: [{ prefix: '/coinlore/api', answer: ({ path, query }) => routeCoinlore(data, path, query, { tickerShape: opts.coinloreTickerShape }) }],
    api: (url) => ({ coinloreUrl: `${url}/coinlore/api` }),
  };
}
