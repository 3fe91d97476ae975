// `coinlake schedule`: a long-running daemon that runs the catalog's scheduled ingestions on their crons.
// The warehouse is opened per run (so other commands can use a DuckDB file between runs); SIGTERM/SIGINT stop it
// cleanly: no new runs, the running ones end (commit or roll back), then the process exits 0. Each run holds its job's
// lease in the warehouse (scheduler/job-lease.ts), so several schedulers on one warehouse never run one job at once.
import type { Command } from 'commander';
import { loadCatalogJob } from '../catalog/catalog-job.ts';
import { resolveSettings } from '../catalog/settings.ts';
import { DURATION_FORM, durationMs } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { runJob } from '../runner/run-job.ts';
import { lastRunStart, scheduledEntries, type CatalogScheduleEntry } from '../scheduler/catalog-schedule.ts';
import { DEFAULT_LEASE_TTL_MS, JobLeases } from '../scheduler/job-lease.ts';
import { Scheduler, parseCron, type SchedulerEvent } from '../scheduler/scheduler.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { commandConfig } from './config-option.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { summaryLine } from './run-command.ts';

const stamp = () => new Date().toISOString();

function eventLine(e: SchedulerEvent): string | undefined {
  switch (e.kind) {
    case 'next':
      return undefined;
    case 'start':
      return `${e.at.toISOString()} ${e.key}: starting (${e.reason})`;
    case 'end':
      return e.ok ? undefined : `${e.at.toISOString()} ${e.key}: FAILED — ${e.error}`;
    case 'skipped':
      return `${e.at.toISOString()} ${e.key}: not started, ${e.because}`;
    case 'warning':
      return `${e.at.toISOString()} ${e.key}: warning: ${e.message}`;
  }
}

export function registerScheduleCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('schedule')
    .description('run the catalog ingestions that have a `schedule` (cron) until stopped; a downtime is caught up by one run per job')
    .option('--tz <zone>', 'time zone the crons are read in (IANA name)', process.env.COINLAKE_TZ || 'Etc/UTC')
    .option('--lease-ttl <duration>', "a job's lease in the warehouse lasts this long unless renewed (a dead scheduler's expires then)", `${DEFAULT_LEASE_TTL_MS / 1000}s`)
    .action(async (o: { tz: string; leaseTtl: string }) => {
      const g = globals();
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: o.tz });
      } catch {
        throw new ConfigError(`--tz ${o.tz} is not a time zone; expected an IANA name such as Europe/Berlin or Etc/UTC`);
      }
      const leaseTtlMs = durationMs(o.leaseTtl);
      if (leaseTtlMs === undefined || leaseTtlMs < 1_000) throw new ConfigError(`--lease-ttl must be ${DURATION_FORM}, at least 1s; got "${o.leaseTtl}"`);
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      const cfg = await commandConfig();
      try {
        const entries = await withWarehouse(g, (s) => scheduledEntries(s, o.tz));
        if (!entries.length) throw new ConfigError('no enabled ingestion has a schedule', { hint: 'add `schedule: "0 * * * *"` to an ingestion in the config file and run `coinlake setup`' });
        for (const e of entries) {
          const next = parseCron(e).nextRun()!;
          process.stdout.write(`${e.key}: "${e.cron}" (${o.tz}), next run ${next.toISOString()}\n`);
        }
        const stampEvent = (line: string | undefined) => {
          if (line) process.stdout.write(line + '\n');
        };
        const leases = new JobLeases((fn) => withWarehouse(g, (s) => fn(s)), undefined, leaseTtlMs, (key, message) =>
          stampEvent(eventLine({ kind: 'warning', key, message, at: new Date() })),
        );
        const scheduler = new Scheduler({
          entries,
          lease: (e, fireAt) => leases.take(e.key, fireAt),
          lastRunAt: (e) => withWarehouse(g, (s) => lastRunStart(s, e as CatalogScheduleEntry)),
          run: (e) =>
            withWarehouse(g, async (session, lake) => {
              const { connection, asset } = e as CatalogScheduleEntry;
              const t0 = Date.now();
              const job = await loadCatalogJob(session, { connection, asset, seed: cfg.catalog, seedLabel: cfg.catalogOrigin }, { connectionUrl: cfg.settings.connectionUrl }, replay.endpoints);
              const summary = await runJob(job, { session, lake, logLevel: g.logLevel, printLog: g.printLog, progress: false });
              process.stdout.write(`${stamp()} ${summaryLine(summary, Date.now() - t0)}\n`);
            }),
          onEvent: (e) => stampEvent(eventLine(e)),
        });
        scheduler.start();
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            process.off('SIGTERM', onTerm);
            process.off('SIGINT', onInt);
            const n = scheduler.active.length;
            process.stdout.write(`${stamp()} ${signal}: stopping${n ? `, waiting for ${n} running job(s) to finish` : ''}\n`);
            void scheduler.stop().then(resolve);
          };
          const onTerm = () => stop('SIGTERM');
          const onInt = () => stop('SIGINT');
          process.on('SIGTERM', onTerm);
          process.on('SIGINT', onInt);
        });
        process.stdout.write(`${stamp()} stopped\n`);
      } finally {
        await replay.close();
      }
    });
}
