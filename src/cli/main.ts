// The `coinlake` command line: one file per command, wired here.
import { Command } from 'commander';
import type { GlobalOptions } from './cli-context.ts';
import { reportError } from './cli-context.ts';
import { registerBackfillCommand } from './backfill-command.ts';
import { registerBigQueryCommand } from './bigquery-command.ts';
import { registerCatalogCommand } from './catalog-command.ts';
import { registerChangesCommand } from './changes-command.ts';
import { registerCheckCommand } from './check-command.ts';
import { registerConfigOption } from './config-option.ts';
import { registerDailyCommand } from './daily-command.ts';
import { registerDemoCommand } from './demo-command.ts';
import { registerImportCommand } from './import-command.ts';
import { registerModelsCommand } from './models-command.ts';
import { registerRunCommand } from './run-command.ts';
import { registerScheduleCommand } from './schedule-command.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerSetupCommand } from './setup-command.ts';
import { registerStatusCommand } from './status-command.ts';
import { registerStreamCommand } from './stream-command.ts';
import { registerWorkerCommand } from './worker-command.ts';

const program = new Command();
program
  .name('coinlake')
  .description('crypto market data into a lake and a warehouse')
  .option('-l, --log-level <level>', 'debug | info | warning | error', 'info')
  .option('--print-log', 'also print the run log to the console (it always goes to lake/logs/<run_id>.log)', false)
  .option('--replay', 'serve every source from the local replay server (offline)', false)
  .option('--warehouse <location>', 'DuckDB file or postgres:// URL (default ./coinlake.duckdb or COINLAKE_WAREHOUSE)')
  .option('--lake <dir>', 'lake root (default ./lake or COINLAKE_LAKE)')
  .showHelpAfterError();

registerConfigOption(program);

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
registerRunCommand(program, globals);
registerStatusCommand(program, globals);
registerSetupCommand(program, globals);
registerDemoCommand(program, globals);
registerCatalogCommand(program, globals);
registerServeCommand(program, globals);
registerChangesCommand(program, globals);
registerCheckCommand(program, globals);
registerImportCommand(program, globals);
registerBackfillCommand(program, globals);
registerDailyCommand(program, globals);
registerStreamCommand(program, globals);
registerModelsCommand(program, globals);
registerScheduleCommand(program, globals);
registerWorkerCommand(program, globals);
registerBigQueryCommand(program, globals);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, globals().logLevel === 'debug');
}
