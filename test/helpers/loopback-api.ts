// A small HTTP API on loopback that a test writes from a real API's documented shapes: every GET is answered by the
// test's function, and the path, query, time and headers of each request are kept for the test to check.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body: unknown;
}

export interface LoopbackRequest {
  /** Path and query, as sent. */
  path: string;
  /** Date.now() when the request arrived. */
  at: number;
  headers: IncomingHttpHeaders;
}

export interface LoopbackApi {
  /** http://127.0.0.1:PORT */
  url: string;
  requests: LoopbackRequest[];
  /** Path and query of every request, in order. */
  readonly paths: string[];
  close(): Promise<void>;
}

/** Starts an API answering every request with `answer(url)` (status 200 and JSON unless it says otherwise). */
export async function loopbackApi(answer: (url: URL) => Answer): Promise<LoopbackApi> {
  const requests: LoopbackRequest[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ path: url.pathname + url.search, at: Date.now(), headers: req.headers });
    const a = answer(url);
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers }).end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    get paths() {
      return requests.map((r) => r.path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
