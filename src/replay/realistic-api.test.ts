// The replay server as an API across a network (#26 item 1): a latency on every answer (fixed or drawn per request)
// and a rate limit per client, told apart by source address (127.0.0.1 against 127.0.0.2) or by API key — over real
// loopback HTTP.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseClientLimit, parseLatency } from './realistic-api.ts';
import { startReplayServer, type ReplayServer } from './replay-server.ts';

let server: ReplayServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** GET `path` from `localAddress` with `headers`: status, Retry-After, and milliseconds until the answer. */
function get(path: string, opts: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; retryAfter?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(`${server!.url}${path}`, { localAddress: opts.localAddress, headers: opts.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
  });
}

const ASSETS = '/v2/assets/bitcoin';

describe('latency', () => {
  it('a fixed latency delays every answer by at least that much', async () => {
    server = await startReplayServer({ latencyMs: 150 });
    const answers = await Promise.all([1, 2, 3].map(() => get(ASSETS)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const a of answers) expect(a.ms).toBeGreaterThanOrEqual(149);
  });

  it('a range draws each delay within it, not all the same', async () => {
    server = await startReplayServer({ latencyMs: [50, 250] });
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(ASSETS)));
    for (const a of answers) expect(a.ms).toBeGreaterThanOrEqual(49);
    const sorted = answers.map((a) => a.ms).sort((x, y) => x - y);
    // 20 draws spread over [50, 250]: the fastest and slowest answers are far apart.
    expect(sorted[19] - sorted[0]).toBeGreaterThan(100);
  });
});

describe('a rate limit per client', () => {
  it('by source address: 127.0.0.1 and 127.0.0.2 each get their own window, the 4th request of each is refused', async () => {
    server = await startReplayServer({ clientLimit: { limit: 3, windowMs: 10_000, by: 'address' } });
    const statuses: Record<string, number[]> = { '127.0.0.1': [], '127.0.0.2': [] };
    for (let i = 0; i < 4; i++) {
      for (const address of Object.keys(statuses)) statuses[address].push((await get(ASSETS, { localAddress: address })).status);
    }
    expect(statuses).toEqual({ '127.0.0.1': [200, 200, 200, 429], '127.0.0.2': [200, 200, 200, 429] });
    const refused = await get(ASSETS, { localAddress: '127.0.0.2' });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(10);
    expect(server.requests.map((r) => [r.client, r.status])).toEqual([
      ['address:127.0.0.1', 200],
      ['address:127.0.0.2', 200],
      ['address:127.0.0.1', 200],
      ['address:127.0.0.2', 200],
      ['address:127.0.0.1', 200],
      ['address:127.0.0.2', 200],
      ['address:127.0.0.1', 429],
      ['address:127.0.0.2', 429],
      ['address:127.0.0.2', 429],
    ]);
  });

  it('by key: two keys from one address each get their own window, a request without a key counts by its address, and no key is recorded', async () => {
    server = await startReplayServer({ clientLimit: { limit: 2, windowMs: 10_000, by: 'key' } });
    const a = { headers: { authorization: 'Bearer key-aaaa-secret' } };
    const b = { headers: { 'x-api-key': 'key-bbbb-secret' } };
    const seq = [a, b, a, b, a, b, {}, {}, {}];
    const statuses = [];
    for (const opts of seq) statuses.push((await get(ASSETS, opts)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 200, 200, 429]);
    expect((await get(`${ASSETS}?apiKey=key-aaaa-secret`)).status).toBe(429); // the same key by query
    const clients = [...new Set(server.requests.map((r) => r.client))];
    expect(clients).toHaveLength(3);
    expect(clients[2]).toBe('address:127.0.0.1');
    for (const c of clients.slice(0, 2)) expect(c).toMatch(/^key:[0-9a-f]{12}$/);
    expect(JSON.stringify(server.requests.map((r) => r.client))).not.toContain('secret');
  });
});

describe('COINLAKE_REPLAY_LATENCY_MS and COINLAKE_REPLAY_CLIENT_LIMIT', () => {
  it('read a fixed latency or a range, and requests per window by address or key', () => {
    expect(parseLatency('200')).toBe(200);
    expect(parseLatency(' 100-300 ')).toEqual([100, 300]);
    expect(parseClientLimit('20/2s by key')).toEqual({ limit: 20, windowMs: 2000, by: 'key' });
    expect(parseClientLimit('600/1m')).toEqual({ limit: 600, windowMs: 60_000, by: 'address' });
  });

  it('refuse anything else, naming the variable and the form', () => {
    expect(() => parseLatency('300-100')).toThrow('COINLAKE_REPLAY_LATENCY_MS="300-100" is not a latency');
    expect(() => parseLatency('fast')).toThrow('COINLAKE_REPLAY_LATENCY_MS="fast" is not a latency');
    expect(() => parseClientLimit('20 per second')).toThrow('COINLAKE_REPLAY_CLIENT_LIMIT="20 per second" is not a client limit');
    expect(() => parseClientLimit('0/1s')).toThrow('COINLAKE_REPLAY_CLIENT_LIMIT="0/1s" is not a client limit');
    expect(() => parseClientLimit('5/1s by user')).toThrow('COINLAKE_REPLAY_CLIENT_LIMIT="5/1s by user" is not a client limit');
  });
});
