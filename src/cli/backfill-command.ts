// `coinlake backfill --job J --from DATE --to DATE [--symbols …] [--concurrency N] [--limit ROWS]`: a time range in
// chunks, committed chunk by chunk under one run row; run it again after a crash and it continues. With
// `--distributed` the chunks go to the JetStream work queue instead, for `coinlake worker`s to load.
import { requireLocalLake } from '../lake/lake.ts';
import type { Command } from 'commander';
import type { Session } from '../core/destination.ts';
import type { LocalLake } from '../lake/local-lake.ts';
// The --distributed path (NATS, the work queue) is imported only when asked for.
import type { DistributedBackfillOutcome } from '../distributed/distributed-backfill.ts';
import type { taskQueueNames } from '../distributed/task-queue.ts';
import { resolveSettings } from '../catalog/settings.ts';
import { durationMs, DURATION_FORM } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { parseInstant } from '../core/time.ts';
import { runBackfill, type BackfillRequest, type BackfillSummary } from '../runner/backfill.ts';
import { checkWindow } from '../runner/job-builder.ts';
import { gapLine } from '../runner/gap-report.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { RATE_FLAGS, RATE_HELP, withRate } from './rate-option.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { SOURCES } from '../sources/registry.ts';
import { EXAMPLES } from '../sources/registry.ts';

