// Public API of the local CoinCap replay server.
export { startReplayServer } from './replay-server.ts';
export type { Fault, FaultKind, RecordedRequest, ReplayOptions, ReplayServer } from './replay-server.ts';
export type { CollectionName } from './recorded-fixtures.ts';
