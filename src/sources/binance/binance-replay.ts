// Binance on the replay server, under /binance: generated klines, trades and aggregate trades, with Binance's
// request-weight window (429, then 418).
import { parseIsoOption, type SourceReplayRoutes } from '../../replay/replay-mount.ts';
import { REPLAY_BINANCE_SYMBOLS } from './binance-replay-klines.ts';
import { BinanceWeightWindow, routeBinance, type BinanceUsage } from './binance-replay-routes.ts';

export interface BinanceReplayOptions {
  /** Binance request weight allowed per window; beyond it 429 (then 418). Default 6000, Binance's limit. */
  binanceWeightPerMinute?: number;
  /** Length of Binance's weight window in ms. Default 60 000; tests shrink it to scale time. */
  binanceWindowMs?: number;
  /** Binance symbols served. Default REPLAY_BINANCE_SYMBOLS. */
  binanceSymbols?: string[];
  /** ISO time of the first Binance candle. Default '2017-07-14T00:00:00Z' (Binance's launch). */
  binanceHistoryStart?: string;
}

export interface BinanceReplayApi {
  /** url + '/binance' (klines at `${binanceUrl}/api/v3/klines`). */
  binanceUrl: string;
  /** Weight the Binance routes accepted and refused so far. */
  binanceUsage(): BinanceUsage;
}

/** Binance's replay routes for one server start. */
export async function binanceReplay(opts: BinanceReplayOptions): Promise<SourceReplayRoutes<BinanceReplayApi>> {
  const weight = new BinanceWeightWindow(opts.binanceWeightPerMinute, opts.binanceWindowMs);
  const settings = {
    symbols: new Set<string>(opts.binanceSymbols ?? REPLAY_BINANCE_SYMBOLS),
    historyStartMs: parseIsoOption('binanceHistoryStart', opts.binanceHistoryStart ?? '2017-07-14T00:00:00Z'),
  };
  return {
    mounts: [{ prefix: '/binance', answer: ({ path, query }) => routeBinance(path, query, settings, weight, Date.now()) }],
    api: (url) => ({ binanceUrl: `${url}/binance`, binanceUsage: () => ({ ...weight.usage }) }),
  };
}