interface BackfillFlags {
  job: string;
  from: string;
  to?: string;
  symbols?: string;
  exchange?: string;
  interval?: string;
  concurrency: string;
  limit?: string;
  chunk?: string;
  distributed?: boolean;
  nats?: string;
  queue?: string;
  wait: boolean;
  stallTimeout?: string;
  rate?: string;
  rateShared?: boolean;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${flag} must be a positive whole number, got "${value}"`);
  return n;
}

/** What a backfill prints: one summary line, then one line per series with its gap count. */
export function backfillLines(s: BackfillSummary, ms: number): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const c = s.chunks;
  const stopped = s.stoppedAtLimit ? `; stopped at the row limit, ${n(c.remaining)} chunk(s) left for a rerun` : '';
  const q = s.rowsQuarantined ? `, ${n(s.rowsQuarantined)} quarantined` : '';
  return [
    `${s.job}: ${n(c.committed + c.skipped)}/${n(c.total)} chunks (${n(c.skipped)} already loaded, ${n(c.committed)} now, ${n(s.commits)} commits), ` +
      `${n(s.rowsLoaded)} rows into ${s.table} (${n(s.load.inserted)} inserted, ${n(s.load.updated)} updated${q}) in ${(ms / 1000).toFixed(1)} s — run ${s.runId} (process ${s.processId})${stopped}`,
    ...s.gaps.map((g) => `  gaps: ${gapLine(g)}`),
  ];
}

/** The base URL variable of a job's source (`COINLAKE_<SOURCE>_URL` as the source declares it). */
function baseUrlVariable(job: string): string {
  const name = job.split('.', 1)[0];
  return SOURCES.find((s) => s.name === name)?.variables.baseUrl ?? `COINLAKE_${name.toUpperCase()}_URL`;
}

export function registerBackfillCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backfill')
    .description('load a time range in chunks with bounded concurrency; resumable (committed chunks are skipped on a rerun)')
    .requiredOption('--job <job>', `job name, e.g. ${EXAMPLES.backfillJob}`)
    .requiredOption('--from <date>', 'range start (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('--to <date>', 'range end, exclusive (default: now)')
    .option('--symbols <list>', 'comma-separated symbols, one job each, e.g. BTCUSDT,ETHUSDT')
    .option('--exchange <id>', 'the exchange, for a source that reaches many (its `exchange` param)')
    .option('--interval <interval>', 'candle interval: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M', '1m')
    .option('--concurrency <n>', 'chunks extracted at once', '4')
    .option('--limit <rows>', 'stop starting new chunks once this many rows were loaded')
    .option('--chunk <duration>', 'chunk length, e.g. 1d, 6h (default 1d)')
    .option('--distributed', 'publish the chunks to the NATS JetStream work queue for `coinlake worker`s (needs PostgreSQL)')
    .option('--nats <url>', 'NATS server of --distributed (default COINLAKE_NATS_URL or nats://127.0.0.1:4222)')
    .option('--queue <name>', 'work queue of --distributed (default COINLAKE_QUEUE or coinlake: stream COINLAKE_TASKS)')
    .option('--no-wait', 'with --distributed: publish and return; the last worker closes the run')
    .option('--stall-timeout <duration>', 'with --distributed: fail the run when no task is taken, loaded or retried for this long (default 10m)')
    .option(RATE_FLAGS, RATE_HELP)
    .option('--rate-shared', 'with --distributed: the workers call the API with one key, so they share the rate limit (one budget in NATS); by default each worker has the whole limit')
    .action(async (o: BackfillFlags) => {
      const g = globals();
      withRate({}, o.rate); // checked before anything starts
      const from = parseInstant(o.from);
      const to = o.to ? parseInstant(o.to) : new Date();
      if (o.to) checkWindow(o.from, o.to, from, to);
      const chunkMs = o.chunk === undefined ? undefined : durationMs(o.chunk);
      if (o.chunk !== undefined && chunkMs === undefined) throw new ConfigError(`--chunk must be ${DURATION_FORM}, got "${o.chunk}"`);
      const symbols = (o.symbols ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (!o.distributed && (o.nats !== undefined || o.queue !== undefined || !o.wait || o.stallTimeout !== undefined || o.rateShared)) {
        throw new ConfigError('--nats, --queue, --no-wait, --stall-timeout and --rate-shared go with --distributed');
      }
      const stallMs = o.stallTimeout === undefined ? undefined : durationMs(o.stallTimeout);
      if (o.stallTimeout !== undefined && stallMs === undefined) throw new ConfigError(`--stall-timeout must be ${DURATION_FORM}, got "${o.stallTimeout}"`);
      const queue = o.distributed ? (await import('../distributed/task-queue.ts')).taskQueueNames(o.queue) : undefined;
      const settings = resolveSettings({ replay: g.replay || undefined });
      if (o.distributed && settings.replay && !o.wait) {
        throw new ConfigError('--replay cannot go with --no-wait: the replay server runs in this process and would stop with it', {
          hint: `start the workers with --replay (each runs its own replay server), or point ${baseUrlVariable(o.job)} at a server that stays up`,
        });
      }
      const replay = await replayEndpoints(settings.replay);
      try {
        await withWarehouse(g, async (session, lake, resolved) => {
          requireLocalLake(lake, 'coinlake backfill');
          const t0 = Date.now();
          const req: BackfillRequest = {
            job: o.job,
            from,
            to,
            symbols,
            params: { interval: o.interval, ...(o.exchange ? { exchange: o.exchange } : {}) },
            concurrency: positiveInt(o.concurrency, '--concurrency'),
            limitRows: o.limit === undefined ? undefined : positiveInt(o.limit, '--limit'),
            chunkMs,
            endpoints: { ...withRate(replay.endpoints, o.rate), ...(o.rateShared ? { rateLimitShared: true } : {}) },
          };
          if (o.distributed) {
            (await import('../distributed/distributed-backfill.ts')).requireSharedWarehouse(session, resolved.warehouse, 'backfill --distributed');
            const outcome = await distributed(req, session, lake, { ...g, nats: o.nats, queue: queue!, wait: o.wait, stallMs });
            process.stdout.write((await distributedLines(session, outcome, Date.now() - t0)).join('\n') + '\n');
            return;
          }
          const summary = await runBackfill(req, { session, lake, logLevel: g.logLevel, printLog: g.printLog });
          process.stdout.write(backfillLines(summary, Date.now() - t0).join('\n') + '\n');
        });
      } finally {
        await replay.close();
      }
    });
}

/** Runs the coordinator; Ctrl-C (SIGINT/SIGTERM) stops following the workers, who go on and close the run. */
async function distributed(
  req: BackfillRequest,
  session: Session,
  lake: LocalLake,
  o: GlobalOptions & { nats?: string; queue: ReturnType<typeof taskQueueNames>; wait: boolean; stallMs?: number },
): Promise<DistributedBackfillOutcome> {
  const [{ connectNats }, { runDistributedBackfill }] = await Promise.all([import('../streaming/jetstream-streams.ts'), import('../distributed/distributed-backfill.ts')]);
  const nc = await connectNats(o.nats);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runDistributedBackfill(req, {
      session,
      lake,
      nc,
      queue: o.queue,
      wait: o.wait,
      stallMs: o.stallMs,
      signal: stop.signal,
      logLevel: o.logLevel,
      printLog: o.printLog,
      onNoWorker: (n) => process.stderr.write(`no worker of this warehouse is pulling from ${n.stream} (consumer ${n.consumer}) yet: start one with \`coinlake worker\` (same warehouse and NATS)\n`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await nc.close();
  }
}

/** What a distributed backfill prints: the summary and the chunks per worker once closed, or what it left to the workers. */
export async function distributedLines(session: Session, outcome: DistributedBackfillOutcome, ms: number): Promise<string[]> {
  const p = outcome.published;
  const n = (v: number) => v.toLocaleString('en-US');
  if (outcome.summary) {
    const { workerCounts } = await import('../distributed/task-table.ts');
    const workers = await workerCounts(session, p.processId);
    const done = workers.filter((w) => w.done > 0).map((w) => `${w.worker} ${n(w.done)} chunk(s) (${n(w.rows)} rows)`);
    return [...backfillLines(outcome.summary, ms), ...(done.length ? [`  workers: ${done.join(', ')}`] : [])];
  }
  const head = `${p.queue.stream}: ${n(p.published)} chunk task(s) published (${n(p.skipped)} of ${n(p.total)} already loaded) — run ${p.runId} (process ${p.processId})`;
  return [`${head}; ${n(outcome.left ?? 0)} chunk(s) left to the workers, the last of them closes the run (see coinlake status)`];
}
