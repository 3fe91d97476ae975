// `coinlake worker [--concurrency N] [--name NAME] [--nats URL] [--queue NAME] [--ack-wait 30s]`: loads chunk tasks of
// distributed backfills (`coinlake backfill --distributed`) from the JetStream work queue until stopped. SIGTERM or
// Ctrl-C finishes the tasks in hand and exits 0; a second one gives them back to the queue at once.
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { durationMs, DURATION_FORM } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { BackfillWorker } from '../distributed/backfill-worker.ts';
import { taskQueueNames } from '../distributed/task-queue.ts';
import { openLake, requireLocalLake } from '../lake/lake.ts';
import { connectNats } from '../streaming/jetstream-streams.ts';
import type { GlobalOptions } from './cli-context.ts';
import { replayEndpoints } from './replay-endpoints.ts';

interface WorkerFlags {
  concurrency: string;
  name?: string;
  nats?: string;
  queue?: string;
  ackWait?: string;
  maxDeliver?: string;
  maxIdle?: string;
}

function duration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = durationMs(value);
  if (ms === undefined) throw new ConfigError(`${flag} must be ${DURATION_FORM}, got "${value}"`);
  return ms;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${flag} must be a positive whole number, got "${value}"`);
  return n;
}

export function registerWorkerCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('worker')
    .description('load chunk tasks of distributed backfills from the NATS JetStream work queue (PostgreSQL warehouse)')
    .option('--concurrency <n>', 'chunks downloaded at once (as many more commit meanwhile)', '1')
    .option('--name <name>', 'name shown in coinlake status and backfill_chunk (default <host>-<pid>)')
    .option('--nats <url>', 'NATS server (default COINLAKE_NATS_URL or nats://127.0.0.1:4222)')
    .option('--queue <name>', 'work queue (default COINLAKE_QUEUE or coinlake: stream COINLAKE_TASKS)')
    .option('--ack-wait <duration>', 'a task unanswered this long goes to another worker; sets the shared consumer (default 30s)')
    .option('--max-deliver <n>', 'deliveries of a task before it fails for good; sets the shared consumer (default 5)')
    .option('--max-idle <duration>', 'exit once no task came for this long (default: run until stopped)')
    .action(async (o: WorkerFlags) => {
      const g = globals();
      const settings = resolveSettings({ warehouse: g.warehouse, lake: g.lake, replay: g.replay || undefined });
      const queue = taskQueueNames(o.queue);
      const opts = {
        concurrency: positiveInt(o.concurrency, '--concurrency'),
        ackWaitMs: duration(o.ackWait, '--ack-wait'),
        maxDeliver: positiveInt(o.maxDeliver, '--max-deliver'),
        maxIdleMs: duration(o.maxIdle, '--max-idle'),
      };
      const replay = await replayEndpoints(settings.replay);
      const nc = await connectNats(o.nats).catch(async (err) => {
        await replay.close();
        throw err;
      });
      const out = (line: string) => process.stdout.write(line + '\n');
      const worker = new BackfillWorker({
        warehouse: settings.warehouse,
        lake: requireLocalLake(openLake(settings.lake), 'coinlake worker'),
        nc,
        queue,
        name: o.name,
        ...opts,
        endpoints: replay.endpoints,
        logLevel: g.logLevel,
        printLog: g.printLog,
        onEvent: out,
      });
      let signals = 0;
      const onSignal = (name: string) => {
        signals++;
        out(signals === 1 ? `worker ${worker.name}: ${name}, finishing the task(s) in hand` : `worker ${worker.name}: ${name} again, giving the task(s) in hand back to the queue`);
        void worker.stop({ abandon: signals > 1 });
      };
      const onTerm = () => onSignal('SIGTERM');
      const onInt = () => onSignal('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      try {
        await worker.start();
        await worker.done;
        const s = worker.stats;
        out(`worker ${worker.name} stopped: ${s.committed} chunk(s) committed (${s.rowsLoaded.toLocaleString('en-US')} rows), ${s.skipped} already loaded, ${s.retried} retried, ${s.failed} failed`);
      } finally {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        await nc.close();
        await replay.close();
      }
    });
}
