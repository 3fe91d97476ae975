// A CoinGecko-like market list as one large JSON page, and the catalog of a declarative REST ingestion reading it —
// for the API page memory bench (bench/api-page-memory-bench.ts) and test (test/rest-page-memory.test.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const BIN = new URL('../../bin/coinlake.mjs', import.meta.url).pathname;
const REPORTER = new URL('./max-rss-reporter.mjs', import.meta.url).pathname;

/** Record i of the page; `bad`: every value but the id unusable for its column. */
export function marketRecord(i: number, bad: boolean): Record<string, unknown> {
  const r = bad
    ? { id: `coin-${i}`, current_price: 'n/a', market_cap_rank: 'first', max_supply: 'lots', last_updated: 'yesterday' }
    : { id: `coin-${i}`, current_price: 1000 + (i % 977) / 7, market_cap_rank: i + 1, max_supply: i % 3 ? 21_000_000 + i : null, last_updated: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() };
  // A field the table does not read, as real market lists carry: about 130 bytes a record in all.
  return { ...r, symbol: `c${i}` };
}

/** The page: a JSON array of `records` market records. */
export function marketPage(records: number, bad: boolean): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < records; i++) parts.push(JSON.stringify(marketRecord(i, bad)));
  return Buffer.from(`[${parts.join(',')}]`);
}

/** A loopback server answering every GET with `body()` (set it between runs). */
export async function pageServer(body: () => Buffer): Promise<{ url: string; close(): void }> {
  const server = http.createServer((_req, res) => {
    const b = body();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const catalog = (url: string) => `connections:
  - name: LOOP
    url: ${url}
ingestions:
  - connection: LOOP
    asset: MARKETS
    target_table: rest_markets
    source: rest.records
    params: { path: /coins, pagination: none }
    primary_key: [id]
    columns:
      - { column_name: id, mapping_column: id, datatype: VARCHAR }
      - { column_name: current_price, mapping_column: current_price, datatype: DOUBLE }
      - { column_name: market_cap_rank, mapping_column: market_cap_rank, datatype: INTEGER }
      - { column_name: max_supply, mapping_column: max_supply, datatype: DOUBLE }
      - { column_name: last_updated, mapping_column: last_updated, datatype: TIMESTAMPTZ }
`;

export interface PageRun {
  ms: number;
  maxRssMb: number;
  stdout: string;
  /** The run's folder: its lake is `lake/`. */
  dir: string;
}

/** `coinlake run -s LOOP -a MARKETS` against `url` in its own process (its peak RSS read at exit), in a new folder below `parent`. */
export async function runPageInChild(parent: string, url: string, warehouse?: string): Promise<PageRun> {
  const dir = await mkdtemp(path.join(parent, 'run-'));
  await writeFile(path.join(dir, 'coinlake.yaml'), catalog(url));
  const rssFile = path.join(dir, 'max-rss');
  const args = ['--import', REPORTER, BIN, '--warehouse', warehouse ?? path.join(dir, 'w.duckdb'), '--lake', path.join(dir, 'lake'), '-p', path.join(dir, 'coinlake.yaml'), 'run', '-s', 'LOOP', '-a', 'MARKETS'];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, COINLAKE_TEST_MAX_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const [code] = (await once(child, 'exit')) as [number];
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`coinlake run exited with ${code}: ${stderr}${stdout}`);
  return { ms, maxRssMb: Math.round(Number(await readFile(rssFile, 'utf8')) / 1024), stdout, dir };
}
