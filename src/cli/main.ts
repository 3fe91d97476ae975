// The `coinlake` command line: the program (global options and one file per command) is built in program.ts. A
// command that needs an embedded warehouse held by a running `coinlake serve` is handed over to it before it runs
// here (command-handover.ts): same output, same exit code.
import { reportError } from './cli-context.ts';
import { HandedOver, handOverCommand } from './command-handover.ts';
import { createProgram } from './program.ts';

const { program, globals, load } = createProgram();
// After the config hook (it fills --warehouse from the config file): the warehouse is known here.
program.hook('preAction', async (_root, action) => {
  const code = await handOverCommand(globals(), action, process.argv.slice(2));
  if (code !== undefined) throw new HandedOver(code);
});
try {
  await load(process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof HandedOver) process.exitCode = err.exitCode;
  else process.exitCode = await reportError(err, globals().logLevel === 'debug');
}
