// `coinlake models list | run [--select NAME+] [--full]`: builds the analytics models (rollups, indicators) in
// dependency order, each in its own transaction, and prints what each wrote.
import type { Command } from 'commander';
import { TerminalError } from '../core/errors.ts';
import { orderModels, selectModels } from '../models/model-graph.ts';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams } from '../models/model.ts';
import { MODELS } from '../models/registry.ts';
import { runModels } from '../models/run-models.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--param window=50,rsi=7` → indicator parameters. */
function parseParams(list: string[]): Partial<IndicatorParams> {
  const out: Partial<IndicatorParams> = {};
  for (const pair of list.flatMap((l) => l.split(','))) {
    const [k, v] = pair.split('=');
    if (!(k in DEFAULT_INDICATOR_PARAMS) || v === undefined || !Number.isFinite(Number(v))) {
      throw new TerminalError(`bad --param "${pair}": expected NAME=NUMBER with NAME one of ${Object.keys(DEFAULT_INDICATOR_PARAMS).join(', ')}`, {
        field: '--param',
        hint: 'e.g. --param window=50,rsi=7 (several pairs separated by commas, or --param repeated)',
      });
    }
    out[k as keyof IndicatorParams] = Number(v);
  }
  return out;
}

export function registerModelsCommand(program: Command, globals: () => GlobalOptions): void {
  const models = program.command('models').description('analytics models: OHLCV rollups and indicators');
  models
    .command('list')
    .description('list models in the order they run, with their dependencies')
    .action(() => {
      const rows = orderModels(MODELS).map((m) => ({ model: m.name, depends_on: m.dependsOn.join(', '), description: m.description }));
      process.stdout.write(formatTable(rows, ['model', 'depends_on', 'description']) + '\n');
    });
  models
    .command('run')
    .description('build models in dependency order (all, or --select NAME, NAME+ with downstream, +NAME with upstream)')
    .option('-s, --select <selector>', 'NAME | NAME+ | +NAME (repeatable, or comma-separated)', collect, [])
    .option('--full', 'rebuild incremental models (rollups, snapshot facts, fact_indicators) completely', false)
    .option('--param <NAME=VALUE>', `indicator window, e.g. window=20,rsi=14 (defaults ${JSON.stringify(DEFAULT_INDICATOR_PARAMS)})`, collect, [])
    .action(async (o: { select: string[]; full: boolean; param: string[] }) => {
      selectModels(MODELS, o.select); // unknown names fail before the warehouse opens
      const indicators = parseParams(o.param);
      const { runId, results } = await withWarehouse(globals(), (s) => runModels(s, { select: o.select, full: o.full, indicators }));
      const rows = results.map((r) => ({ model: r.model, rows_written: r.rows, ms: r.ms, how: r.detail ?? '' }));
      process.stdout.write(`models run ${runId}\n` + formatTable(rows, ['model', 'rows_written', 'ms', 'how']) + '\n');
    });
}
