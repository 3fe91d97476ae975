// `coinlake backfill --job J --from DATE --to DATE [--symbols …] [--concurrency N] [--limit ROWS]`: a time range in
// chunks, committed chunk by chunk under one run row; run it again after a crash and it continues.
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { durationMs, DURATION_FORM } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { parseInstant } from '../core/time.ts';
import { runBackfill, type BackfillSummary } from '../runner/backfill.ts';
import { gapLine } from '../runner/gap-report.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { replayEndpoints } from './replay-endpoints.ts';

interface BackfillFlags {
  job: string;
  from: string;
  to?: string;
  symbols?: string;
  interval?: string;
  concurrency: string;
  limit?: string;
  chunk?: string;
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

export function registerBackfillCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backfill')
    .description('load a time range in chunks with bounded concurrency; resumable (committed chunks are skipped on a rerun)')
    .requiredOption('--job <job>', 'job name, e.g. binance.klines')
    .requiredOption('--from <date>', 'range start (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('--to <date>', 'range end, exclusive (default: now)')
    .option('--symbols <list>', 'comma-separated symbols, one job each, e.g. BTCUSDT,ETHUSDT')
    .option('--interval <interval>', 'candle interval: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M', '1m')
    .option('--concurrency <n>', 'chunks extracted at once', '4')
    .option('--limit <rows>', 'stop starting new chunks once this many rows were loaded')
    .option('--chunk <duration>', 'chunk length, e.g. 1d, 6h (default 1d)')
    .action(async (o: BackfillFlags) => {
      const g = globals();
      const from = parseInstant(o.from);
      const to = o.to ? parseInstant(o.to) : new Date();
      const chunkMs = o.chunk === undefined ? undefined : durationMs(o.chunk);
      if (o.chunk !== undefined && chunkMs === undefined) throw new ConfigError(`--chunk must be ${DURATION_FORM}, got "${o.chunk}"`);
      const symbols = (o.symbols ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      try {
        await withWarehouse(g, async (session, lake) => {
          const t0 = Date.now();
          const summary = await runBackfill(
            {
              job: o.job,
              from,
              to,
              symbols,
              params: { interval: o.interval },
              concurrency: positiveInt(o.concurrency, '--concurrency'),
              limitRows: o.limit === undefined ? undefined : positiveInt(o.limit, '--limit'),
              chunkMs,
              endpoints: replay.endpoints,
            },
            { session, lake, logLevel: g.logLevel, printLog: g.printLog },
          );
          process.stdout.write(backfillLines(summary, Date.now() - t0).join('\n') + '\n');
        });
      } finally {
        await replay.close();
      }
    });
}
