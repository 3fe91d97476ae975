// With --replay (or COINLAKE_REPLAY=1) every source points at an in-process replay server; each source's base URL
// variable (`variables.baseUrl`, e.g. COINLAKE_BINANCE_URL) points it at another server, replay or not.
import type { Endpoints } from '../runner/job-builder.ts';
import type { ReplayOptions, ReplayServer } from '../replay/index.ts';
import { SOURCES } from '../sources/registry.ts';

/** Base URLs set by the sources' base URL variables (COINLAKE_<SOURCE>_URL). */
function envBaseUrls(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of SOURCES) {
    const url = env[s.variables.baseUrl];
    if (url) out[s.name] = url;
  }
  return out;
}

/** Starts the replay server when asked; returns the endpoints to use and a closer. */
export async function replayEndpoints(enabled: boolean, env: NodeJS.ProcessEnv = process.env): Promise<{ endpoints: Endpoints; server?: ReplayServer; close: () => Promise<void> }> {
  const overrides = envBaseUrls(env);
  if (!enabled) return { endpoints: Object.keys(overrides).length ? { baseUrls: overrides } : {}, close: async () => {} };
  const options: ReplayOptions = Object.assign({}, ...SOURCES.map((s) => s.replay?.serverOptions?.(env) ?? {}));
  const { startReplayServer, parseClientLimit, parseLatency } = await import('../replay/index.ts'); // loaded only for --replay
  // An API on the far side of a network, for this run of the server: a latency, and a limit per client.
  if (env.COINLAKE_REPLAY_LATENCY_MS) options.latencyMs = parseLatency(env.COINLAKE_REPLAY_LATENCY_MS);
  if (env.COINLAKE_REPLAY_CLIENT_LIMIT) options.clientLimit = parseClientLimit(env.COINLAKE_REPLAY_CLIENT_LIMIT);
  const server = await startReplayServer(options);
  const replayed: Record<string, string> = {};
  for (const s of SOURCES) if (s.replay) replayed[s.name] = s.replay.baseUrl(server.url, env);
  return {
    server,
    endpoints: { baseUrls: { ...replayed, ...overrides }, rateLimitPerMinute: 0 },
    close: () => server.close(),
  };
}
