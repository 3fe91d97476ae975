// API page memory benchmark (#27): one page of about 50 MB — 400,000 records of a CoinGecko-like market list served
// by a loopback server — loaded by `coinlake run` of a declarative REST ingestion, each run in its own process (the
// CLI as a user runs it, its peak RSS read at exit), into DuckDB and into PostgreSQL: once with every value valid, once
// with every value but the key bad (1,600,000 values set aside, 10,000 entries kept). Prints each run's peak RSS,
// records/s and the counts. Target: peak RSS < 512 MB for both pages on both warehouses. BENCH_PAGE_RECORDS sets the
// size, BENCH_PAGE_ENGINES the warehouses (duckdb,postgres), BENCH_REPEAT the rounds.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { marketPage, pageServer, runPageInChild } from '../test/helpers/market-page.ts';

const RECORDS = Number(process.env.BENCH_PAGE_RECORDS ?? 400_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
type Engine = 'duckdb' | 'postgres';
const ENGINES = (process.env.BENCH_PAGE_ENGINES ?? 'duckdb,postgres').split(',').map((e) => e.trim()) as Engine[];

/** `coinlake run` in its own process against `url`, into a fresh warehouse of `engine`. */
async function runCli(url: string, engine: Engine) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-page-'));
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  try {
    return await runPageInChild(dir, url, db?.url);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db?.drop();
  }
}

export async function main(): Promise<void> {
  const bodies = { clean: marketPage(RECORDS, false), bad: marketPage(RECORDS, true) };
  let body = bodies.clean;
  const server = await pageServer(() => body);
  const url = server.url;
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
