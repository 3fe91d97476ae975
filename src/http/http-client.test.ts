import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../core/errors.ts';
import { startReplayServer, type ReplayServer } from '../replay/index.ts';
import { HttpClient, parseRetryAfter } from './http-client.ts';
import { readFileSync } from 'node:fs';
import { redactUrl, registerSecret, redactText } from './redact.ts';

let replay: ReplayServer;
beforeAll(async () => {
  replay = await startReplayServer({ apiKey: 'k-secret-123' });
});
afterAll(async () => replay.close());
beforeEach(() => {
  replay.clearFaults();
  replay.requests.length = 0;
});

const fast = (o: ConstructorParameters<typeof HttpClient>[0] = {}) => new HttpClient({ rateLimitPerMinute: 0, minBackoffMs: 10, maxBackoffMs: 50, ...o });

describe('HttpClient', () => {
  it('waits out a 429 with Retry-After before retrying', async () => {
    replay.inject({ kind: 'status429', path: '/v2/rates', retryAfterSeconds: 1 });
    const t0 = Date.now();
    const { json } = await fast().getJson<{ data: unknown[] }>(`${replay.coincapV2Url}/rates`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(json.data).toHaveLength(192);
    expect(replay.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('retries three 500s then succeeds', async () => {
    replay.inject({ kind: 'status500', path: '/v2/rates', times: 3 });
    const client = fast();
    const { response } = await client.getJson(`${replay.coincapV2Url}/rates`);
    expect(response.status).toBe(200);
    expect(client.attempts).toBe(4);
  });

  it('gives up on a permanent 500 with a transient error naming the URL', async () => {
    replay.inject({ kind: 'status500', path: '/v2/rates', times: Infinity });
    const err = await fast({ retries: 2 }).get(`${replay.coincapV2Url}/rates`).catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toBe(`HTTP 500 from ${replay.coincapV2Url}/rates: {"error":"internal server error"}`);
  });

  it('does not retry a 404', async () => {
    const client = fast();
    const err = await client.get(`${replay.coincapV2Url}/assets/nope`).catch((e) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect(err.message).toBe(`HTTP 404 from ${replay.coincapV2Url}/assets/nope: {"error":"nope not found"}`);
    expect(client.attempts).toBe(1);
  });

  it('fails at once on an invalid URL or an unsupported protocol, naming the URL, without retrying', async () => {
    const client = new HttpClient({ rateLimitPerMinute: 0, minBackoffMs: 2_000, maxBackoffMs: 5_000 });
    const t0 = Date.now();
    const err = await client.get('http://bad host/v1/items?page=2').catch((e) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect(err.message).toBe('invalid URL "http://bad host/v1/items?page=2": Invalid URL');
    const ftp = await client.get('ftp://127.0.0.1/items').catch((e) => e);
    expect(ftp).toBeInstanceOf(TerminalError);
    expect(ftp.message).toBe('unsupported protocol ftp: in ftp://127.0.0.1/items (only http and https)');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(client.attempts).toBe(0);
  });

  it('reports a truncated body naming the URL', async () => {
    replay.inject({ kind: 'truncate', path: '/v2/rates', times: Infinity });
    const err = await fast({ retries: 1 }).getJson(`${replay.coincapV2Url}/rates`).catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toContain(`${replay.coincapV2Url}/rates`);
    expect(err.message).toMatch(/cut off|invalid JSON/);
  });

  it('recovers from a connection reset and an HTML error page', async () => {
    replay.inject({ kind: 'reset', path: '/v2/rates' });
    replay.inject({ kind: 'html', path: '/v2/rates' });
    const { json } = await fast().getJson<{ data: unknown[] }>(`${replay.coincapV2Url}/rates`);
    expect(json.data).toHaveLength(192);
  });

  it('times out a slow response and retries', async () => {
    replay.inject({ kind: 'slow', path: '/v2/rates', delayMs: 1500 });
    const { response } = await fast({ timeoutMs: 300 }).getJson(`${replay.coincapV2Url}/rates`);
    expect(response.status).toBe(200);
  });

  it('keeps to the rate limit', async () => {
    const client = new HttpClient({ rateLimitPerMinute: 24 }); // 2 per 5 s window
    const t0 = Date.now();
    await Promise.all([1, 2, 3].map(() => client.get(`${replay.coincapV2Url}/rates/bitcoin`)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_900);
  });

  it('sends User-Agent coinlake/<version of package.json> on GETs and POSTs (JSON-RPC); a connection header may replace it', async () => {
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    await fast().get(`${replay.coincapV2Url}/rates/bitcoin`);
    await fast().postOnce(replay.evmUrl, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }), { headers: { 'content-type': 'application/json' } });
    await fast({ headers: { 'User-Agent': 'my-app/2' } }).get(`${replay.coincapV2Url}/rates/bitcoin`);
    expect(replay.requests.map((r) => [r.path, r.headers['user-agent']])).toEqual([
      ['/v2/rates/bitcoin', `coinlake/${version}`],
      ['/evm', `coinlake/${version}`],
      ['/v2/rates/bitcoin', 'my-app/2'],
    ]);
  });

  it('keeps rates that are not a multiple of 12 per minute exactly: 20 per minute is one request every 3 s', async () => {
    const client = new HttpClient({ rateLimitPerMinute: 20 });
    const done: number[] = [];
    const t0 = Date.now();
    await Promise.all([1, 2, 3].map(() => client.get(`${replay.coincapV2Url}/rates/bitcoin`).then(() => done.push(Date.now() - t0))));
    done.sort((a, b) => a - b);
    expect(done[1]).toBeGreaterThanOrEqual(2_900);
    expect(done[2]).toBeGreaterThanOrEqual(5_900);
    expect(done[2]).toBeLessThan(9_000); // 12 per minute (one per 5 s window) before
  });

  it('sends the bearer key and keeps it out of logged URLs', async () => {
    const logged: string[] = [];
    const logger = { debug: (o: object, m: string) => logged.push(JSON.stringify(o) + m), warn: (o: object, m: string) => logged.push(JSON.stringify(o) + m) };
    await fast({ headers: { authorization: 'Bearer k-secret-123' }, logger }).get(`${replay.coincapV3Url}/rates/bitcoin?apiKey=k-secret-123`);
    expect(replay.requests[0].headers.authorization).toBe('Bearer k-secret-123');
    expect(logged.join('\n')).not.toContain('k-secret-123');
  });
});

describe('redaction and Retry-After', () => {
  it('masks secret query parameters and registered secrets', () => {
    expect(redactUrl('https://x.io/v3/assets?apiKey=abc123&limit=5')).toBe('https://x.io/v3/assets?apiKey=***&limit=5');
    registerSecret('s3cr3t-value');
    expect(redactText('token s3cr3t-value leaked')).toBe('token *** leaked');
  });
  it('parses seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
