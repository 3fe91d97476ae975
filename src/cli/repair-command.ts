// `coinlake repair [--table ohlcv_1m] [--exchange ID] [--symbols A,B] [--since D] [--max-minutes N]`: the missing
// candles of a candle table fetched again from each venue's source (runner/candle-repair.ts); `coinlake daily` runs
// the same step after its jobs.
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { ConfigError } from '../core/errors.ts';
import { parseInstant } from '../core/time.ts';
import { DEFAULT_MAX_MINUTES, DEFAULT_REPAIR_TABLE, candleTableInterval, checkRepairExchange, runRepair, type RepairSummary } from '../runner/candle-repair.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { RATE_FLAGS, RATE_HELP, withRate } from './rate-option.ts';
import { replayEndpoints } from './replay-endpoints.ts';

interface RepairFlags {
  table: string;
  exchange?: string;
  symbols?: string;
  since?: string;
  maxMinutes: string;
  concurrency: string;
  rate?: string;
}

/** Help of --max-minutes, shared with `coinlake daily`. */
export const MAX_MINUTES_HELP = `most candles requested per run, over every exchange (minutes of ohlcv_1m); the rest is left for the next run`;

/** A positive whole number given to `flag`. */
export function positiveWhole(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${flag} must be a positive whole number, got "${value}"`);
  return n;
}

/** What a repair prints: what it found, one line per exchange run, the bound's note, the series no source serves. */
export function repairLines(s: RepairSummary): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const what = s.interval === '1m' ? 'minute(s)' : 'candle(s)';
  if (!s.exists) return [`repair ${s.table}: the table does not exist yet; nothing to repair`];
  const known = `${n(s.knownMissing)} known missing left alone`;
  if (s.missing === 0) return [`repair ${s.table}: ${n(s.series)} series, nothing missing (${known})`];
  const lines = [`repair ${s.table}: ${n(s.series)} series, ${n(s.missing)} missing ${what} in ${n(s.ranges)} range(s) (${known})`];
  for (const r of s.runs) {
    const run = r.runId ? ` — run ${r.runId} (process ${r.processId})` : '';
    lines.push(
      r.status === 'failed'
        ? `  ${r.exchange}: FAILED — ${r.error}${run}`
        : `  ${r.exchange}: ${n(r.repaired)} repaired, ${n(r.knownMissing)} known missing (the exchange has no candle) of ${n(r.requested)} requested in ${n(r.series)} series${run}`,
    );
  }
  if (s.cut) lines.push(`  --max-minutes ${n(s.maxMinutes)} reached: ${n(s.missing - s.requested - s.unserved.reduce((m, u) => m + u.missing, 0))} missing ${what} left for the next run`);
  for (const u of s.unserved) lines.push(`  ${u.exchange}: ${n(u.series)} series, ${n(u.missing)} missing ${what} not repaired: no source refetches them`);
  return lines;
}

export function registerRepairCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('repair')
    .description("fetch a candle table's missing candles again from each exchange's source; candles the exchange has none for are remembered and not asked again")
    .option('--table <table>', 'candle table: ohlcv_1m, ohlcv_1h, … (ohlcv_<interval>)', DEFAULT_REPAIR_TABLE)
    .option('--exchange <id>', 'only this exchange (the table\'s exchange column)')
    .option('--symbols <list>', 'only these symbols, comma-separated (BASE-QUOTE, e.g. BTC-USDT,ETH-USDT)')
    .option('--since <date>', 'only candles at or after this instant (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('--max-minutes <n>', MAX_MINUTES_HELP, String(DEFAULT_MAX_MINUTES))
    .option('--concurrency <n>', 'windows fetched at once per exchange', '4')
    .option(RATE_FLAGS, RATE_HELP)
    .action(async (o: RepairFlags) => {
      const g = globals();
      withRate({}, o.rate); // checked before anything starts
      candleTableInterval(o.table);
      if (o.exchange !== undefined) checkRepairExchange(o.exchange);
      const maxMinutes = positiveWhole(o.maxMinutes, '--max-minutes');
      const concurrency = positiveWhole(o.concurrency, '--concurrency');
      const symbols = (o.symbols ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      const since = o.since === undefined ? undefined : parseInstant(o.since);
      const settings = resolveSettings({ replay: g.replay || undefined });
      const replay = await replayEndpoints(settings.replay);
      try {
        await withWarehouse(g, async (session, lake) => {
          const summary = await runRepair(
            { table: o.table, exchange: o.exchange, symbols: symbols.length ? symbols : undefined, since, maxMinutes, concurrency, endpoints: withRate(replay.endpoints, o.rate) },
            { session, lake, logLevel: g.logLevel, printLog: g.printLog },
          );
          process.stdout.write(repairLines(summary).join('\n') + '\n');
          if (summary.runs.some((r) => r.status === 'failed')) process.exitCode = 1;
        });
      } finally {
        await replay.close();
      }
    });
}
