// The GET transport over a real loopback server: redirects, gzip kept as received, deflate, damaged and cut-off
// bodies, size limits.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyCutOffError, BodyTooLargeError, httpGet } from './http-transport.ts';

const JSON_TEXT = JSON.stringify({ data: Array.from({ length: 2000 }, (_, i) => ({ id: `asset-${i}`, priceUsd: String(i * 1.5) })) });
const GZ = gzipSync(JSON_TEXT);
let server: Server;
let base: string;

const routes: Record<string, (res: ServerResponse) => void> = {
  '/gzip': (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(GZ),
  '/plain': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON_TEXT),
  '/deflate': (res) => res.writeHead(200, { 'content-encoding': 'deflate' }).end(deflateSync(JSON_TEXT)),
  '/redirect': (res) => res.writeHead(302, { location: '/gzip' }).end(),
  '/loop': (res) => res.writeHead(302, { location: '/loop' }).end('again'),
  '/damaged-gzip': (res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(GZ.subarray(0, GZ.length - 100)),
  '/cut': (res) => {
    res.writeHead(200, { 'content-length': String(JSON_TEXT.length) });
    res.write(JSON_TEXT.slice(0, 1000));
    setTimeout(() => res.socket?.destroy(), 20);
  },
};

beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url ?? ''] ?? ((r: ServerResponse) => r.writeHead(404).end('no')))(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (path: string, max = 64 * 1024 * 1024) => httpGet(`${base}${path}`, { 'accept-encoding': 'gzip, deflate' }, AbortSignal.timeout(5_000), max);

describe('httpGet', () => {
  it('decompresses gzip and keeps the bytes as received', async () => {
    const r = await get('/gzip');
    expect(r.status).toBe(200);
    expect(Buffer.from(r.body).toString('utf8')).toBe(JSON_TEXT);
    expect(Buffer.compare(Buffer.from(r.gzipped!), GZ)).toBe(0);
    expect(gunzipSync(r.gzipped!).toString('utf8')).toBe(JSON_TEXT);
    expect(r.headers.get('content-type')).toBe('application/json');
  });

  it('an uncompressed or deflated body has no gzip bytes', async () => {
    for (const path of ['/plain', '/deflate']) {
      const r = await get(path);
      expect(Buffer.from(r.body).toString('utf8')).toBe(JSON_TEXT);
      expect(r.gzipped).toBeUndefined();
    }
  });

  it('follows redirects (at most 5) and reports the URL that answered', async () => {
    const r = await get('/redirect');
    expect(r.url).toBe(`${base}/gzip`);
    expect(Buffer.from(r.body).toString('utf8')).toBe(JSON_TEXT);
    const loop = await get('/loop');
    expect([loop.status, Buffer.from(loop.body).toString('utf8')]).toEqual([302, 'again']);
  });

  it('a damaged gzip stream or a connection closed mid-body is a cut-off body', async () => {
    const damaged = await get('/damaged-gzip').catch((e: unknown) => e);
    expect(damaged).toBeInstanceOf(BodyCutOffError);
    expect((damaged as Error).message).toBe('its gzip stream is incomplete or damaged (unexpected end of file)');
    const cut = await get('/cut').catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(BodyCutOffError);
    expect((cut as Error).message).toMatch(/^(aborted: ECONNRESET|the connection closed before the whole body arrived)$/);
  });

  it('stops past the size limit, compressed or decompressed', async () => {
    const plain = await get('/plain', 10_000).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(BodyTooLargeError);
    // The gzip body is far below the limit; what it inflates to is not.
    expect(GZ.length).toBeLessThan(30_000);
    const inflated = await get('/gzip', 30_000).catch((e: unknown) => e);
    expect(inflated).toBeInstanceOf(BodyTooLargeError);
    expect((inflated as BodyTooLargeError).limit).toBe(30_000);
  });
});
