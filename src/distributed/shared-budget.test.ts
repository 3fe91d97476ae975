// One API budget shared by processes that use the same key (#26 item 2), over real NATS JetStream KV and the replay
// server limiting each key: three clients (each its own NATS connection and HttpClient, as three workers) sharing one
// key never pass its limit together — no 429, and no window of the server's arrivals holds more than the limit —
// while two clients with keys of their own each use their own budget.
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../http/http-client.ts';
import { startReplayServer, type ReplayServer } from '../replay/replay-server.ts';
import { connectNats } from '../streaming/jetstream-streams.ts';
import { SharedBudget } from './shared-budget.ts';

const LIMIT = 8;
const WINDOW_MS = 1000;

let replay: ReplayServer;
const connections: NatsConnection[] = [];
beforeAll(async () => {
  replay = await startReplayServer({ clientLimit: { limit: LIMIT, windowMs: WINDOW_MS, by: 'key' } });
});
afterAll(async () => {
  for (const nc of connections) await nc.close();
  await replay?.close();
});

/** A worker: its own NATS connection, the budget `name`, and an HttpClient sending `key`. */
async function worker(name: string, key: string): Promise<{ http: HttpClient; budget: SharedBudget }> {
  const nc = await connectNats();
  connections.push(nc);
  // A margin for a loaded CI machine, where a granted request can take tens of milliseconds to reach the server.
  const budget = await SharedBudget.open(nc, name, { limit: LIMIT, windowMs: WINDOW_MS, marginMs: 250 });
  return { budget, http: new HttpClient({ rateLimitPerMinute: 0, retries: 0, budget, headers: { 'x-api-key': key } }) };
}

/** The largest number of arrivals at the server within any window of WINDOW_MS, per client. */
function busiestWindow(client: string): number {
  const at = replay.requests.filter((r) => r.client === client).map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i] - at[j] >= WINDOW_MS) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('SharedBudget', () => {
  it(`three workers sharing one key send 30 requests at once: never more than ${LIMIT} a second at the server, no 429`, async () => {
    const name = `test-shared-${randomBytes(4).toString('hex')}`;
    const workers = await Promise.all([1, 2, 3].map(() => worker(name, 'shared-key')));
    const before = replay.requests.length;
    const url = `${replay.url}/v2/assets/bitcoin`;
    const statuses = await Promise.all(workers.flatMap((w) => Array.from({ length: 10 }, () => w.http.get(url).then((r) => r.status))));
    expect(statuses).toEqual(Array(30).fill(200));
    const mine = replay.requests.slice(before);
    expect(mine.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(new Set(mine.map((r) => r.client)).size).toBe(1);
    expect(busiestWindow(mine[0].client)).toBeLessThanOrEqual(LIMIT);
    expect(workers.map((w) => w.budget.granted)).toEqual([10, 10, 10]);
    // 30 requests at 8 per window need at least 3 windows after the first (and they compete: some swaps were lost).
    expect(mine.at(-1)!.at - mine[0].at).toBeGreaterThanOrEqual(3 * WINDOW_MS);
  }, 30_000);

  it('workers with their own keys each use their own budget: together they pass one key’s limit at once', async () => {
    const a = await worker(`test-own-a-${randomBytes(4).toString('hex')}`, 'key-a');
    const b = await worker(`test-own-b-${randomBytes(4).toString('hex')}`, 'key-b');
    const before = replay.requests.length;
    const url = `${replay.url}/v2/assets/bitcoin`;
    const statuses = await Promise.all([a, b].flatMap((w) => Array.from({ length: LIMIT }, () => w.http.get(url).then((r) => r.status))));
    expect(statuses).toEqual(Array(2 * LIMIT).fill(200));
    const mine = replay.requests.slice(before);
    // All 16 were granted at once: the two budgets did not wait for each other.
    expect(mine.at(-1)!.at - mine[0].at).toBeLessThan(WINDOW_MS);
    expect(new Set(mine.map((r) => r.client)).size).toBe(2);
  }, 30_000);

  it('refuses a budget without room to give', async () => {
    const nc = await connectNats();
    connections.push(nc);
    await expect(SharedBudget.open(nc, 'x', { limit: 0, windowMs: 1000 })).rejects.toThrow('a shared budget needs a whole number of requests above 0, got 0');
    await expect(SharedBudget.open(nc, 'x', { limit: 5, windowMs: 0 })).rejects.toThrow('a shared budget needs a window above 0 ms, got 0');
  });
});
