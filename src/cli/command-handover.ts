// Any command that needs the embedded warehouse, while `coinlake serve` holds the DuckDB file: instead of waiting for
// the file's lock and failing, the command (its arguments, working directory, the variables it reads and the
// terminal's shape) is sent to the server, which runs the same command code on its own session; its output comes
// back as it is written and this process exits with its exit code. Ctrl-C here is its Ctrl-C there.
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { CoinlakeError } from '../core/errors.ts';
import { HANDED_OVER_ENV, type CancelAnswer, type CommandMessage } from '../server/control-protocol.ts';
import { findRunningServe, serveMarkerPath, type ServeMarker } from '../server/serve-marker.ts';
import type { GlobalOptions } from './cli-context.ts';
import { servedCommand } from './served-context.ts';

/**
 * The commands that use the warehouse and run inside a serve that holds it. Not here: `serve` itself, commands that
 * do not open the warehouse (`models list`, `stream produce`, `worker` of a PostgreSQL queue), `catalog set-secret`
 * (it reads the secret from this terminal) and `schedule` (a scheduler runs jobs side by side).
 */
export const HANDED_OVER_COMMANDS: ReadonlySet<string> = new Set([
  'run',
  'status',
  'setup',
  'demo',
  'changes',
  'check',
  'import',
  'backfill',
  'daily',
  'repair',
  'models run',
  'identity',
  'catalog list',
  'catalog show',
  'catalog validate',
  'catalog export',
  'catalog import',
  'stream run',
  'stream consume',
  'bigquery load',
]);

/** A hand-over that could not be made or did not end (hint printed under it). */
export class CommandHandOverError extends CoinlakeError {}

/** Thrown once a handed-over command has ended: main exits with its code without running the command here. */
export class HandedOver extends Error {
  constructor(readonly exitCode: number) {
    super(`handed over to coinlake serve (exit ${exitCode})`);
  }
}

/** Without any line from the server for this long (it sends one every 5 s), the server is taken for dead. */
const SILENCE_MS = Number(process.env.COINLAKE_HANDOVER_SILENCE_MS) || 30_000;
/** After Ctrl-C, how long the command may take to stop before this process stops waiting. */
const STOP_WAIT_MS = 30_000;

/** `models run`, `import`: the command's name path below the program. */
export function commandPath(action: Command): string {
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Reads the server's answer, one JSON message a line (NDJSON), as the lines arrive. */
async function* messages(body: ReadableStream<Uint8Array>): AsyncGenerator<CommandMessage> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line) as CommandMessage;
    }
  }
}

/**
 * Hands the command to the `coinlake serve` that holds its warehouse, if there is one, and returns its exit code once
 * it has ended (its output printed here as it came); undefined when the command runs here (no server holds the file,
 * the command does not use the warehouse, or this already runs inside a server).
 */
export async function handOverCommand(g: GlobalOptions, action: Command, argv: string[]): Promise<number | undefined> {
  const name = commandPath(action);
  if (servedCommand() || !HANDED_OVER_COMMANDS.has(name)) return undefined;
  const { warehouse } = resolveSettings({ warehouse: g.warehouse, lake: g.lake });
  if (!serveMarkerPath(warehouse)) return undefined;
  const marker = await findRunningServe(warehouse);
  if (!marker) return undefined;
  process.stderr.write(`coinlake serve (pid ${marker.pid}, ${marker.url}) holds ${warehouse}: the job runs there (lake ${marker.lake})\n`);
  return runThere(marker, name, argv);
}

