// The JSON-RPC client against the replay server's /evm node over loopback HTTP: POSTs go through the job's HttpClient,
// so they carry the connection's headers, accept gzip, and fail or retry as its GETs do (body cut off, reset, 5xx,
// a body over the limit), each error naming the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError } from '../../core/errors.ts';
import { HttpClient } from '../../http/http-client.ts';
import { startReplayServer, type ReplayServer } from '../../replay/index.ts';
import { JsonRpcClient, JsonRpcError } from './json-rpc-client.ts';

let replay: ReplayServer;

beforeAll(async () => {
  replay = await startReplayServer({ evmHead: 300 });
});
afterAll(async () => {
  await replay.close();
});

const http = (opts: ConstructorParameters<typeof HttpClient>[0] = {}) => new HttpClient({ rateLimitPerMinute: 0, ...opts });
const fast = { minBackoffMs: 5 };
const evmRequests = () => replay.requests.filter((r) => r.path === '/evm');

describe('JsonRpcClient over the HttpClient', () => {
  it("sends the connection's headers, accepts gzip, and answers calls and batches with the exact bytes received", async () => {
    const before = evmRequests().length;
    const rpc = new JsonRpcClient(replay.evmUrl, http({ headers: { 'x-node-key': 'k-123' } }), fast);
    const head = await rpc.call<string>('eth_blockNumber', []);
    expect(head.value).toBe('0x12c');
    expect(JSON.parse(Buffer.from(head.body).toString('utf8'))).toEqual({ jsonrpc: '2.0', id: 1, result: '0x12c' });
    const batch = await rpc.batch([
      { method: 'eth_chainId', params: [] },
      { method: 'eth_nope', params: [] },
    ]);
    expect(batch.value[0]).toEqual({ ok: true, result: '0x539' });
    expect(batch.value[1]).toEqual({ ok: false, error: new JsonRpcError(-32601, 'the method eth_nope does not exist/is not available') });
    const sent = evmRequests().slice(before);
    expect(sent.map((r) => [r.method, r.status, r.headers['x-node-key'], r.headers['content-type'], r.headers['accept-encoding']])).toEqual([
      ['POST', 200, 'k-123', 'application/json', 'gzip, deflate'],
      ['POST', 200, 'k-123', 'application/json', 'gzip, deflate'],
    ]);
    expect(rpc.requests).toBe(2);
  });

  it('retries a body cut off, a reset connection and 503s, then answers', async () => {
    const rpc = new JsonRpcClient(replay.evmUrl, http(), fast);
    replay.inject({ kind: 'truncate', path: '/evm' });
    replay.inject({ kind: 'reset', path: '/evm' });
    replay.inject({ kind: 'status503', path: '/evm', times: 2 });
    expect((await rpc.call('eth_chainId', [])).value).toBe('0x539');
    expect(rpc.requests).toBe(5);
  });

  it("waits out a 429's Retry-After before sending again (longer than its own backoff)", async () => {
    const rpc = new JsonRpcClient(replay.evmUrl, http(), fast);
    const before = evmRequests().length;
    replay.inject({ kind: 'status429', path: '/evm', retryAfterSeconds: 0.4 });
    expect((await rpc.call('eth_chainId', [])).value).toBe('0x539');
    const [refused, answered] = evmRequests().slice(before);
    expect([refused.status, answered.status]).toEqual([429, 200]);
    expect(answered.at - refused.at).toBeGreaterThanOrEqual(395);
  });

  it('gives up after its retries with the last failure, naming the node', async () => {
    const rpc = new JsonRpcClient(replay.evmUrl, http(), { ...fast, retries: 1 });
    replay.inject({ kind: 'status500', path: '/evm', times: 2 });
    await expect(rpc.call('eth_chainId', [])).rejects.toThrow(`HTTP 500 from ${replay.evmUrl}: `);
    expect(rpc.requests).toBe(2);
  });

  it('a response over the body limit fails at once with a TerminalError naming the node and the limit', async () => {
    const rpc = new JsonRpcClient(replay.evmUrl, http({ maxBodyBytes: 4096 }), fast);
    const calls = Array.from({ length: 40 }, (_, i) => ({ method: 'eth_getBlockByNumber', params: [`0x${(i + 1).toString(16)}`, false] }));
    const failure = await rpc.batch(calls).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TerminalError);
    expect((failure as Error).message).toBe(`the response body from ${replay.evmUrl} is larger than 4096 bytes (maxBodyBytes); reading stopped there`);
    expect(rpc.requests).toBe(1);
  });

  it('an HTML page instead of JSON-RPC is a TerminalError saying what the URL must be', async () => {
    const rpc = new JsonRpcClient(replay.evmUrl, http(), fast);
    replay.inject({ kind: 'htmlOk', path: '/evm' });
    await expect(rpc.call('eth_chainId', [])).rejects.toThrow(new RegExp(`^${replay.evmUrl.replace(/[.]/g, '\\.')} did not answer JSON-RPC \\(content-type text/html`));
    expect(rpc.requests).toBe(1);
  });
});
