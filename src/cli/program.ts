// The `coinlake` program: the global options and every command, built fresh for each use — once per process by
// main.ts, and once per handed-over command by `coinlake serve`, which runs the same command code in-process.
// A command's module (and what it imports: the warehouse drivers, the runner, NATS, the AWS and BigQuery SDKs …)
// is loaded only when that command runs; unknown commands load them all. `coinlake --help` loads none when the build
// wrote the command index (dist/cli/command-index.json): the list of commands as the help shows them.
import { readFileSync } from 'node:fs';
import { Command, Help } from 'commander';
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
  ['identity', async () => (await import('./identity-command.ts')).registerIdentityCommand],
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

/** One command as the program's help lists it: the index the build writes so that `--help` loads no command. */
export interface CommandIndexEntry {
  name: string;
  /** The help's term for it, e.g. `run [options] [job]`. */
  term: string;
  description: string;
  group?: string;
}

/** Where the build writes the command index, beside the compiled program (absent when run from src/ with tsx). */
export const COMMAND_INDEX_URL = new URL('./command-index.json', import.meta.url);

/** The visible commands of a program with every command loaded, as its help lists them. */
export async function commandIndex(): Promise<CommandIndexEntry[]> {
  const { program, load } = createProgram({ exitOverride: true });
  await load([]);
  const help = program.createHelp();
  return help
    .visibleCommands(program)
    .filter((c) => program.commands.includes(c))
    .map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: help.subcommandDescription(c), ...(c.helpGroup() ? { group: c.helpGroup() } : {}) }));
}

/** The build's command index, or undefined when there is none (run from src/). */
function readCommandIndex(): CommandIndexEntry[] | undefined {
  try {
    return JSON.parse(readFileSync(COMMAND_INDEX_URL, 'utf8')) as CommandIndexEntry[];
  } catch {
    return undefined;
  }
}

/**
 * True when the arguments ask for the program's own help and nothing else: only global options (with their values)
 * and -h/--help, or none at all.
 */
function onlyProgramHelp(args: string[], program: Command): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') continue;
    const option = a.startsWith('--') && a.includes('=') ? program.options.find((o) => o.long === a.slice(0, a.indexOf('='))) : program.options.find((o) => o.short === a || o.long === a);
    if (!option) return false;
    if ((option.required || option.optional) && !a.includes('=')) i++;
  }
  return true;
}

/** Lists the indexed commands under the program without loading them: each is a name and a description only. */
function registerIndexedCommands(program: Command, index: CommandIndexEntry[]): void {
  const terms = new Map(index.map((e) => [e.name, e.term]));
  for (const e of index) {
    const stub = program.command(e.name).description(e.description);
    if (e.group) stub.helpGroup(e.group);
  }
  program.configureHelp({
    subcommandTerm(cmd) {
      return terms.get(cmd.name()) ?? Help.prototype.subcommandTerm.call(this, cmd);
    },
  });
}

/**
 * A program with the global options and the config hook; `load(args)` registers the command(s) `args` need — for the
 * program's own help, only their names from the command index when there is one (`opts.index` gives it in tests).
 */
export function createProgram(opts: { exitOverride?: boolean } = {}): {
  program: Command;
  globals: () => GlobalOptions;
  load: (args: string[], opts?: { index?: CommandIndexEntry[] }) => Promise<void>;
} {
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
  const load = async (args: string[], given: { index?: CommandIndexEntry[] } = {}) => {
    const index = onlyProgramHelp(args, program) ? (given.index ?? readCommandIndex()) : undefined;
    if (index) return registerIndexedCommands(program, index);
    const named = commandNamed(args, program);
    const only = COMMANDS.find(([name]) => name === named);
    for (const [, loadOne] of only ? [only] : COMMANDS) (await loadOne())(program, globals);
  };
  return { program, globals, load };
}
