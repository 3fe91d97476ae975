// What a replay route answers and how it goes on the wire: JSON in CoinCap's {data, timestamp}
// envelope, gzip when the client accepts it, large generated bodies streamed instead of buffered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

export interface ReplayResponse {
  status: number;
  contentType: string;
  /** A Buffer is sent with Content-Length; an iterable is streamed with chunked encoding. */
  body: Buffer | Iterable<string>;
  headers?: Record<string, string>;
  /** Send the body as it is even when the client accepts gzip (a server that does not compress). */
  identity?: boolean;
}

const JSON_TYPE = 'application/json';

export function jsonResponse(status: number, value: unknown): ReplayResponse {
  return { status, contentType: JSON_TYPE, body: Buffer.from(JSON.stringify(value)) };
}

/** CoinCap-style error body `{"error": message}`. */
export function errorResponse(status: number, message: string): ReplayResponse {
  return jsonResponse(status, { error: message });
}

/** 200 with `{"data": data, "timestamp": <now ms>}`. */
export function dataResponse(data: unknown): ReplayResponse {
  return jsonResponse(200, { data, timestamp: Date.now() });
}

/** 200 envelope around a lazily produced array, serialised in batches so memory stays flat. */
export function streamedDataResponse(items: Iterable<unknown>, batchSize = 1000): ReplayResponse {
  function* chunks(): Generator<string> {
    const timestamp = Date.now();
    let batch: string[] = [];
    let first = true;
    yield '{"data":[';
    for (const item of items) {
      batch.push(JSON.stringify(item));
      if (batch.length >= batchSize) {
        yield (first ? '' : ',') + batch.join(',');
        first = false;
        batch = [];
      }
    }
    if (batch.length > 0) yield (first ? '' : ',') + batch.join(',');
    yield `],"timestamp":${timestamp}}`;
  }
  return { status: 200, contentType: JSON_TYPE, body: chunks() };
}

/** True when the Accept-Encoding header lists gzip without `q=0`. */
export function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';');
    if (name.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function baseHeaders(response: ReplayResponse, gzipped: boolean): Record<string, string> {
  return {
    'content-type': response.contentType,
    vary: 'Accept-Encoding',
    ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
    ...response.headers,
  };
}

/** The exact bytes a buffered response puts on the wire (after gzip when negotiated). */
export async function encodedBody(response: ReplayResponse, gzipped: boolean): Promise<Buffer> {
  const raw = Buffer.isBuffer(response.body) ? response.body : Buffer.from([...response.body].join(''));
  return gzipped ? gzipAsync(raw) : raw;
}

/** Send a response in full, compressing it when the request accepts gzip. */
export async function writeResponse(req: IncomingMessage, res: ServerResponse, response: ReplayResponse): Promise<void> {
  const gzipped = acceptsGzip(req) && !response.identity;
  const headers = baseHeaders(response, gzipped);
  if (Buffer.isBuffer(response.body)) {
    const body = await encodedBody(response, gzipped);
    res.writeHead(response.status, { ...headers, 'content-length': String(body.length) });
    res.end(body);
    return;
  }
  res.writeHead(response.status, headers);
  const source = Readable.from(response.body);
  if (gzipped) await pipeline(source, createGzip(), res);
  else await pipeline(source, res);
}

/**
 * Send the status line and headers announcing the full Content-Length, then only the first half
 * of the body, then close the connection: what a client sees when a proxy drops mid-transfer.
 */
export async function writeTruncated(req: IncomingMessage, res: ServerResponse, response: ReplayResponse): Promise<void> {
  const gzipped = acceptsGzip(req);
  const body = await encodedBody(response, gzipped);
  res.writeHead(response.status, { ...baseHeaders(response, gzipped), 'content-length': String(body.length) });
  await new Promise<void>((resolve) => {
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => resolve());
  });
  res.socket?.destroy();
}
