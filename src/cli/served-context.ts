// A command handed over to `coinlake serve` runs inside the server's process, in an async context that carries what
// differs from a command run on its own: the server's warehouse session and lake (withWarehouse uses them instead
// of opening the file), where its output goes, its terminal and its Ctrl-C.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { Session } from '../core/destination.ts';
import type { LocalLake } from '../lake/local-lake.ts';

/** What a handed-over command runs with. */
export interface ServedCommand {
  /** The server's writer session: not closed by the command. */
  session: Session;
  lake: LocalLake;
  /** Absolute lake root and warehouse location of the server. */
  lakeRoot: string;
  warehouse: string;
  /** Receives what the command writes to stdout (1) and stderr (2). */
  write(fd: 1 | 2, text: string): void;
  /** The caller's terminal: whether each stream is a TTY, and its width. */
  tty: { stdout: boolean; stderr: boolean; columns?: number };
  /** SIGINT / SIGTERM listeners the command added (the caller's Ctrl-C, or the caller going away, emits SIGINT). */
  signals: EventEmitter;
}

const storage = new AsyncLocalStorage<ServedCommand>();

/** The handed-over command the current code runs for, if any. */
export function servedCommand(): ServedCommand | undefined {
  return storage.getStore();
}

/** Runs fn as a handed-over command. */
export function runServed<T>(ctx: ServedCommand, fn: () => Promise<T>): Promise<T> {
  return storage.run(ctx, fn);
}
