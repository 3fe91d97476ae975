// `coinlake demo`: the whole pipeline offline — replay server, every CoinCap job, then where to look.
import path from 'node:path';
import type { Command } from 'commander';
import { clientTableReference } from '../destinations/registry.ts';
import { buildJob } from '../runner/job-builder.ts';
import { runJob, type RunSummary } from '../runner/run-job.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { summaryLine } from './run-command.ts';

/** The demo's jobs: every CoinCap stream, history over the last 30 days of the replayed series. */
export const DEMO_JOBS: { name: string; opts: Record<string, string> }[] = [
  { name: 'coincap.assets', opts: {} },
  { name: 'coincap.exchanges', opts: {} },
  { name: 'coincap.rates', opts: {} },
  { name: 'coincap.markets', opts: {} },
  { name: 'coincap.asset_history', opts: { asset: 'bitcoin', interval: 'h1', from: '2024-12-01', to: '2025-01-01' } },
  { name: 'coincap.asset_history', opts: { asset: 'ethereum', interval: 'h1', from: '2024-12-01', to: '2025-01-01' } },
];

export function registerDemoCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('demo')
    .description('offline demo: replay server + embedded DuckDB + ./lake, every CoinCap job, then a summary')
    .action(async () => {
      const g = globals();
      const replay = await replayEndpoints(true);
      const out = (s: string) => process.stdout.write(s + '\n');
      try {
        await withWarehouse(g, async (session, lake, settings) => {
          out(`coinlake demo — replay server ${replay.server!.url}, warehouse ${path.resolve(settings.warehouse)}, lake ${lake.root}\n`);
          const runs: RunSummary[] = [];
          for (const j of DEMO_JOBS) {
            const t0 = Date.now();
            const s = await runJob(buildJob(j.name, j.opts, replay.endpoints), { session, lake, logLevel: g.logLevel, printLog: g.printLog });
            runs.push(s);
            out(summaryLine(s, Date.now() - t0));
          }
          const counts = [];
          for (const t of [...new Set(runs.map((r) => r.table))]) {
            const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`);
            counts.push({ table: t, rows: Number(n) });
          }
          out('\nRows per table:\n' + formatTable(counts));
          out('\nRuns:\n' + formatTable(runs.map((r) => ({ process: r.processId, run_id: r.runId, job: r.job, rows: r.rowsLoaded, log: path.relative(process.cwd(), r.logPath) }))));
          out('\nLake files written:');
          for (const r of runs) for (const p of r.lakePaths.slice(0, 3)) out(`  ${path.join(path.relative(process.cwd(), lake.root) || '.', p)}`);
          // The SQL printed is for the user's own client on the file, named as it names tables (see clientTableReference).
          const top10 = (assets: string) => `SELECT rank, symbol, name, round(price_usd, 2) AS price_usd, round(market_cap_usd / 1e9, 1) AS market_cap_busd
  FROM ${assets} ORDER BY market_cap_usd DESC NULLS LAST LIMIT 10`;
          const user = (table: string) => clientTableReference(settings.warehouse, 'coinlake', table);
          out(`\nTop 10 assets by market cap:\n${top10(user('coincap_assets'))}\n`);
          out(formatTable(await session.query(top10('coinlake.coincap_assets'))));
          const history = `SELECT * FROM ${user('coincap_asset_history')} LIMIT 5`;
          out(`\nNext: npx coinlake status   |   duckdb ${shellWord(settings.warehouse)} '${history}'`);
        });
      } finally {
        await replay.close();
      }
    });
}

/** A path as one shell word: as is when plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
