import { describe, expect, it } from 'vitest';
import { replayEndpoints } from './replay-endpoints.ts';

describe('replayEndpoints', () => {
  it('points every replayed source at its routes on the replay server; base URL variables win', async () => {
    const r = await replayEndpoints(true, { COINLAKE_EVM_URL: 'http://127.0.0.1:9/node' });
    try {
      const u = r.server!.url;
      expect(r.endpoints).toEqual({
        baseUrls: { coincap: `${u}/v2`, binance: `${u}/binance`, coinlore: `${u}/coinlore/api`, evm: 'http://127.0.0.1:9/node', rest: `${u}/coingecko/api/v3`, ccxt: `${u}/ccxt/{exchange}` },
        rateLimitPerMinute: 0,
      });
    } finally {
      await r.close();
    }
  });

  it("with CoinCap's key variable: its v3 routes, which then require the key", async () => {
    const r = await replayEndpoints(true, { COINCAP_API_KEY: 'k-9' });
    try {
      const v3 = r.endpoints.baseUrls!.coincap;
      expect(v3).toBe(`${r.server!.url}/v3`);
      expect((await fetch(`${v3}/assets`)).status).toBe(401);
      expect((await fetch(`${v3}/assets`, { headers: { authorization: 'Bearer k-9' } })).status).toBe(200);
    } finally {
      await r.close();
    }
  });

  it('COINLAKE_REPLAY_LATENCY_MS and COINLAKE_REPLAY_CLIENT_LIMIT make this run of the server an API across a network', async () => {
    const r = await replayEndpoints(true, { COINLAKE_REPLAY_LATENCY_MS: '120', COINLAKE_REPLAY_CLIENT_LIMIT: '2/1m by key' });
    try {
      const assets = `${r.endpoints.baseUrls!.coincap}/assets/bitcoin`;
      const t0 = performance.now();
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(assets, { headers: { 'x-api-key': 'k-1' } })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(3 * 119);
      expect((await fetch(assets, { headers: { 'x-api-key': 'k-2' } })).status).toBe(200);
    } finally {
      await r.close();
    }
    await expect(replayEndpoints(true, { COINLAKE_REPLAY_CLIENT_LIMIT: 'lots' })).rejects.toThrow('COINLAKE_REPLAY_CLIENT_LIMIT="lots" is not a client limit');
  });

  it('without --replay: only the base URL variables set', async () => {
    expect((await replayEndpoints(false, {})).endpoints).toEqual({});
    expect((await replayEndpoints(false, { COINLAKE_BINANCE_URL: 'http://x' })).endpoints).toEqual({ baseUrls: { binance: 'http://x' } });
  });
});
