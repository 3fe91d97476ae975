// The `coinlake` command line: the program (global options and one file per command) is built in program.ts. A
// command that needs an embedded warehouse held by a running `coinlake serve` is handed over to it before it runs
// here (command-handover.ts): same output, same exit code. The hand-over and the error printer are imported when
// a command runs or fails, so that `coinlake --help` loads neither.
import { createProgram } from './program.ts';

const { program, globals, load } = createProgram();
// After the config hook (it fills --warehouse from the config file): the warehouse is known here.
program.hook('preAction', async (_root, action) => {
  const { HandedOver, handOverCommand } = await import('./command-handover.ts');
  const code = await handOverCommand(globals(), action, process.argv.slice(2));
  if (code !== undefined) throw new HandedOver(code);
});
try {
  await load(process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  const { HandedOver } = await import('./command-handover.ts');
  if (err instanceof HandedOver) process.exitCode = err.exitCode;
  else process.exitCode = await (await import('./cli-context.ts')).reportError(err, globals().logLevel === 'debug');
}
