// `coinlake serve`: the dashboard (page, read-only API, live events) and, on an embedded warehouse, the one process
// that holds the DuckDB file: a command in another terminal that needs the file (`coinlake run`, `models run`,
// `import …` …) hands itself over to it (command-handover.ts). Runs until Ctrl+C / SIGTERM.
import path from 'node:path';
import type { Command } from 'commander';
import { resolveSettings } from '../catalog/settings.ts';
import { ConfigError } from '../core/errors.ts';
import { redactUrl } from '../http/redact.ts';
import { isLoopback, isWildcard } from '../server/listen-addresses.ts';
import { startServeServer, type ServeServer } from '../server/serve-server.ts';
import type { GlobalOptions } from './cli-context.ts';
import { FILE_FORMATS } from '../sources/file-format-registry.ts';

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new ConfigError(`--port must be a number from 0 to 65535, got "${value}"`);
  return Number(value);
}

/** Where the page answers: its URL on loopback; every URL, and what it listens on, for a wildcard --host. */
export function addressLine(server: Pick<ServeServer, 'url' | 'urls' | 'address'>): string {
  if (!isWildcard(server.address)) return server.url;
  return `${server.urls.join(', ')} (listening on ${server.address}: ${server.address === '::' ? 'every interface' : 'every IPv4 interface'})`;
}

/** The warning for a --host other machines can reach. */
export function exposedWarning(host: string, server: Pick<ServeServer, 'url' | 'urls'>): string {
  const remote = server.urls.filter((u) => !isLoopback(new URL(u).hostname));
  return (
    `warning: --host ${host}: the dashboard and its read-only API are reachable from the network${remote.length ? ` at ${remote.join(', ')}` : ''}; ` +
    `anyone who can connect sees the warehouse's data (there is no login). --host 127.0.0.1 (the default) keeps it on this machine\n`
  );
}

export function registerServeCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('dashboard on http://127.0.0.1:8787: market trends, exchanges, candles, pipeline health, live updates; holds an embedded warehouse so commands elsewhere (run, models run, import, check …) run here')
    .option('--host <host>', 'address to listen on; 0.0.0.0 (every interface) makes the page reachable from the network', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '8787')
    .option('--poll-ms <ms>', 'how often to look for runs committed by other processes', '2000')
    .action(async (o: { host: string; port: string; pollMs: string }) => {
      const g = globals();
      const settings = resolveSettings({ warehouse: g.warehouse, lake: g.lake });
      const server = await startServeServer({
        warehouse: settings.warehouse,
        lake: settings.lake,
        host: o.host,
        port: parsePort(o.port),
        pollMs: Math.max(100, Number(o.pollMs) || 2000),
        logLevel: g.logLevel,
        onLockWait: (file, ms) => process.stderr.write(`waiting up to ${Math.round(ms / 1000)} s for ${file}: another process holds it\n`),
      });
      const out = (s: string) => process.stdout.write(s + '\n');
      out(`coinlake serve — dashboard on ${addressLine(server)}`);
      if (server.exposed) process.stderr.write(exposedWarning(o.host, server));
      out(
        server.markerPath
          ? `warehouse ${settings.warehouse} is held by this process (pid ${process.pid}): commands in another terminal (\`coinlake run …\`, \`models run\`, \`import ${FILE_FORMATS[0]?.name ?? '<format>'} …\`) run here; lake ${path.resolve(settings.lake)}`
          : `warehouse ${redactUrl(settings.warehouse)}; other processes may load it at the same time (runs show up within ${o.pollMs} ms)`,
      );
      out('press Ctrl+C to stop');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      out('stopping: waiting for a running job, then closing the warehouse');
      await server.close();
    });
}
