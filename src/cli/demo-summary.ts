// What `coinlake demo` prints at its end — each table it filled with its row count, the lake and the warehouse file —
// and its last step: the dashboard on the demo's warehouse until Ctrl-C.
import { createServer } from 'node:net';
import path from 'node:path';
import type { Session } from '../core/destination.ts';
import { startServeServer } from '../server/serve-server.ts';
import { formatTable } from './format-table.ts';

/** One load of the demo: which source (or `models`), the job or file, the table and the rows it wrote. */
export interface DemoLoad {
  source: string;
  what: string;
  /** `schema.table`. */
  table: string;
  rows: number;
  lakePaths: string[];
}

/** The summary: one line per table (sources that filled it, rows in it now), then where the lake and warehouse are. */
export async function demoLanded(session: Session, loads: DemoLoad[], where: { lakeRoot: string; warehouse: string }): Promise<string> {
  const tables = new Map<string, Set<string>>();
  for (const l of loads) tables.set(l.table, (tables.get(l.table) ?? new Set()).add(l.source));
  const rows = [];
  for (const [table, sources] of tables) {
    const [{ n }] = await session.query<{ n: number | bigint }>(`SELECT count(*) AS n FROM ${table}`);
    rows.push({ table, rows: Number(n).toLocaleString('en-US'), from: [...sources].join(', ') });
  }
  const rawFiles = new Set(loads.flatMap((l) => l.lakePaths)).size;
  const lake = path.relative(process.cwd(), where.lakeRoot) || '.';
  return [
    'What landed where:',
    formatTable(rows, ['table', 'rows', 'from']),
    `lake: ${where.lakeRoot} (${rawFiles} raw files; run logs in ${path.join(lake, 'logs')})`,
    `warehouse: ${path.resolve(where.warehouse)}`,
  ].join('\n');
}

/** The dashboard's usual port, which the demo takes when it is free. */
export const DEMO_DEFAULT_PORT = 8787;

/** True when nothing listens on 127.0.0.1:`port`. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * Starts the dashboard on the warehouse, prints its URL and runs until SIGINT/SIGTERM, then closes it. Without a
 * `port` it takes 8787, or any free port when 8787 is taken (an explicit `--port` that is taken is an error).
 */
export async function serveUntilStopped(o: { warehouse: string; lake: string; port?: number; logLevel?: string }, out: (s: string) => void): Promise<void> {
  let port = o.port;
  if (port === undefined) {
    port = (await portFree(DEMO_DEFAULT_PORT)) ? DEMO_DEFAULT_PORT : 0;
    if (port === 0) out(`port ${DEMO_DEFAULT_PORT} is in use: the dashboard takes a free port`);
  }
  const server = await startServeServer({ warehouse: o.warehouse, lake: o.lake, port, logLevel: o.logLevel });
  out(`dashboard on ${server.url} — press Ctrl+C to stop`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out('stopping the dashboard');
  await server.close();
}
