// Faults a test injects into the replay server to exercise a client's error handling:
// a FIFO queue, each entry matched by path prefix and consumed a set number of times.
import { randomBytes } from 'node:crypto';
import { TerminalError } from '../core/errors.ts';
import { errorResponse, type ReplayResponse } from './replay-response.ts';

export type FaultKind =
  | 'status429'
  | 'status500'
  | 'status503'
  | 'slow'
  | 'reset'
  | 'truncate'
  | 'html'
  | 'htmlOk'
  | 'invalidJson'
  | 'emptyBody'
  | 'transform'
  | 'oversize';

export interface Fault {
  kind: FaultKind;
  /** Path prefix the fault applies to, e.g. '/v2/assets'. Default: every path. */
  path?: string;
  /** How many matching requests it affects. Default 1; `Infinity` keeps it until clearFaults(). */
  times?: number;
  /** Matching requests let through untouched before the fault applies (to hit the third page, skip 2). Default 0. */
  skip?: number;
  /** Retry-After seconds sent with `status429` (fractions are sent as written). Default 1. */
  retryAfterSeconds?: number;
  /** Delay before a `slow` response. Default 1000 ms. */
  delayMs?: number;
  /** `transform`: rewrites the JSON the route would answer (schema drift: new, missing or retyped fields). */
  transform?: (json: unknown) => unknown;
  /** `oversize`: size the body is padded to. Default 50 MB. */
  bytes?: number;
  /** `oversize`: send it uncompressed even when the client accepts gzip (default: gzip when accepted). */
  identity?: boolean;
}

/** Holds injected faults and hands out the one that applies to each request. */
export class FaultQueue {
  private readonly entries: { fault: Fault; remaining: number; skip: number }[] = [];

  add(fault: Fault): void {
    const remaining = fault.times ?? 1;
    if (!(remaining > 0)) throw new TerminalError(`fault times must be positive, got ${String(fault.times)}`, { hint: 'leave times out for one fault, or give how many requests it applies to (1 or more)' });
    const skip = fault.skip ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new TerminalError(`fault skip must be a whole number, got ${String(fault.skip)}`, { hint: 'give how many matching requests to let through first: 0, 1, 2, …' });
    if (fault.kind === 'transform' && typeof fault.transform !== 'function') throw new TerminalError('a transform fault needs a transform function', { hint: 'add transform: (json) => json with the rewrite to apply' });
    this.entries.push({ fault: { ...fault }, remaining, skip });
  }

  clear(): void {
    this.entries.length = 0;
  }

  /** The oldest fault whose prefix matches `path`, consuming one of its uses; undefined when none. */
  take(path: string): Fault | undefined {
    const index = this.entries.findIndex((entry) => path.startsWith(entry.fault.path ?? ''));
    if (index < 0) return undefined;
    const entry = this.entries[index];
    if (entry.skip > 0) {
      entry.skip -= 1;
      return undefined;
    }
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.entries.splice(index, 1);
    return entry.fault;
  }
}

const HTML_ERROR_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** A maintenance page a CDN serves with status 200 in place of the API's JSON. */
const HTML_MAINTENANCE_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head><body><h1>We will be back soon</h1><p>The API is under scheduled maintenance.</p></body></html>\n';

/** Fixed answers of the faults that replace the route's response with an ordinary HTTP response. */
export function faultResponse(fault: Fault): ReplayResponse | undefined {
  switch (fault.kind) {
    case 'status429':
      return { ...errorResponse(429, 'rate limit exceeded'), headers: { 'retry-after': String(fault.retryAfterSeconds ?? 1) } };
    case 'status500':
      return errorResponse(500, 'internal server error');
    case 'status503':
      return errorResponse(503, 'service unavailable');
    case 'html':
      return { status: 502, contentType: 'text/html', body: Buffer.from(HTML_ERROR_PAGE) };
    case 'htmlOk':
      return { status: 200, contentType: 'text/html; charset=utf-8', body: Buffer.from(HTML_MAINTENANCE_PAGE) };
    case 'invalidJson':
      return { status: 200, contentType: 'application/json', body: Buffer.from('{"data":[{"id":') };
    case 'emptyBody':
      return { status: 200, contentType: 'application/json', body: Buffer.alloc(0) };
    default:
      return undefined;
  }
}

const DEFAULT_OVERSIZE_BYTES = 50 * 1024 * 1024;

function routeJson(response: ReplayResponse): unknown {
  const text = Buffer.isBuffer(response.body) ? response.body.toString('utf8') : [...response.body].join('');
  return JSON.parse(text);
}

/**
 * The route's answer as the fault changes it: `transform` rewrites its JSON; `oversize` pads every record of its
 * `data` array with an unknown field `padding` until the body reaches `bytes`, streamed in chunks (so the server
 * never holds the whole body). Other faults, and non-JSON or error answers, pass unchanged.
 */
export function reshapeResponse(fault: Fault | undefined, response: ReplayResponse): ReplayResponse {
  if (!fault || (fault.kind !== 'transform' && fault.kind !== 'oversize') || response.status !== 200 || !response.contentType.startsWith('application/json')) {
    return response;
  }
  const json = routeJson(response);
  if (fault.kind === 'transform') {
    return { ...response, body: Buffer.from(JSON.stringify(fault.transform!(json))) };
  }
  const envelope = json as { data?: unknown };
  const records = Array.isArray(envelope.data) ? envelope.data : [envelope.data];
  const { data: _data, ...rest } = envelope;
  const target = fault.bytes ?? DEFAULT_OVERSIZE_BYTES;
  const perRecord = Math.ceil(target / Math.max(1, records.length));
  function* chunks(): Generator<string> {
    yield '{"data":[';
    for (const [i, record] of records.entries()) {
      const text = JSON.stringify(record);
      const open = record !== null && typeof record === 'object' && !Array.isArray(record) && text !== '{}' ? `${text.slice(0, -1)},"padding":"` : null;
      if (open === null) {
        yield (i ? ',' : '') + text;
        continue;
      }
      yield (i ? ',' : '') + open;
      // Random base64 in 64 KiB pieces: no piece is large, and gzip cannot shrink the body on the wire.
      for (let left = perRecord; left > 0; left -= 65_536) yield randomBytes(49_152).toString('base64').slice(0, Math.min(65_536, left));
      yield '"}';
    }
    yield `]${Object.keys(rest).length ? `,${JSON.stringify(rest).slice(1, -1)}` : ''}}`;
  }
  return { ...response, body: chunks(), identity: fault.identity };
}
