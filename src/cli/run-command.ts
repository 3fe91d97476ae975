// `coinlake run <job>`: runs one job and prints a one-line summary.
import type { Command } from 'commander';
import { buildJob, type JobOptions } from '../runner/job-builder.ts';
import { runJob, type RunSummary } from '../runner/run-job.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { resolveSettings } from '../catalog/settings.ts';

/** One line telling what a run did. */
export function summaryLine(s: RunSummary, ms: number): string {
  const q = s.rowsQuarantined ? `, ${s.rowsQuarantined} quarantined` : '';
  return `${s.job}: ${s.rowsLoaded.toLocaleString('en-US')} rows into ${s.table} (${s.load.inserted} inserted, ${s.load.updated} updated, ${s.load.deleted} deleted${q}) from ${s.pages} page(s) in ${(ms / 1000).toFixed(1)} s — run ${s.runId} (process ${s.processId})`;
}

export function registerRunCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('run')
    .description('run one job, e.g. coincap.assets or coincap.asset_history --asset bitcoin --interval h1 --from 2024-01-01')
    .argument('[job]', 'job name (source.stream)')
    .option('--asset <id>', 'asset id for per-asset streams', undefined)
    .option('--interval <interval>', 'history interval: m1 m5 m15 m30 h1 h2 h6 h12 d1')
    .option('--from <date>', 'window start (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('--to <date>', 'window end (default: now)')
    .option('--mode <mode>', 'write mode: replace | append | merge | delete_insert')
    .action(async (jobName: string | undefined, o: JobOptions) => {
      const g = globals();
      if (!jobName) throw new Error('name a job, e.g. `coinlake run coincap.assets` (or -s CONNECTION -a ASSET)');
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      try {
        const job = buildJob(jobName, o, replay.endpoints);
        await withWarehouse(g, async (session, lake) => {
          const t0 = Date.now();
          const summary = await runJob(job, { session, lake, logLevel: g.logLevel, printLog: g.printLog });
          process.stdout.write(summaryLine(summary, Date.now() - t0) + '\n');
        });
      } finally {
        await replay.close();
      }
    });
}
