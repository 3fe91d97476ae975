// With --replay (or COINLAKE_REPLAY=1) every source points at an in-process replay server.
import type { Endpoints } from '../runner/job-builder.ts';
import { startReplayServer, type ReplayServer } from '../replay/index.ts';

/** Starts the replay server when asked; returns the endpoints to use and a closer. */
export async function replayEndpoints(enabled: boolean): Promise<{ endpoints: Endpoints; server?: ReplayServer; close: () => Promise<void> }> {
  if (!enabled) return { endpoints: {}, close: async () => {} };
  const apiKey = process.env.COINCAP_API_KEY || undefined;
  const server = await startReplayServer({ apiKey });
  return {
    server,
    endpoints: { baseUrls: { coincap: apiKey ? server.coincapV3Url : server.coincapV2Url }, rateLimitPerMinute: 0 },
    close: () => server.close(),
  };
}
