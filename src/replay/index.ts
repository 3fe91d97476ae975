// Public API of the local replay server: the server, and the sources' replay data (from the replay registry).
export { startReplayServer } from './replay-server.ts';
export { parseClientLimit, parseLatency, type ClientLimit, type ReplayLatency } from './realistic-api.ts';
export type { Fault, FaultKind, RecordedRequest, ReplayOptions, ReplayServer } from './replay-server.ts';
export * from './replay-registry.ts';
