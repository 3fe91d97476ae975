// The replay routes of every source, one line each: the replay server mounts them, and its options and API are theirs
// combined. Loaded only with the replay server (--replay, tests), never by a plain run.
import { ccxtReplay, type CcxtReplayApi, type CcxtReplayOptions } from '../sources/ccxt/replay/ccxt-replay.ts';
import { binanceReplay, type BinanceReplayApi, type BinanceReplayOptions } from '../sources/binance/binance-replay.ts';
import { coincapReplay, type CoincapReplayApi, type CoincapReplayOptions } from '../sources/coincap/coincap-replay.ts';
import { coinloreReplay, type CoinloreReplayApi, type CoinloreReplayOptions } from '../sources/coinlore/coinlore-replay.ts';
import { evmReplay, type EvmReplayApi, type EvmReplayOptions } from '../sources/evm/evm-replay.ts';
import { restReplay, type RestReplayApi, type RestReplayOptions } from '../sources/rest/rest-replay.ts';
import type { SourceReplayRoutes } from './replay-mount.ts';

/** Every source's replay options. */
export type SourcesReplayOptions = CoincapReplayOptions & BinanceReplayOptions & CoinloreReplayOptions & EvmReplayOptions & RestReplayOptions & CcxtReplayOptions;

/** What every source's replay routes add to the server. */
export type SourcesReplayApi = CoincapReplayApi & BinanceReplayApi & CoinloreReplayApi & EvmReplayApi & RestReplayApi & CcxtReplayApi;

/** Creates every source's replay routes for one server start. */
export function sourceReplays(opts: SourcesReplayOptions): Promise<SourceReplayRoutes<object>>[] {
  return [coincapReplay(opts), binanceReplay(opts), coinloreReplay(opts), evmReplay(opts), restReplay(opts), ccxtReplay(opts)];
}

// The sources' replay data the tests and the demo read (the series the routes serve).
export type { CollectionName } from '../sources/coincap/coincap-replay-fixtures.ts';
export type { BinanceUsage } from '../sources/binance/binance-replay-routes.ts';
export { kline, klineExists, klineOpenTimes, REPLAY_BINANCE_SYMBOLS } from '../sources/binance/binance-replay-klines.ts';
export { loadCoinloreData, LEGACY_EXCHANGES, type CoinloreData } from '../sources/coinlore/coinlore-replay-data.ts';
export { EvmChain, REPLAY_TOKENS, TRANSFER_TOPIC, type ReplayLog, type ReplayToken } from '../sources/evm/evm-replay-chain.ts';
export { loadGeckoMarkets } from '../sources/rest/rest-replay-routes.ts';