async function runThere(marker: ServeMarker, command: string, argv: string[]): Promise<number> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${marker.token}` };
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => HANDED_OVER_ENV.test(e[0]) && e[1] !== undefined));
  const tty = { stdout: Boolean(process.stdout.isTTY), stderr: Boolean(process.stderr.isTTY), ...(process.stderr.columns ? { columns: process.stderr.columns } : {}) };
  const connection = new AbortController();
  /** The Ctrl-C request, if one is under way: dropped once the command has ended (the process need not wait for it). */
  const cancelCall = new AbortController();
  let silence: NodeJS.Timeout | undefined;
  let why: 'silent' | 'detached' | 'told' | undefined;
  const quietFor = (ms: number, reason: 'silent' | 'detached') => {
    clearTimeout(silence);
    silence = setTimeout(() => {
      why = reason;
      connection.abort();
    }, ms);
  };
  let id: string | undefined;
  let interrupts = 0;
  let stopping = false;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1 || !id) {
      why = 'detached';
      connection.abort();
      return;
    }
    void fetch(new URL('/api/control/cancel', marker.url), { method: 'POST', headers, body: JSON.stringify({ id }), signal: AbortSignal.any([cancelCall.signal, AbortSignal.timeout(5000)]) })
      .then((r) => r.json() as Promise<CancelAnswer>)
      .then((a) => {
        if (a.outcome === 'signalled') {
          stopping = true;
          quietFor(STOP_WAIT_MS, 'detached'); // the command's own stop output comes back, then its exit code
        } else if (a.outcome === 'running') {
          process.stderr.write(`coinlake serve (pid ${marker.pid}): this command does not stop on Ctrl-C; it runs to its end there (\`coinlake status\` shows its runs). Detached.\n`);
          why = 'told';
          connection.abort();
        }
        // dequeued: the server has said so and sent exit 130; unknown: it has just ended, and its exit code is on the way.
      })
      .catch(() => {
        why = 'detached';
        connection.abort();
      });
  };
  process.on('SIGINT', onInterrupt);
  try {
    let res: Response;
    try {
      res = await fetch(new URL('/api/control/command', marker.url), {
        method: 'POST',
        headers,
        body: JSON.stringify({ command, argv, cwd: process.cwd(), env, tty }),
        signal: connection.signal,
      });
    } catch (err) {
      throw new CommandHandOverError(`cannot reach coinlake serve at ${marker.url}: ${(err as Error).message}`, { hint: 'is it still running? stop it, or remove the marker beside the warehouse' });
    }
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; hint?: string };
      throw new CommandHandOverError(`coinlake serve at ${marker.url} refused the command: ${body.error ?? res.statusText}`, { hint: body.hint });
    }
    quietFor(SILENCE_MS, 'silent');
    try {
      for await (const m of messages(res.body)) {
        if (!stopping) quietFor(SILENCE_MS, 'silent');
        if (m.type === 'queued') {
          id = m.id;
          if (m.ahead > 0) process.stderr.write(`queued behind ${m.ahead} job(s) on the server${m.running ? ` (running: coinlake ${m.running})` : ''}\n`);
        } else if (m.type === 'out') (m.fd === 1 ? process.stdout : process.stderr).write(m.text);
        else if (m.type === 'exit') return m.code;
      }
    } catch (err) {
      if (why === 'told') return 130;
      if (why === 'detached') {
        process.stderr.write(`detached from the command; it may still run in coinlake serve (pid ${marker.pid}) — \`coinlake status\` shows its runs\n`);
        return 130;
      }
      if (why === 'silent') {
        throw new CommandHandOverError(`coinlake serve at ${marker.url} sent nothing for ${SILENCE_MS / 1000} s during the command`, { hint: `is the server (pid ${marker.pid}) still running? \`coinlake status\` shows the runs` });
      }
      throw new CommandHandOverError(`coinlake serve at ${marker.url} stopped answering during the command: ${(err as Error).message}`, { hint: 'the server went away; `coinlake status` shows whether the command got to commit' });
    }
    throw new CommandHandOverError(`coinlake serve at ${marker.url} ended the answer without the command's exit code`, { hint: 'the server went away; `coinlake status` shows whether the command got to commit' });
  } finally {
    clearTimeout(silence);
    cancelCall.abort();
    process.off('SIGINT', onInterrupt);
  }
}
