// Local HTTP server replaying the sources' APIs on loopback, for tests and the offline demo: real sockets, real status
// codes, a request rate limit, a latency and limits per client when asked (realistic-api.ts), injectable faults, and a
// log of every request. The routes are the sources' own
// (sources/<name>/<name>-replay.ts), mounted from replay-registry.ts.
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultQueue, faultResponse, reshapeResponse, type Fault } from './faults.ts';
import { mountPath, type ReplayMount } from './replay-mount.ts';
import { sourceReplays, type SourcesReplayApi, type SourcesReplayOptions } from './replay-registry.ts';
import { RateWindow } from './rate-window.ts';
import { ClientWindows, clientOf, latencySampler, type ClientLimit, type ReplayLatency } from './realistic-api.ts';
import { errorResponse, writeResponse, writeTruncated, type ReplayResponse } from './replay-response.ts';

export type { Fault, FaultKind } from './faults.ts';

/** The server's own options, and each source's (declared in sources/<name>/<name>-replay.ts). */
export interface ReplayOptions extends SourcesReplayOptions {
  /** Port to listen on. Default 0: a free port. The server always binds 127.0.0.1. */
  port?: number;
  /** Requests allowed per sliding 60 s window; beyond it 429 with Retry-After. Default: unlimited. */
  rateLimitPerMinute?: number;
  /** A delay before every answer, as over a network: fixed ms, or [min, max] drawn per request (seeded). Default none. */
  latencyMs?: ReplayLatency;
  /** A limit per client (source address or API key); beyond it 429 with Retry-After. Default: none. */
  clientLimit?: ClientLimit;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Request headers, names lower-cased. */
  headers: Record<string, string | undefined>;
  /** Status sent; 0 while the answer is pending and for `reset` faults (no response). */
  status: number;
  /** Arrival time, ms since epoch. */
  at: number;
  /** Who sent it: `address:<ip>`, or `key:<hash prefix>` when the server tells clients apart by key (see clientOf). */
  client: string;
}

/** The server, and what each source's replay routes add to it (their URLs, counters, data setters). */
export interface ReplayServer extends SourcesReplayApi {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request in arrival order. */
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

const DEFAULT_SLOW_MS = 1000;

function recordedHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function firstValues(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in values)) values[name] = value;
  return values;
}

/** Start a replay server on 127.0.0.1; call close() when done. Defaults are listed on ReplayOptions. */
export async function startReplayServer(opts: ReplayOptions = {}): Promise<ReplayServer> {
  const routes = await Promise.all(sourceReplays(opts));
  const mounts: ReplayMount[] = routes.flatMap((r) => r.mounts);
  const faults = new FaultQueue();
  const rateWindow = opts.rateLimitPerMinute === undefined ? undefined : new RateWindow(opts.rateLimitPerMinute);
  const clientWindows = opts.clientLimit && new ClientWindows(opts.clientLimit);
  const latency = latencySampler(opts.latencyMs);
  const closing = new AbortController();
  // Every request waiting out a latency or a slow fault listens on it.
  setMaxListeners(0, closing.signal);
  const sockets = new Set<Socket>();

  /** The mount answering `path`, and the path it sees. */
  function route(path: string): { mount: ReplayMount; path: string } | undefined {
    for (const mount of mounts) {
      const sub = mountPath(mount, path);
      if (sub !== undefined) return { mount, path: sub };
    }
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: RecordedRequest, url: URL): Promise<void> {
    const send = async (response: ReplayResponse): Promise<void> => {
      entry.status = response.status;
      await writeResponse(req, res, response);
    };
    // Counted as it arrives (as an API counts), answered after the latency (a refusal too).
    const retryAfter = rateWindow?.admit(entry.at) ?? clientWindows?.admit(entry.client, entry.at);
    if (latency) await sleep(latency(), undefined, { signal: closing.signal });
    if (retryAfter !== undefined) {
      return send({ ...errorResponse(429, 'rate limit exceeded'), headers: { 'retry-after': String(retryAfter) } });
    }
    const found = route(url.pathname);
    const method = found?.mount.method ?? 'GET';
    if (req.method !== method) {
      return send({ ...errorResponse(405, 'method not allowed'), headers: { allow: method } });
    }
    const fault = faults.take(url.pathname);
    const fixed = fault && faultResponse(fault);
    if (fixed) return send(fixed);
    if (fault?.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'slow') await sleep(fault.delayMs ?? DEFAULT_SLOW_MS, undefined, { signal: closing.signal });
    const answered = found ? await found.mount.answer({ req, path: found.path, query: url.searchParams, serverUrl: replay.url }) : errorResponse(404, 'not found');
    const response = reshapeResponse(fault, answered);
    if (fault?.kind === 'truncate') {
      entry.status = response.status;
      return writeTruncated(req, res, response);
    }
    return send(response);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: firstValues(url.searchParams),
      headers: recordedHeaders(req),
      status: 0,
      at: Date.now(),
      client: clientOf(req, url, opts.clientLimit?.by ?? 'address'),
    };
    replay.requests.push(entry);
    handle(req, res, entry, url).catch(() => {
      // A client that went away, or a server closing mid-delay: nothing left to answer.
      if (!res.headersSent && !res.destroyed) {
        entry.status = 500;
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"replay server error"}');
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const replay: ReplayServer = {
    ...(Object.assign({}, ...routes.map((r) => r.api(url))) as SourcesReplayApi),
    url,
    requests: [],
    inject: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    close() {
      closing.abort();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return replay;
}
