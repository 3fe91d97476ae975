// `coinlake import cdd <file|dir|glob>…`: CryptoDataDownload CSV files into coinlake.ohlcv_<interval> and the lake.
import { requireLocalLake } from '../lake/lake.ts';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../core/errors.ts';
import { importCddFiles, type CddImportSummary } from '../runner/cdd-import.ts';
import { gapLine } from '../runner/gap-report.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';

/** What an import prints: one line per file, a total line, then the gaps per series. */
export function importLines(s: CddImportSummary, ms: number): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const shown = (file: string) => {
    const rel = path.relative(process.cwd(), file);
    return rel.startsWith('..') ? file : rel;
  };
  const lines = s.files.map(
    (f) =>
      `${shown(f.file)}: ${n(f.lines)} lines (${f.style} header), ${n(f.loaded)} candles into ${f.table} (${n(f.load.inserted)} inserted, ${n(f.load.updated)} updated` +
      `${f.repeated ? `, ${n(f.repeated)} repeated lines merged` : ''}), ${n(f.quarantined)} quarantined`,
  );
  const rate = ms > 0 ? ` (${n(Math.round(s.rowsExtracted / (ms / 1000)))} lines/s)` : '';
  lines.push(
    `import cdd: ${s.files.length} file(s), ${n(s.rowsLoaded)} candles (${n(s.load.inserted)} inserted, ${n(s.load.updated)} updated), ${n(s.rowsQuarantined)} quarantined in ${(ms / 1000).toFixed(1)} s${rate} — run ${s.runId} (process ${s.processId})`,
  );
  const q = s.lakePaths.filter((p) => p.startsWith('quarantine/'));
  if (q.length) lines.push(`  quarantine: ${q.join(', ')}`);
  for (const g of s.gaps) lines.push(`  gaps: ${gapLine(g)}`);
  return lines;
}

export function registerImportCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('import')
    .description('import files: `import cdd <file|dir|glob>…` loads CryptoDataDownload CSVs into coinlake.ohlcv_1m (merged) and the lake')
    .argument('<format>', 'file format: cdd (CryptoDataDownload)')
    .argument('<paths...>', 'files, directories of .csv files, or patterns such as data/Binance_*_minute.csv')
    .option('--exchange <name>', 'exchange of every file (default: from the file name, Binance_… → binance)')
    .option('--interval <interval>', 'candle interval of every file (default: from the file name, _minute → 1m)')
    .option('--memory-limit <size>', 'DuckDB memory limit while importing; bigger files spill to disk', '256MB')
    .action(async (format: string, paths: string[], o: { exchange?: string; interval?: string; memoryLimit: string }) => {
      if (format !== 'cdd') throw new ConfigError(`unknown import format "${format}"`, { hint: 'use `coinlake import cdd <files>`' });
      const g = globals();
      await withWarehouse(g, async (session, lake) => {
        requireLocalLake(lake, 'coinlake import cdd');
        const t0 = Date.now();
        const summary = await importCddFiles(paths, { session, lake, exchange: o.exchange, interval: o.interval, memoryLimit: o.memoryLimit, logLevel: g.logLevel, printLog: g.printLog });
        process.stdout.write(importLines(summary, Date.now() - t0).join('\n') + '\n');
      });
    });
}
