// `coinlake run <job>`: runs one job and prints a one-line summary.
import { RUN_FAILED_QUALITY } from '../runner/run-history.ts';
import type { Command } from 'commander';
import { buildJob, type JobOptions } from '../runner/job-builder.ts';
import { runJob, type RunSummary } from '../runner/run-job.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { resolveSettings } from '../catalog/settings.ts';
import { loadCatalogJob } from '../catalog/catalog-job.ts';
import { commandConfig } from './config-option.ts';
import { RATE_FLAGS, RATE_HELP, withRate } from './rate-option.ts';
import { TerminalError } from '../core/errors.ts';
import { EXAMPLES } from '../sources/registry.ts';

const CATALOG_LIST_HINT = '`coinlake catalog list` shows the connections and their assets; `coinlake run --help` the options';

/** A run whose data committed but whose error-severity checks failed: say so and exit non-zero. */
function reportQuality(s: RunSummary): void {
  if (s.status !== RUN_FAILED_QUALITY) return;
  process.stderr.write(`error: quality checks failed for ${s.table}: ${s.qualityMessage ?? 'see coinlake check'}\nhint: the data is committed; run \`coinlake check\` for details\n`);
  process.exitCode = 1;
}

/** One line telling what a run did. */
export function summaryLine(s: RunSummary, ms: number): string {
  const q = s.rowsQuarantined ? `, ${s.rowsQuarantined} quarantined` : '';
  const line = `${s.job}: ${s.rowsLoaded.toLocaleString('en-US')} rows into ${s.table} (${s.load.inserted} inserted, ${s.load.updated} updated, ${s.load.deleted} deleted${q}) from ${s.pages} page(s) in ${(ms / 1000).toFixed(1)} s — run ${s.runId} (process ${s.processId})`;
  return [line, ...warningLines(s.warnings), ...modelLines(s)].join('\n');
}

/** The models a run refreshed after its load (the catalog's refresh_models), as one line under its summary. */
export function modelLines(s: Pick<RunSummary, 'models'>): string[] {
  if (!s.models) return [];
  const each = s.models.results.map((r) => `${r.model} ${r.rows.toLocaleString('en-US')}${r.detail ? ` (${r.detail})` : ''}`).join(', ');
  return [`  models refreshed in ${(s.models.ms / 1000).toFixed(1)} s — run ${s.models.runId}: ${each}`];
}

/** A run's warnings (k·σ audit, failed `warn` checks) as lines under its summary, so they are not only in the log. */
export function warningLines(warnings: string[] = []): string[] {
  return warnings.map((w) => `  warning: ${w}`);
}

export function registerRunCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('run')
    .description(`run one job, e.g. ${EXAMPLES.job} or ${EXAMPLES.jobWithParams}, or a catalog job: -s CONNECTION -a ASSET`)
    .argument('[job]', 'job name (source.stream)')
    .option('-s, --section <connection>', `catalog connection (section), e.g. ${EXAMPLES.connection}; with -a`)
    .option('-a, --table-name <asset>', `catalog asset (table_name), e.g. ${EXAMPLES.catalogAsset}; with -s`)
    .option('--asset <id>', 'asset id for per-asset streams', undefined)
    .option('--exchange <id>', 'the exchange, for a source that reaches many (its `exchange` param)')
    .option('--interval <interval>', 'history interval: m1 m5 m15 m30 h1 h2 h6 h12 d1')
    .option('--from <date>', 'window start (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('--to <date>', 'window end, exclusive: --from 2024-03-01 --to 2024-03-02 is the day 2024-03-01 (default: now)')
    .option('--mode <mode>', 'write mode: replace | append | merge | delete_insert')
    .option(RATE_FLAGS, RATE_HELP)
    .action(async (jobName: string | undefined, o: JobOptions & { section?: string; tableName?: string; rate?: string; exchange?: string }) => {
      const g = globals();
      const { section, tableName, rate, exchange, ...jobOpts } = o;
      withRate({}, rate); // checked before anything starts
      const catalog = section !== undefined || tableName !== undefined;
      if (!jobName && !catalog) throw new TerminalError(`name a job, e.g. \`coinlake run ${EXAMPLES.job}\` (or -s CONNECTION -a ASSET)`, { hint: CATALOG_LIST_HINT });
      if (jobName && catalog) throw new TerminalError('give either a job name or -s CONNECTION -a ASSET, not both', { hint: 'drop the job name to run the catalog asset, or -s and -a to run the job' });
      if (catalog && (!section || !tableName)) {
        throw new TerminalError(`-s CONNECTION and -a ASSET go together, e.g. \`coinlake run -s ${EXAMPLES.connection} -a ${EXAMPLES.catalogAsset}\``, { hint: CATALOG_LIST_HINT });
      }
      if (catalog && exchange !== undefined) throw new TerminalError('--exchange goes with a job name; a catalog asset names its exchange in its params', { hint: CATALOG_LIST_HINT });
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      try {
        const endpoints = withRate(replay.endpoints, rate);
        const job = jobName ? buildJob(jobName, exchange === undefined ? jobOpts : { ...jobOpts, params: { ...jobOpts.params, exchange } }, endpoints) : undefined;
        const cfg = catalog ? await commandConfig() : undefined;
        await withWarehouse(g, async (session, lake) => {
          const t0 = Date.now();
          const theJob =
            job ??
            (await loadCatalogJob(
              session,
              { connection: section!, asset: tableName!, seed: cfg!.catalog, seedLabel: cfg!.catalogOrigin },
              { ...jobOpts, connectionUrl: cfg!.settings.connectionUrl },
              endpoints,
            ));
          const summary = await runJob(theJob, { session, lake, logLevel: g.logLevel, printLog: g.printLog });
          process.stdout.write(summaryLine(summary, Date.now() - t0) + '\n');
          reportQuality(summary);
        });
      } finally {
        await replay.close();
      }
    });
}
