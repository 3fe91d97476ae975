// The ccxt exchanges on the replay server, each under `/ccxt/<id>` (point a ccxt connection's URL at
// `<replay url>/ccxt/kraken`): every exchange's routes from its own file, its request limit enforced in a sliding
// window (beyond it the exchange's own 429), every accepted request's time kept so tests and the bench can check the
// client never went over the limit, and an optional 429 storm.
import { ConfigError } from '../../../core/errors.ts';
import type { ReplayMount, SourceReplayRoutes } from '../../../replay/replay-mount.ts';
import type { CcxtReplayExchangeRoutes, ReplayRateLimit } from './ccxt-replay-exchange.ts';
import type { CcxtReplayExchange } from './ccxt-replay-series.ts';
import { bybitReplayRoutes } from './bybit-replay-routes.ts';
import { coinbaseReplayRoutes } from './coinbase-replay-routes.ts';
import { krakenReplayRoutes } from './kraken-replay-routes.ts';
import { okxReplayRoutes } from './okx-replay-routes.ts';

/** Every replayed exchange's routes, one line each. */
const EXCHANGES: CcxtReplayExchangeRoutes[] = [
  coinbaseReplayRoutes,
  bybitReplayRoutes,
  krakenReplayRoutes,
  okxReplayRoutes,
];

export interface CcxtReplayOptions {
  /** Overrides an exchange's request limit (tests and the bench shrink or tighten it). */
  ccxtRateLimits?: Partial<Record<CcxtReplayExchange, ReplayRateLimit>>;
}

/** What one exchange's routes saw. */
export interface CcxtExchangeUsage {
  limit: ReplayRateLimit;
  /** Server times (ms) of the requests it answered (not the 429s), ascending. */
  acceptedAt: number[];
  /** Requests answered 429 (over the limit or in a storm). */
  rejected: number;
  /** Most requests accepted within any one window of `limit.windowMs`: never above `limit.requests`. */
  maxInWindow: number;
  /** Paths (with query) of the accepted requests, in order. */
  paths: string[];
}

export interface CcxtReplayApi {
  /** `url/ccxt/<id>` of a replayed exchange. */
  ccxtUrl(exchange: CcxtReplayExchange): string;
  /** What `exchange`'s routes saw so far. */
  ccxtUsage(exchange: CcxtReplayExchange): CcxtExchangeUsage;
  /** The next `count` requests to `exchange` answer its 429 whatever the limit (a storm to wait out). */
  ccxtStorm(exchange: CcxtReplayExchange, count: number): void;
}

class ExchangeWindow {
  readonly usage: CcxtExchangeUsage;
  storm = 0;
  private start = 0;

  constructor(readonly limit: ReplayRateLimit) {
    this.usage = { limit, acceptedAt: [], rejected: 0, maxInWindow: 0, paths: [] };
  }

  /** True when a request at `now` is within the limit (and records it). */
  admit(now: number, path: string): boolean {
    const at = this.usage.acceptedAt;
    if (this.storm > 0) {
      this.storm--;
      this.usage.rejected++;
      return false;
    }
    while (this.start < at.length && at[this.start] <= now - this.limit.windowMs) this.start++;
    if (at.length - this.start >= this.limit.requests) {
      this.usage.rejected++;
      return false;
    }
    at.push(now);
    this.usage.paths.push(path);
    this.usage.maxInWindow = Math.max(this.usage.maxInWindow, at.length - this.start);
    return true;
  }
}

/** The ccxt exchanges' replay routes for one server start. */
export async function ccxtReplay(opts: CcxtReplayOptions): Promise<SourceReplayRoutes<CcxtReplayApi>> {
  const windows = new Map<string, ExchangeWindow>();
  const mounts: ReplayMount[] = EXCHANGES.map((exchange) => {
    const window = new ExchangeWindow(opts.ccxtRateLimits?.[exchange.id] ?? exchange.rateLimit);
    windows.set(exchange.id, window);
    return {
      prefix: `/ccxt/${exchange.id}`,
      method: 'GET',
      answer: (r) => {
        const now = Date.now();
        const query = r.query.toString();
        if (!window.admit(now, query ? `${r.path}?${query}` : r.path)) return exchange.rateLimited();
        return exchange.answer(r, now);
      },
    };
  });
  const windowOf = (exchange: CcxtReplayExchange): ExchangeWindow => {
    const window = windows.get(exchange);
    if (!window) throw new ConfigError(`the replay server has no routes for ccxt exchange "${exchange}"`, { hint: 'replayed ccxt exchanges: ' + [...windows.keys()].join(', ') });
    return window;
  };
  return {
    mounts,
    api: (url) => ({
      ccxtUrl: (exchange) => `${url}/ccxt/${exchange}`,
      ccxtUsage: (exchange) => {
        const u = windowOf(exchange).usage;
        return { ...u, acceptedAt: [...u.acceptedAt], paths: [...u.paths] };
      },
      ccxtStorm: (exchange, count) => {
        windowOf(exchange).storm += count;
      },
    }),
  };
}
