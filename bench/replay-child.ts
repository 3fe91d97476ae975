// Runs the replay server in its own process for benchmarks, so serving does not count as coinlake's time.
// Prints the server URL as one JSON line on stdout; exits when stdin closes.
// argv[2]: replay options (JSON). argv[3] `--cache`: put a response cache in front of the server — the first GET of a
// URL (per Accept-Encoding) is answered by the replay server and kept, later ones are sent from memory. A benchmark
// fetches its URLs once untimed, so the timed run does not pay for generating and gzipping the responses on the same
// two cores: a real API does that on its own machines.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startReplayServer } from '../src/replay/index.ts';

interface Cached {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const server = await startReplayServer(JSON.parse(process.argv[2] ?? '{}'));
let url = server.url;
let close = () => server.close();
if (process.argv[3] === '--cache') {
  const upstream = new URL(server.url);
  const cache = new Map<string, Cached>();
  const send = (res: import('node:http').ServerResponse, c: Cached) => {
    res.writeHead(c.status, { ...c.headers, 'content-length': String(c.body.length) });
    res.end(c.body);
  };
  const front = createServer((req, res) => {
    const key = `${req.method} ${req.url} ${req.headers['accept-encoding'] ?? ''}`;
    const hit = cache.get(key);
    if (hit) return send(res, hit);
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const headers = { ...r.headers };
        for (const h of ['transfer-encoding', 'content-length', 'connection', 'keep-alive']) delete headers[h];
        const c: Cached = { status: r.statusCode ?? 502, headers, body: Buffer.concat(chunks) };
        if (req.method === 'GET' && c.status === 200) cache.set(key, c);
        send(res, c);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  close = async () => {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    await server.close();
  };
}
const swap = (u: string) => u.replace(server.url, url);
process.stdout.write(JSON.stringify({ url, coincapV2Url: swap(server.coincapV2Url) }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => void close().then(() => process.exit(0)));
