// A JSON API on loopback whose answer a test changes between runs (a snapshot that drops a key, a changed price).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JsonSite {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Path and query of every request, in order. */
  paths: string[];
  /** What the site answers from now on: the JSON body of every request. */
  answer: (body: (url: URL) => unknown) => void;
  close(): Promise<void>;
}

/** Starts a site that answers every GET with the JSON `body(url)` gives (status 200). */
export async function jsonSite(body: (url: URL) => unknown): Promise<JsonSite> {
  const paths: string[] = [];
  let current = body;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    paths.push(url.pathname + url.search);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current(url)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    answer: (next) => {
      current = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
