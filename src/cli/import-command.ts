// `coinlake import <format> <file|dir|glob>…`: files of a registered format (src/sources/file-format-registry.ts)
// into their tables and the lake; the command's help and options come from the formats.
import { requireLocalLake } from '../lake/lake.ts';
import path from 'node:path';
import type { Command } from 'commander';
import type { FileFormat } from '../core/file-format.ts';
import { importFiles, type FileImportSummary } from '../runner/file-import.ts';
import { gapLine } from '../runner/gap-report.ts';
import { FILE_FORMATS, fileFormatNames, findFileFormat } from '../sources/file-format-registry.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';

/** What an import prints: one line per file, a total line, then the gaps per series. */
export function importLines(format: FileFormat, s: FileImportSummary, ms: number): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const shown = (file: string) => {
    const rel = path.relative(process.cwd(), file);
    return rel.startsWith('..') ? file : rel;
  };
  const noun = format.rowsNoun;
  const lines = s.files.map(
    (f) =>
      `${shown(f.file)}: ${n(f.lines)} lines (${format.note(f)}), ${n(f.loaded)} ${noun} into ${f.table} (${n(f.load.inserted)} inserted, ${n(f.load.updated)} updated` +
      `${f.repeated ? `, ${n(f.repeated)} repeated lines merged` : ''}), ${n(f.quarantined)} quarantined`,
  );
  const rate = ms > 0 ? ` (${n(Math.round(s.rowsExtracted / (ms / 1000)))} lines/s)` : '';
  lines.push(
    `import ${format.name}: ${s.files.length} file(s), ${n(s.rowsLoaded)} ${noun} (${n(s.load.inserted)} inserted, ${n(s.load.updated)} updated), ${n(s.rowsQuarantined)} quarantined in ${(ms / 1000).toFixed(1)} s${rate} — run ${s.runId} (process ${s.processId})`,
  );
  const q = s.lakePaths.filter((p) => p.startsWith('quarantine/'));
  if (q.length) lines.push(`  quarantine: ${q.join(', ')}`);
  for (const g of s.gaps) lines.push(`  gaps: ${gapLine(g)}`);
  return lines;
}

export function registerImportCommand(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('import')
    .description(`import files: ${FILE_FORMATS.map((f) => f.help.usage).join('; ')}`)
    .argument('<format>', `file format: ${fileFormatNames()}`)
    .argument('<paths...>', FILE_FORMATS.map((f) => f.help.paths).join('; '));
  // Each format's options, once per flag (formats may share one).
  const flags = new Set<string>();
  for (const option of FILE_FORMATS.flatMap((f) => f.help.options)) {
    if (flags.has(option.flags)) continue;
    flags.add(option.flags);
    command.option(option.flags, option.description);
  }
  command
    .option('--memory-limit <size>', 'DuckDB memory limit while importing; bigger files spill to disk', '256MB')
    .action(async (name: string, paths: string[], o: { memoryLimit: string } & Record<string, string | undefined>) => {
      const format = findFileFormat(name);
      const { memoryLimit, ...options } = o;
      const g = globals();
      await withWarehouse(g, async (session, lake) => {
        requireLocalLake(lake, `coinlake import ${format.name}`);
        const t0 = Date.now();
        const summary = await importFiles(format, paths, { session, lake, options, memoryLimit, logLevel: g.logLevel, printLog: g.printLog });
        process.stdout.write(importLines(format, summary, Date.now() - t0).join('\n') + '\n');
      });
    });
}
