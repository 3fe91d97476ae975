// `coinlake daily`: every enabled incremental job from its watermark to now, one run per job over the whole gap; then
// the repair step (runner/candle-repair.ts) on every candle table present, unless --no-repair.
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { parseInstant } from '../core/time.ts';
import { DEFAULT_MAX_MINUTES, presentCandleTables, runRepair } from '../runner/candle-repair.ts';
import { runDaily, type DailyOutcome } from '../runner/daily.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { RATE_FLAGS, RATE_HELP, withRate } from './rate-option.ts';
import { MAX_MINUTES_HELP, positiveWhole, repairLines } from './repair-command.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { warningLines, modelLines } from './run-command.ts';

/** One line per job: what it loaded, that it was up to date, or why it failed. */
export function dailyLine(o: DailyOutcome): string {
  const name = `${o.job.job} ${o.job.connectionName}/${o.job.tableName}`;
  const since = new Date(o.job.watermark).toISOString();
  switch (o.kind) {
    case 'up-to-date':
      return `${name}: up to date (watermark ${since})`;
    case 'failed':
      return `${name}: FAILED — ${o.error}${o.runId ? ` (run ${o.runId})` : ''}`;
    case 'ran': {
      const s = o.summary;
      const n = (v: number) => v.toLocaleString('en-US');
      const line = `${name}: ${n(s.rowsLoaded)} rows since ${since} into ${s.table} (${n(s.load.inserted)} inserted, ${n(s.load.updated)} updated) from ${s.pages} page(s) — run ${s.runId} (process ${s.processId})`;
      return [line, ...warningLines(s.warnings), ...modelLines(s)].join('\n');
    }
  }
}

export function registerDailyCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('daily')
    .description('run every enabled incremental job from its watermark to now (a gap of several days is one run)')
    .option('--to <date>', 'catch up to this instant instead of now (exclusive)')
    .option('--no-repair', 'skip the repair step (the missing candles of every candle table fetched again, as `coinlake repair` does)')
    .option('--max-minutes <n>', `repair step: ${MAX_MINUTES_HELP}, per candle table`, String(DEFAULT_MAX_MINUTES))
    .option(RATE_FLAGS, RATE_HELP)
    .action(async (o: { to?: string; rate?: string; repair: boolean; maxMinutes: string }) => {
      const g = globals();
      withRate({}, o.rate); // checked before anything starts
      const maxMinutes = positiveWhole(o.maxMinutes, '--max-minutes');
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      try {
        await withWarehouse(g, async (session, lake) => {
          const outcomes = await runDaily({ session, lake, endpoints: withRate(replay.endpoints, o.rate), to: o.to ? parseInstant(o.to) : undefined, logLevel: g.logLevel, printLog: g.printLog });
          const lines = outcomes.length ? outcomes.map(dailyLine) : ['no incremental jobs yet: run a backfill (or `coinlake run` an incremental job) first'];
          process.stdout.write(lines.join('\n') + '\n');
          if (outcomes.some((x) => x.kind === 'failed')) process.exitCode = 1;
          if (!o.repair) return;
          for (const table of await presentCandleTables(session)) {
            const summary = await runRepair({ table, maxMinutes, endpoints: withRate(replay.endpoints, o.rate) }, { session, lake, logLevel: g.logLevel, printLog: g.printLog });
            process.stdout.write(repairLines(summary).join('\n') + '\n');
            if (summary.runs.some((r) => r.status === 'failed')) process.exitCode = 1;
          }
        });
      } finally {
        await replay.close();
      }
    });
}
