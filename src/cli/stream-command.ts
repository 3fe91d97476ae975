// `coinlake stream --source <feed>`: a websocket producer and a JetStream consumer of one feed in one process,
// until SIGINT/SIGTERM (or --duration). Stopping publishes what arrived and commits or rolls back the open batch.
import type { Command } from 'commander';
import { ConfigError } from '../core/errors.ts';
import { startReplayServer } from '../replay/index.ts';
import { startWsReplay } from '../replay/ws-replay.ts';
import { BINANCE_URL } from '../sources/binance/binance-source.ts';
import { FEEDS, feedByName } from '../streaming/feed-registry.ts';
import { connectNats } from '../streaming/jetstream-streams.ts';
import { startStreamPipeline } from '../streaming/stream-pipeline.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';

interface StreamOptions {
  source: string;
  symbols?: string;
  batchSize: string;
  batchMs: string;
  duration?: string;
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer (got "${value}")`);
  return n;
}

export function registerStreamCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('stream')
    .description('stream a websocket feed through NATS JetStream into the warehouse until Ctrl-C (NATS at COINLAKE_NATS_URL, default nats://127.0.0.1:4222)')
    .requiredOption('--source <feed>', `one of ${Object.keys(FEEDS).join(', ')}`)
    .option('--symbols <list>', 'CoinCap asset ids (prices), the exchange (coincap.trades) or Binance symbols, comma-separated')
    .option('--batch-size <n>', 'load a batch when it holds this many messages', '1000')
    .option('--batch-ms <n>', '… or when its first message waited this long (ms)', '1000')
    .option('--duration <seconds>', 'stop by itself after this many seconds')
    .action(async (o: StreamOptions) => {
      const g = globals();
      const feed = feedByName(o.source);
      const symbols = (o.symbols ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const batchSize = positive('--batch-size', o.batchSize);
      const batchMs = positive('--batch-ms', o.batchMs);
      const replay = g.replay || process.env.COINLAKE_REPLAY === '1';
      const ws = replay ? await startWsReplay({ ticksPerSecond: 5 }) : undefined;
      const rest = replay && feed.seriesPoint ? await startReplayServer() : undefined;
      const nc = await connectNats();
      try {
        await withWarehouse(g, async (session, lake) => {
          const pipe = await startStreamPipeline({
            feed,
            nc,
            session,
            lake,
            symbols,
            batchSize,
            batchMs,
            wsBaseUrl: ws?.url ?? process.env[`COINLAKE_${feed.source.toUpperCase()}_WS_URL`] ?? feed.defaultBaseUrl,
            restBaseUrl: feed.seriesPoint ? (rest?.binanceUrl ?? process.env.COINLAKE_BINANCE_URL ?? BINANCE_URL) : undefined,
            logLevel: g.logLevel,
            printLog: g.printLog,
            log: {
              info: (obj, msg) => g.logLevel === 'debug' && process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`),
              warn: (obj, msg) => process.stderr.write(`warning: ${msg} ${JSON.stringify(obj)}\n`),
            },
          });
          const table = `${feed.table.schema}.${feed.table.name}`;
          process.stdout.write(`streaming ${o.source} → ${pipe.names.subject} (stream ${pipe.names.stream}) → ${table} [${feed.writeMode}]; Ctrl-C stops\n`);
          const line = () => {
            const p = pipe.producer.stats;
            const c = pipe.consumer.stats;
            return `frames ${p.frames}  published ${p.published} (${p.duplicates} duplicates)  gap-filled ${p.gapFilled}  connects ${p.connects}  batches ${c.batches}  rows ${c.rowsLoaded}`;
          };
          const ticker = setInterval(() => process.stdout.write(line() + '\n'), 5000);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
            if (o.duration) setTimeout(resolve, positive('--duration', o.duration) * 1000);
            pipe.consumer.done.then(resolve, resolve);
          });
          clearInterval(ticker);
          process.stdout.write('stopping: publishing what arrived, committing the open batch…\n');
          await pipe.stop();
          process.stdout.write(`stopped: ${line()}\n`);
        });
      } finally {
        await nc.close();
        await ws?.close();
        await rest?.close();
      }
    });
}
