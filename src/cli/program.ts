// The `coinlake` program: the global options and every command, built fresh for each use — once per process by
// main.ts, and once per handed-over command by `coinlake serve`, which runs the same command code in-process.
// A command's module (and what it imports: the warehouse drivers, the runner, NATS, the AWS and BigQuery SDKs …)
// is loaded only when that command runs; `coinlake --help` and unknown commands load them all.
import { Command } from 'commander';
import type { GlobalOptions } from './cli-context.ts';
import { registerConfigOption } from './config-option.ts';

type Register = (program: Command, globals: () => GlobalOptions) => void;

/** Every command, in the order `--help` lists them, with the loader of its module. */
const COMMANDS: [name: string, load: () => Promise<Register>][] = [
  ['run', async () => (await import('./run-command.ts')).registerRunCommand],
  ['status', async () => (await import('./status-command.ts')).registerStatusCommand],
  ['setup', async () => (await import('./setup-command.ts')).registerSetupCommand],
  ['demo', async () => (await import('./demo-command.ts')).registerDemoCommand],
  ['catalog', async () => (await import('./catalog-command.ts')).registerCatalogCommand],
  ['serve', async () => (await import('./serve-command.ts')).registerServeCommand],
  ['changes', async () => (await import('./changes-command.ts')).registerChangesCommand],
  ['check', async () => (await import('./check-command.ts')).registerCheckCommand],
  ['import', async () => (await import('./import-command.ts')).registerImportCommand],
  ['backfill', async () => (await import('./backfill-command.ts')).registerBackfillCommand],
  ['daily', async () => (await import('./daily-command.ts')).registerDailyCommand],
  ['repair', async () => (await import('./repair-command.ts')).registerRepairCommand],
  ['stream', async () => (await import('./stream-command.ts')).registerStreamCommand],
  ['models', async () => (await import('./models-command.ts')).registerModelsCommand],
  ['schedule', async () => (await import('./schedule-command.ts')).registerScheduleCommand],
  ['worker', async () => (await import('./worker-command.ts')).registerWorkerCommand],
  ['bigquery', async () => (await import('./bigquery-command.ts')).registerBigQueryCommand],
];

/**
 * The command the arguments name: the first argument that is not a global option or its value (`--opt=value`
 * forms carry their value). Undefined when there is none, or when the help is asked for before it.
 */
function commandNamed(args: string[], program: Command): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (!a.startsWith('-') || a === '-') return a;
    if (a.includes('=')) continue;
    const option = program.options.find((o) => o.short === a || o.long === a);
    if (!option) return undefined; // help, version, or an option commander will report
    if (option.required || option.optional) i++;
  }
  return undefined;
}

/** A program with the global options and the config hook; `load(args)` registers the command(s) `args` need. */
export function createProgram(opts: { exitOverride?: boolean } = {}): { program: Command; globals: () => GlobalOptions; load: (args: string[]) => Promise<void> } {
  const program = new Command();
  // Inside `coinlake serve` a parse error must throw, never end the server's process.
  if (opts.exitOverride) program.exitOverride();
  program
    .name('coinlake')
    .description('crypto market data into a lake and a warehouse')
    .option('-l, --log-level <level>', 'debug | info | warning | error', 'info')
    .option('--print-log', 'also print the run log to the console (it always goes to lake/logs/<run_id>.log)', false)
    .option('--replay', 'serve every source from the local replay server (offline)', false)
    .option('--warehouse <location>', 'DuckDB file or postgres:// URL (default ./warehouse.duckdb or COINLAKE_WAREHOUSE)')
    .option('--lake <dir>', 'lake root (default ./lake or COINLAKE_LAKE)')
    .showHelpAfterError();
  registerConfigOption(program);
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const load = async (args: string[]) => {
    const named = commandNamed(args, program);
    const only = COMMANDS.find(([name]) => name === named);
    for (const [, loadOne] of only ? [only] : COMMANDS) (await loadOne())(program, globals);
  };
  return { program, globals, load };
}
