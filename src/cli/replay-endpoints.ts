// With --replay (or COINLAKE_REPLAY=1) every source points at an in-process replay server; COINLAKE_<SOURCE>_URL
// (e.g. COINLAKE_BINANCE_URL) points one source at another server, replay or not.
import type { Endpoints } from '../runner/job-builder.ts';
import type { ReplayServer } from '../replay/index.ts';
import { SOURCES } from '../sources/registry.ts';

/** Base URLs set by COINLAKE_<SOURCE>_URL environment variables. */
function envBaseUrls(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of SOURCES) {
    const url = env[`COINLAKE_${s.name.toUpperCase()}_URL`];
    if (url) out[s.name] = url;
  }
  return out;
}

/** Starts the replay server when asked; returns the endpoints to use and a closer. */
export async function replayEndpoints(enabled: boolean): Promise<{ endpoints: Endpoints; server?: ReplayServer; close: () => Promise<void> }> {
  const overrides = envBaseUrls();
  if (!enabled) return { endpoints: Object.keys(overrides).length ? { baseUrls: overrides } : {}, close: async () => {} };
  const apiKey = process.env.COINCAP_API_KEY || undefined;
  const { startReplayServer } = await import('../replay/index.ts'); // loaded only for --replay
  const server = await startReplayServer({ apiKey });
  return {
    server,
    endpoints: {
      baseUrls: {
        coincap: apiKey ? server.coincapV3Url : server.coincapV2Url,
        binance: server.binanceUrl,
        coinlore: server.coinloreUrl,
        evm: server.evmUrl,
        // The replay server serves one REST API, CoinGecko's; a REST connection elsewhere needs COINLAKE_REST_URL.
        rest: server.coingeckoUrl,
        ...overrides,
      },
      rateLimitPerMinute: 0,
    },
    close: () => server.close(),
  };
}
