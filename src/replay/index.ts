// Public API of the local replay server (CoinCap, Binance klines, CoinLore, an EVM JSON-RPC node, REST paging).
export { startReplayServer } from './replay-server.ts';
export type { Fault, FaultKind, RecordedRequest, ReplayOptions, ReplayServer } from './replay-server.ts';
export type { CollectionName } from './recorded-fixtures.ts';
export type { BinanceUsage } from './binance-routes.ts';
export { kline, klineExists, klineOpenTimes, REPLAY_BINANCE_SYMBOLS } from './kline-series.ts';
export { loadCoinloreData, LEGACY_EXCHANGES, type CoinloreData } from './coinlore-data.ts';
export { EvmChain, REPLAY_TOKENS, TRANSFER_TOPIC, type ReplayLog, type ReplayToken } from './evm-chain.ts';
export { loadGeckoMarkets } from './rest-routes.ts';
