// A loopback HTTP server that answers a stream's recorded exchanges (exact method, path, query and body), so the
// real source reads them through the real HttpClient. Tests change what it answers: a status for the next requests
// (429, 5xx, 401), or a rewrite of the recorded responses (an empty page, a malformed body, an unknown field).
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { responseBytes, type RecordedExchange } from './recorded-exchanges.ts';

/** One request the server received, and what it answered. */
export interface ServedRequest {
  method: string;
  /** Path and query from the server's root. */
  url: string;
  body?: string;
  status: number;
  at: number;
}

/** `method(params)`: a JSON-RPC call's identity, whatever its id. */
const callKey = (c: { method?: unknown; params?: unknown }) => `${String(c.method)}(${JSON.stringify(c.params ?? [])})`;

/** A request as the conformance cases compare it: a GET's path and query; a POST's path and JSON-RPC calls. */
export function requestLabel(q: Pick<ServedRequest, 'url' | 'body'>): string {
  if (q.body === undefined) return q.url;
  try {
    const sent = JSON.parse(q.body) as unknown;
    const calls = (Array.isArray(sent) ? sent : [sent]) as { method?: unknown; params?: unknown }[];
    return `${q.url} ${calls.map(callKey).join(' ')}`;
  } catch {
    return `${q.url} ${q.body}`;
  }
}

/** A status sent instead of the recorded answer. */
export interface Refusal {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Rewrites a recorded response body (JSON as parsed, or text); return it unchanged to keep it. */
export type Rewrite = (response: unknown, exchange: RecordedExchange) => unknown;

export interface ExchangeServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  requests: ServedRequest[];
  /** Answers the next `times` requests with `refusal` instead of their recorded response. */
  refuseNext(refusal: Refusal, times?: number): void;
  /** Drops the refusals not sent yet. */
  clearRefusals(): void;
  /** Rewrites every recorded response from now on (undefined: answer as recorded). */
  rewrite(fn: Rewrite | undefined): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A JSON-RPC request answered call by call from every recorded call with the same method and params (alone or in a
 * batch), with the request's ids: a read that batches differently (an empty eth_getLogs asks fewer blocks) still
 * gets recorded answers. Undefined when the body is no JSON-RPC or a call was never recorded.
 */
function rpcAnswer(exchanges: RecordedExchange[], url: string, body: string | undefined): RecordedExchange | undefined {
  if (body === undefined) return undefined;
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    return undefined;
  }
  const results = new Map<string, unknown>();
  for (const e of exchanges) {
    if (e.method !== 'POST' || e.url !== url || e.body === undefined) continue;
    const sent = JSON.parse(e.body) as unknown;
    const calls = (Array.isArray(sent) ? sent : [sent]) as { id?: unknown; method?: unknown; params?: unknown }[];
    const answers = (Array.isArray(e.response) ? e.response : [e.response]) as { id?: unknown }[];
    for (const c of calls) {
      const answer = answers.find((a) => a?.id === c.id);
      if (answer) results.set(callKey(c), answer);
    }
  }
  const calls = (Array.isArray(request) ? request : [request]) as { id?: unknown; method?: unknown; params?: unknown }[];
  const answers: unknown[] = [];
  for (const c of calls) {
    const recorded = results.get(callKey(c));
    if (!recorded) return undefined;
    answers.push({ ...(recorded as object), id: c.id });
  }
  return { method: 'POST', url, body, status: 200, headers: { 'content-type': 'application/json' }, response: Array.isArray(request) ? answers : answers[0] };
}

/** Starts a server on 127.0.0.1 answering `exchanges`; an unrecorded request gets 404 naming it. */
export async function startExchangeServer(exchanges: RecordedExchange[]): Promise<ExchangeServer> {
  const refusals: Refusal[] = [];
  let rewrite: Rewrite | undefined;
  const sockets = new Set<Socket>();
  const requests: ServedRequest[] = [];
  let origin = '';

  const server = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const entry: ServedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', body, status: 0, at: Date.now() };
      requests.push(entry);
      const refusal = refusals.shift();
      if (refusal) {
        entry.status = refusal.status;
        res.writeHead(refusal.status, { 'content-type': 'application/json', ...refusal.headers }).end(refusal.body ?? `{"error":"HTTP ${refusal.status}"}`);
        return;
      }
      const exchange = exchanges.find((e) => e.method === entry.method && e.url === entry.url && (e.body ?? undefined) === body) ?? rpcAnswer(exchanges, entry.url, body);
      if (!exchange) {
        entry.status = 404;
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no recorded exchange for ${entry.method} ${entry.url}` }));
        return;
      }
      const response = rewrite ? rewrite(structuredClone(exchange.response), exchange) : exchange.response;
      const headers = Object.fromEntries(Object.entries(exchange.headers).map(([k, v]) => [k, v.replaceAll('{{origin}}', origin)]));
      entry.status = exchange.status;
      res.writeHead(exchange.status, headers).end(responseBytes(exchange, origin, response));
    })().catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    refuseNext(refusal, times = 1) {
      for (let i = 0; i < times; i++) refusals.push(refusal);
    },
    clearRefusals() {
      refusals.splice(0);
    },
    rewrite(fn) {
      rewrite = fn;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
      }),
  };
}
