// API page memory benchmark (#27): one page of about 50 MB — 400,000 records of a CoinGecko-like market list served
// by a loopback server — loaded by `coinlake run` of a declarative REST ingestion, each run in its own process (the
// CLI as a user runs it, its peak RSS read at exit), into DuckDB and into PostgreSQL: once with every value valid, once
// with every value but the key bad (1,600,000 values set aside, 10,000 entries kept). Prints each run's peak RSS,
// records/s and the counts. Target: peak RSS < 512 MB for both pages on both warehouses. BENCH_PAGE_RECORDS sets the
// size, BENCH_PAGE_ENGINES the warehouses (duckdb,postgres), BENCH_REPEAT the rounds.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';

const RECORDS = Number(process.env.BENCH_PAGE_RECORDS ?? 400_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
type Engine = 'duckdb' | 'postgres';
const ENGINES = (process.env.BENCH_PAGE_ENGINES ?? 'duckdb,postgres').split(',').map((e) => e.trim()) as Engine[];
const BIN = new URL('../bin/coinlake.mjs', import.meta.url).pathname;
const REPORTER = new URL('../test/helpers/max-rss-reporter.mjs', import.meta.url).pathname;

/** The page: a JSON array of `RECORDS` market records; `bad`: every value but the id unusable for its column. */
function page(bad: boolean): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const r = bad
      ? { id: `coin-${i}`, current_price: 'n/a', market_cap_rank: 'first', max_supply: 'lots', last_updated: 'yesterday' }
      : { id: `coin-${i}`, current_price: 1000 + (i % 977) / 7, market_cap_rank: i + 1, max_supply: i % 3 ? 21_000_000 + i : null, last_updated: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() };
    // A field the table does not read, as real market lists carry: about 130 bytes a record in all.
    parts.push(JSON.stringify({ ...r, symbol: `c${i}` }));
  }
  return Buffer.from(`[${parts.join(',')}]`);
}

const CATALOG = (url: string) => `connections:
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

interface Run {
  ms: number;
  maxRssMb: number;
  stdout: string;
}

/** `coinlake run -s LOOP -a MARKETS` in its own process against `url`, into a fresh warehouse of `engine`. */
async function runCli(url: string, engine: Engine): Promise<Run> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-page-'));
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  try {
    await writeFile(path.join(dir, 'coinlake.yaml'), CATALOG(url));
    const rssFile = path.join(dir, 'max-rss');
    const args = ['--import', REPORTER, BIN, '--warehouse', db?.url ?? path.join(dir, 'w.duckdb'), '--lake', path.join(dir, 'lake'), '-p', path.join(dir, 'coinlake.yaml'), 'run', '-s', 'LOOP', '-a', 'MARKETS'];
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env: { ...process.env, COINLAKE_TEST_MAX_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const [code] = (await once(child, 'exit')) as [number];
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`coinlake run exited with ${code}: ${stderr}${stdout}`);
    return { ms, maxRssMb: Math.round(Number(await readFile(rssFile, 'utf8')) / 1024), stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db?.drop();
  }
}

export async function main(): Promise<void> {
  const bodies = { clean: page(false), bad: page(true) };
  let body = bodies.clean;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`pages: ${RECORDS.toLocaleString('en-US')} records, clean ${(bodies.clean.length / 1e6).toFixed(1)} MB, bad ${(bodies.bad.length / 1e6).toFixed(1)} MB (every value but the id bad: ${(4 * RECORDS).toLocaleString('en-US')} values)`);
  let worst = 0;
  try {
    for (const engine of ENGINES) {
      for (let round = 1; round <= REPEAT; round++) {
        for (const kind of ['clean', 'bad'] as const) {
          body = bodies[kind];
          const r = await runCli(url, engine);
          const line = r.stdout.trim().split('\n').filter((l) => /quarantined|rows/.test(l)).join(' / ');
          worst = Math.max(worst, r.maxRssMb);
          console.log(
            `${engine.padEnd(8)} ${kind.padEnd(5)} round ${round}: peak RSS ${r.maxRssMb} MB, ${Math.round(RECORDS / (r.ms / 1000)).toLocaleString('en-US')} records/s (${(r.ms / 1000).toFixed(1)} s) — ${line}`,
          );
        }
      }
    }
  } finally {
    server.close();
  }
  console.log(`worst peak RSS ${worst} MB (target < 512 MB: ${worst < 512 ? 'met' : 'NOT met'})`);
}
