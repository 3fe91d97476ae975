// One GET (or POST) over node:http / node:https with keep-alive connections: the body read whole (stopping past a size limit),
// decompressed in one call on libuv's thread pool, and — when the server sent gzip — also kept as the bytes received,
// so the raw lake can store them without compressing the page again. Node's fetch (undici's WHATWG streams and
// streaming inflate on the main thread) cost 2.1–2.3 CPU-s and 3.4–3.6 s per 1,000,000 CoinCap history points
// (500 pages) against 0.95–1.0 CPU-s and 1.3 s this way, parsing included.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw } from 'node:zlib';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);
const brotliAsync = promisify(brotliDecompress);

/**
 * Connections kept open between requests, per protocol. An idle one is closed after 4 s, before servers close theirs
 * (Node's own after 5 s): a request written to a connection the server is closing meets a reset.
 */
const IDLE_MS = 4_000;
const AGENTS = { 'http:': new http.Agent({ keepAlive: true, timeout: IDLE_MS }), 'https:': new https.Agent({ keepAlive: true, timeout: IDLE_MS }) };

/** Redirects followed (GET only) before giving up. */
const MAX_REDIRECTS = 5;

export interface TransportResponse {
  /** The URL that answered (after redirects). */
  url: string;
  status: number;
  headers: Headers;
  /** The body, decompressed. */
  body: Uint8Array;
  /** The body as received when the server sent it gzipped (Content-Encoding: gzip). */
  gzipped?: Uint8Array;
}

/** The body did not arrive whole: the connection closed early, or its compressed stream is incomplete. */
export class BodyCutOffError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BodyCutOffError';
  }
}

/** The body is larger than the limit (compressed or decompressed). */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

function toHeaders(res: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
  }
  return h;
}

/** Sends the request; resolves with the response head. Errors (refused, reset, aborted) reject as Node reports them. */
function send(url: URL, headers: Record<string, string>, signal: AbortSignal, body?: string | Uint8Array): Promise<IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const agent = AGENTS[url.protocol as 'http:' | 'https:'];
    const req =
      body === undefined
        ? mod.get(url, { headers, signal, agent }, resolve)
        : mod.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal, agent }, resolve);
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** Reads a response body whole; more than `max` bytes stops the download. */
function readAll(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    // A body whose length is announced is copied into one buffer as it arrives: the chunks and their concatenation
    // never exist side by side (a 64 MB page cost 128 MB at its end). More than announced falls back to the chunks.
    const announced = Number(res.headers['content-length']);
    let whole = Number.isSafeInteger(announced) && announced > 0 && announced <= max ? Buffer.allocUnsafe(announced) : undefined;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      reject(err);
    };
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        fail(new BodyTooLargeError(max));
        res.destroy();
        return;
      }
      if (whole && size <= whole.length) {
        chunk.copy(whole, size - chunk.length);
        return;
      }
      if (whole) {
        chunks.push(whole.subarray(0, size - chunk.length));
        whole = undefined;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      if (!res.complete) reject(new BodyCutOffError('the connection closed before the whole body arrived'));
      else resolve(whole ? whole.subarray(0, size) : Buffer.concat(chunks, size));
    });
    res.on('error', (err) => fail(new BodyCutOffError(err.message + ((err as NodeJS.ErrnoException).code ? `: ${(err as NodeJS.ErrnoException).code}` : ''), { cause: err })));
    res.on('close', () => {
      if (!res.complete) fail(new BodyCutOffError('the connection closed before the whole body arrived'));
    });
  });
}

/** Decompresses a body by its Content-Encoding, to at most `max` bytes. */
async function decode(encoding: string, body: Buffer, max: number): Promise<Buffer> {
  // Output chunks of about the page's size (compressed JSON is 5-8x smaller): each chunk is a round trip between the
  // thread pool and the main thread, which the default 16 KB makes dozens per page.
  const opts = { maxOutputLength: max + 1, chunkSize: Math.min(Math.max(64 * 1024, body.length * 8), 8 * 1024 * 1024) };
  try {
    const out =
      encoding === 'gzip' || encoding === 'x-gzip'
        ? await gunzipAsync(body, opts)
        : encoding === 'deflate'
          ? await inflateAsync(body, opts).catch(() => inflateRawAsync(body, opts)) // servers send both forms
          : encoding === 'br'
            ? await brotliAsync(body, opts)
            : body;
    if (out.length > max) throw new BodyTooLargeError(max);
    return out;
  } catch (err) {
    if (err instanceof BodyTooLargeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BodyTooLargeError(max);
    throw new BodyCutOffError(`its ${encoding} stream is incomplete or damaged (${(err as Error).message})`, { cause: err });
  }
}

/** The whole response: its body read (at most `max` bytes, compressed or not) and decompressed. */
async function readResponse(res: IncomingMessage, url: URL, max: number): Promise<TransportResponse> {
  const received = await readAll(res, max);
  const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const body = encoding && encoding !== 'identity' ? await decode(encoding, received, max) : received;
  return { url: url.toString(), status: res.statusCode ?? 0, headers: toHeaders(res), body, gzipped: encoding === 'gzip' || encoding === 'x-gzip' ? received : undefined };
}

/**
 * GET `url` and read the whole body (decompressed to at most `maxBodyBytes`), following up to 5 redirects. Rejects
 * with the request's own error when no response came (refused, reset, aborted by `signal`), BodyCutOffError when the
 * body did not arrive whole, BodyTooLargeError past the limit.
 */
export async function httpGet(url: string, headers: Record<string, string>, signal: AbortSignal, maxBodyBytes: number): Promise<TransportResponse> {
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await send(target, headers, signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && status !== 304 && location && hop < MAX_REDIRECTS) {
      res.resume();
      target = new URL(location, target);
      continue;
    }
    return readResponse(res, target, maxBodyBytes);
  }
}

/** POST `body` to `url` and read the whole response as httpGet does (redirects are not followed: a POST's answer is its own). */
export async function httpPost(url: string, headers: Record<string, string>, body: string | Uint8Array, signal: AbortSignal, maxBodyBytes: number): Promise<TransportResponse> {
  const target = new URL(url);
  return readResponse(await send(target, headers, signal, body), target, maxBodyBytes);
}
