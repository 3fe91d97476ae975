// What one replayed exchange gives the ccxt replay mount (ccxt-replay.ts mounts each under `/ccxt/<id>`): its routes
// in the exchange's own shapes (from the series in ccxt-replay-series.ts), its request limit, and its error bodies.
// One file per exchange: <id>-replay-routes.ts.
import type { ReplayRequest } from '../../../replay/replay-mount.ts';
import type { ReplayResponse } from '../../../replay/replay-response.ts';
import type { CcxtReplayExchange } from './ccxt-replay-series.ts';

/** An exchange's public request limit as the replay server enforces it: `requests` per `windowMs`. */
export interface ReplayRateLimit {
  requests: number;
  windowMs: number;
}

export interface CcxtReplayExchangeRoutes {
  id: CcxtReplayExchange;
  /** The limit the mount enforces before calling `answer` (beyond it: `rateLimited()`). */
  rateLimit: ReplayRateLimit;
  /** The exchange's own answer to a request over its limit (status 429 and its body, Retry-After if it sends one). */
  rateLimited(): ReplayResponse;
  /**
   * Answers one request; `r.path` is the path after `/ccxt/<id>` (e.g. `/0/public/OHLC` for Kraken), `nowMs` the
   * server's clock. Unknown paths and symbols answer as the exchange does (its status and error body).
   */
  answer(r: ReplayRequest, nowMs: number): ReplayResponse;
}
