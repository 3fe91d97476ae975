// Public API of the local replay server (CoinCap, Binance klines, CoinLore, an EVM JSON-RPC node, REST paging).
export { startReplayServer } from './replay-server.ts';
export type { Fault, FaultKind, RecordedRequest, ReplayOptions, ReplayServer } from './replay-server.ts';
export type { CollectionName } from './recorded-fixtures.ts';
export type { BinanceUsage } from '../sources/binance/binance-replay-routes.ts';
export { kline, klineExists, klineOpenTimes, REPLAY_BINANCE_SYMBOLS } from '../sources/binance/binance-replay-klines.ts';
export { loadCoinloreData, LEGACY_EXCHANGES, type CoinloreData } from '../sources/coinlore/coinlore-replay-data.ts';
export { EvmChain, REPLAY_TOKENS, TRANSFER_TOPIC, type ReplayLog, type ReplayToken } from '../sources/evm/evm-replay-chain.ts';
export { loadGeckoMarkets } from '../sources/rest/rest-replay-routes.ts';
