// The `coinlake` command line: one file per command, wired here. A command's module (and what it imports: the
// warehouse drivers, the runner, NATS, the AWS and BigQuery SDKs …) is loaded only when that command runs, so a
// command starts without loading every other one; `coinlake --help` and unknown commands load them all.
import { Command } from 'commander';
import type { GlobalOptions } from './cli-context.ts';
import { reportError } from './cli-context.ts';
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
  ['stream', async () => (await import('./stream-command.ts')).registerStreamCommand],
  ['models', async () => (await import('./models-command.ts')).registerModelsCommand],
  ['schedule', async () => (await import('./schedule-command.ts')).registerScheduleCommand],
  ['worker', async () => (await import('./worker-command.ts')).registerWorkerCommand],
  ['bigquery', async () => (await import('./bigquery-command.ts')).registerBigQueryCommand],
];

const program = new Command();
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

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const named = commandNamed(process.argv.slice(2), program);
const only = COMMANDS.find(([name]) => name === named);
try {
  for (const [, load] of only ? [only] : COMMANDS) (await load())(program, globals);
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = await reportError(err, globals().logLevel === 'debug');
}
