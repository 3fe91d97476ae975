// Records every stream's pages from the replay server (src/replay/): the real source reads through a loopback proxy
// that keeps each request and its response. Run: node --import tsx src/sources/conformance/record-fixtures.ts [source]
import { writeFileSync, mkdirSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Source } from '../../core/source.ts';
import { HttpClient } from '../../http/http-client.ts';
import { startReplayServer } from '../../replay/index.ts';
import { SOURCES } from '../registry.ts';
import type { StreamConformance } from './conformance-spec.ts';
import { ORIGIN_PLACEHOLDER, type RecordedExchange, type Recording } from './recorded-exchanges.ts';
import { fixtureFile, loadConformance } from './spec-files.ts';

/**
 * The Date header every recording gets (the replay's CoinLore clock, 2024-06-10T00:10Z): sources that stamp snapshots
 * with it (CoinLore) then give the same rows whenever the pages are recorded again.
 */
const RECORDED_DATE = 'Mon, 10 Jun 2024 00:10:00 GMT';

/** Response headers kept: those a source reads. */
const KEPT_HEADERS = ['content-type', 'date', 'link', 'retry-after', 'x-mbx-used-weight-1m'];

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A proxy to `upstream` that records every exchange, the upstream's origin written as the placeholder. */
async function recordingProxy(upstream: string) {
  const exchanges: RecordedExchange[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    void (async () => {
      const sent = await body(req);
      const up = await new Promise<IncomingMessage>((resolve, reject) => {
        const r = httpRequest(`${upstream}${req.url}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/json' } }, resolve);
        r.on('error', reject);
        r.end(sent);
      });
      const text = (await body(up)).toString('utf8').replaceAll(upstream, ORIGIN_PLACEHOLDER);
      const headers: Record<string, string> = {};
      for (const h of KEPT_HEADERS) if (typeof up.headers[h] === 'string') headers[h] = (up.headers[h] as string).replaceAll(upstream, ORIGIN_PLACEHOLDER);
      if (headers.date) headers.date = RECORDED_DATE;
      let response: unknown = text;
      try {
        response = JSON.parse(text);
      } catch {
        // kept as text
      }
      const exchange: RecordedExchange = { method: req.method as 'GET' | 'POST', url: req.url ?? '/', status: up.statusCode ?? 0, headers, response };
      if (req.method === 'POST') exchange.body = sent.toString('utf8');
      if (!exchanges.some((e) => e.method === exchange.method && e.url === exchange.url && e.body === exchange.body)) exchanges.push(exchange);
      const out = text.replaceAll(ORIGIN_PLACEHOLDER, origin);
      res.writeHead(exchange.status, Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replaceAll(ORIGIN_PLACEHOLDER, origin)]))).end(out);
    })().catch((err: unknown) => {
      console.error(err);
      res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, exchanges, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const windowOf = (w?: { start: string; end: string }) => (w ? { start: new Date(w.start), end: new Date(w.end) } : undefined);

/** Reads one stream through the proxy (and its rerun) and writes its recording. */
async function recordStream(source: Source, spec: StreamConformance): Promise<string> {
  const stream = source.streams.find((s) => s.name === spec.stream)!;
  const replay = await startReplayServer(spec.record.replay);
  const proxy = await recordingProxy(replay.url);
  try {
    const http = new HttpClient({ rateLimitPerMinute: 0, retries: 0 });
    const ctx = { http, baseUrl: proxy.origin + spec.record.basePath, params: spec.record.params ?? {}, signal: AbortSignal.timeout(60_000) };
    let state: unknown;
    for await (const page of stream.read({ ...ctx, window: windowOf(spec.record.window) })) state = page.nextState ?? state;
    const firstRead = proxy.exchanges.length;
    if (spec.cursor ?? stream.cursor) for await (const _ of stream.read({ ...ctx, state, window: windowOf(spec.record.rerunWindow) }));
    const recording: Recording = {
      source: source.name,
      stream: spec.stream,
      recordedFrom: `coinlake replay server (src/replay/), read by ${source.name}.${spec.stream} through src/sources/conformance/record-fixtures.ts`,
      basePath: spec.record.basePath,
      params: Object.fromEntries(Object.entries(spec.record.params ?? {}).filter(([, v]) => v !== undefined)) as Recording['params'],
      window: spec.record.window,
      rerunWindow: spec.record.rerunWindow,
      firstRead,
      exchanges: proxy.exchanges,
    };
    const file = fixtureFile(source, spec.stream);
    mkdirSync(path.dirname(file.pathname), { recursive: true });
    writeFileSync(file, `${JSON.stringify(recording)}\n`);
    return `${file.pathname}: ${proxy.exchanges.length} exchanges`;
  } finally {
    await proxy.close();
    await replay.close();
  }
}

const only = process.argv.slice(2);
for (const source of SOURCES.filter((s) => only.length === 0 || only.includes(s.name) || only.some((o) => o.startsWith(`${s.name}.`)))) {
  const conformance = await loadConformance(source);
  for (const spec of conformance.streams) {
    if (only.length > 0 && !only.includes(source.name) && !only.includes(`${source.name}.${spec.stream}`)) continue;
    console.log(await recordStream(source, spec));
  }
}
