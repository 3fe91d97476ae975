// Runs a CLI command handed over to `coinlake serve` inside the server's process: the same command code, parsed by
// the same program, in an async context (cli/served-context.ts) in which withWarehouse hands out the server's own
// session and lake, what the command writes to stdout/stderr goes to its caller instead of the server's terminal,
// and its SIGINT/SIGTERM listeners hear the caller's Ctrl-C instead of the server's. The server runs one such
// command at a time (run-queue.ts), so the caller's working directory, variables and exit code can be the process's
// for the command's duration; they are restored afterwards.
import { EventEmitter } from 'node:events';
import type { Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { runServed, servedCommand, type ServedCommand } from '../cli/served-context.ts';
import { HANDED_OVER_ENV, type CommandMessage, type ParsedControlCommandRequest } from './control-protocol.ts';

/** The server's side of a handed-over command. */
export interface CommandHostContext {
  session: Session;
  lake: LocalLake;
  /** Absolute lake root and warehouse location. */
  lakeRoot: string;
  warehouse: string;
}

const SIGNALS = new Set(['SIGINT', 'SIGTERM']);
let installed = false;

/** Routes writes of a process stream to the handed-over command that makes them, if any. */
function captureWrites(stream: NodeJS.WriteStream, fd: 1 | 2): void {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const served = servedCommand();
    if (!served) return original(chunk, encodingOrCallback, callback);
    served.write(fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as NodeJS.WriteStream['write'];
  // isTTY and columns as the caller's terminal has them (progress output depends on them).
  let ownTty = stream.isTTY;
  let ownColumns = stream.columns;
  const key = fd === 1 ? 'stdout' : 'stderr';
  Object.defineProperty(stream, 'isTTY', {
    configurable: true,
    enumerable: true,
    get: () => {
      const served = servedCommand();
      return served ? served.tty[key] : ownTty;
    },
    set: (v: boolean) => (ownTty = v),
  });
  Object.defineProperty(stream, 'columns', {
    configurable: true,
    enumerable: true,
    get: () => {
      const served = servedCommand();
      return served ? (served.tty.columns ?? 80) : ownColumns;
    },
    set: (v: number) => (ownColumns = v),
  });
}

/** SIGINT/SIGTERM listeners added by a handed-over command go to its own emitter, not the server's process. */
function captureSignals(): void {
  const proc = process as unknown as Record<string, (event: unknown, listener: unknown) => unknown>;
  for (const method of ['on', 'once', 'addListener', 'prependListener', 'prependOnceListener', 'removeListener', 'off']) {
    const original = proc[method].bind(process);
    proc[method] = (event: unknown, listener: unknown) => {
      const served = servedCommand();
      if (!served || typeof event !== 'string' || !SIGNALS.has(event)) return original(event, listener);
      (served.signals as unknown as Record<string, (e: string, l: unknown) => void>)[method](event, listener);
      return process;
    };
  }
}

/** Installs the capture once per process (a no-op for code outside a handed-over command). */
export function installCommandCapture(): void {
  if (installed) return;
  installed = true;
  captureWrites(process.stdout, 1);
  captureWrites(process.stderr, 2);
  captureSignals();
}

/** Makes the caller's variables the process's (those a command reads); returns the function that restores them. */
function swapEnv(env: Record<string, string>): () => void {
  const names = new Set([...Object.keys(env), ...Object.keys(process.env).filter((k) => HANDED_OVER_ENV.test(k))]);
  const saved = new Map([...names].map((k) => [k, process.env[k]]));
  for (const k of names) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** A command being run for a caller: its Ctrl-C. */
export interface HostedCommand {
  /** Emits SIGINT to the command's listeners; false when it has none (it does not stop on Ctrl-C). */
  interrupt(): boolean;
}

/**
 * Runs one command for its caller and returns its exit code. `emit` receives its output; `started` the handle that
 * interrupts it. Errors are printed as the CLI prints them (to the caller), exit code 1.
 */
export async function runHostedCommand(
  req: ParsedControlCommandRequest,
  host: CommandHostContext,
  emit: (m: CommandMessage) => void,
  started?: (cmd: HostedCommand) => void,
): Promise<number> {
  installCommandCapture();
  const signals = new EventEmitter();
  started?.({
    interrupt: () => {
      const listening = signals.listenerCount('SIGINT') > 0;
      if (listening) signals.emit('SIGINT', 'SIGINT');
      return listening;
    },
  });
  const ctx: ServedCommand = { ...host, write: (fd, text) => emit({ type: 'out', fd, text }), tty: req.tty, signals };
  const ownCwd = process.cwd();
  const ownExitCode = process.exitCode;
  const restoreEnv = swapEnv(req.env);
  try {
    return await runServed(ctx, async () => {
      const { reportError } = await import('../cli/cli-context.ts');
      try {
        process.chdir(req.cwd);
      } catch (err) {
        process.stderr.write(`error: coinlake serve cannot work in ${req.cwd}: ${errorMessage(err)}\nhint: run the command from a directory the server's user can read\n`);
        return 1;
      }
      process.exitCode = undefined;
      const { CommanderError } = await import('commander');
      const { createProgram } = await import('../cli/program.ts');
      const { program, globals, load } = createProgram({ exitOverride: true });
      try {
        await load(req.argv);
        await program.parseAsync(req.argv, { from: 'user' });
        return Number(process.exitCode ?? 0);
      } catch (err) {
        if (err instanceof CommanderError) return err.exitCode; // commander has printed it
        return reportError(err, globals().logLevel === 'debug');
      }
    });
  } finally {
    process.chdir(ownCwd);
    restoreEnv();
    process.exitCode = ownExitCode;
  }
}
