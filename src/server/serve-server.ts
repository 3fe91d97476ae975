// `coinlake serve`: the one long-running process on an embedded warehouse. It opens the warehouse first (on DuckDB
// that takes the file's lock for as long as it runs), then serves the dashboard page, its read-only API and event
// stream, and the control endpoint through which commands run elsewhere (`coinlake run`, `models run`, `import cdd` …)
// hand themselves over. Readers use their own sessions (DuckDB MVCC snapshots); handed-over jobs and commands run one
// at a time on the writer session.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Session } from '../core/destination.ts';
import { TerminalError, errorMessage } from '../core/errors.ts';
import { openWarehouse } from '../destinations/registry.ts';
import { LocalLake } from '../lake/local-lake.ts';
import { apiRoutes } from './api-routes.ts';
import { controlRoutes } from './control-routes.ts';
import { CommitWatcher, EventHub } from './events.ts';
import { ApiError } from './request-params.ts';
import { RunQueue } from './run-queue.ts';
import { isLoopback, reachableUrls } from './listen-addresses.ts';
import { findRunningServe, newServeIdentity, removeServeMarker, serveMarkerPath, writeServeMarker } from './serve-marker.ts';
import { SessionPool } from './session-pool.ts';
import { webRoutes } from './web-assets.ts';

/** How the server starts. */
export interface ServeOptions {
  /** DuckDB file or postgres:// URL. */
  warehouse: string;
  /** Lake root for the jobs the server runs. */
  lake: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** How often the commit watcher polls for runs of other processes. Default 2000 ms. */
  pollMs?: number;
  /** Reader sessions at most. Default 3. */
  readers?: number;
  /** Log level of the jobs it runs. */
  logLevel?: string;
  /** Called when opening an embedded warehouse must wait for another process. */
  onLockWait?: (location: string, timeoutMs: number) => void;
  /** On close, how long a running job or command may take to end. Default 60 s. */
  stopWaitMs?: number;
  /** Errors of background work (the commit watcher). Default: written to stderr. */
  onError?: (err: unknown) => void;
}

/** A running server. */
export interface ServeServer {
  url: string;
  /** Every URL it answers at: for a wildcard host (0.0.0.0, ::) one per interface address, loopback first. */
  urls: string[];
  /** True when it listens on an address other machines can reach (not loopback). */
  exposed: boolean;
  /** The address it listens on, as the system reports it (`0.0.0.0`, `::`, `127.0.0.1` …). */
  address: string;
  host: string;
  port: number;
  /** The marker file beside an embedded warehouse (absent on PostgreSQL). */
  markerPath?: string;
  hub: EventHub;
  /** Waits for the running job, closes every session, removes the marker. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The host part of a Host header (`127.0.0.1:8787` → `127.0.0.1`, `[::1]:80` → `[::1]`). */
function hostName(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new TerminalError(`port ${port} on ${host} is in use`, { hint: 'stop what uses it, or pick another with --port' }));
      else reject(new TerminalError(`cannot listen on ${host}:${port}: ${err.message}`, { hint: 'check --host and --port' }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Starts the dashboard server. On an embedded warehouse it refuses to start when another server already holds it,
 * and writes `<warehouse>.serve.json` once listening so that `coinlake run` finds it.
 */
export async function startServeServer(o: ServeOptions): Promise<ServeServer> {
  const host = o.host ?? '127.0.0.1';
  const markerPath = serveMarkerPath(o.warehouse);
  if (markerPath) {
    const other = await findRunningServe(o.warehouse);
    if (other) throw new TerminalError(`coinlake serve (pid ${other.pid}) already holds ${o.warehouse} at ${other.url}`, { hint: 'open that dashboard, or stop it first' });
  }
  // Absolute from here on: a handed-over command runs in its caller's working directory.
  const warehouse = markerPath ? markerPath.slice(0, -'.serve.json'.length) : o.warehouse;
  const lake = new LocalLake(path.resolve(o.lake));
  const writer: Session = await openWarehouse(warehouse, { onLockWait: o.onLockWait });
  const embedded = !writer.capabilities.multiProcess;
  const pool = new SessionPool(() => openWarehouse(warehouse), o.readers ?? 3);
  const hub = new EventHub();
  const onError = o.onError ?? ((err: unknown) => process.stderr.write(`coinlake serve: ${errorMessage(err)}\n`));
  const watcher = new CommitWatcher(pool, hub, o.pollMs ?? 2000, onError);
  const queue = new RunQueue({
    session: writer,
    lake,
    lakeRoot: lake.root,
    warehouse,
    logLevel: o.logLevel,
    afterRun: () => watcher.poke(),
    // Whatever a command changed (models, checks, a catalog), the page reloads; runs and batches have their own events.
    afterCommand: (command, exitCode) => void hub.publish('command', { command, exitCode }),
  });
  const identity = newServeIdentity();
  const startedAt = new Date();
  const shutdown = new AbortController();

  const app = new Hono();
  app.use('*', async (c, next) => {
    // A page on another site may resolve its own name to 127.0.0.1 (DNS rebinding): on loopback only loopback names answer.
    const header = c.req.header('host') ?? '';
    if (LOOPBACK.has(host) && !LOOPBACK.has(hostName(header))) throw new ApiError(`host "${header}" is not served here`, 'open the dashboard at http://127.0.0.1', 403);
    await next();
  });
  app.route('/api', controlRoutes({ queue, instance: identity.instance, token: identity.token, startedAt }));
  app.route('/api', apiRoutes({ pool, hub, shutdown: shutdown.signal }));
  app.route('/', webRoutes());
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ error: err.message, ...(err.hint ? { hint: err.hint } : {}) }, err.status);
    if (err instanceof HTTPException) return err.getResponse();
    onError(err);
    return c.json({ error: errorMessage(err) }, 500);
  });
  app.notFound((c) => c.json({ error: `not found: ${new URL(c.req.url).pathname}` }, 404));

  const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
  let address: AddressInfo;
  try {
    address = await listen(server, o.port ?? 8787, host);
  } catch (err) {
    await pool.close();
    await writer.close();
    throw err;
  }
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${urlHost === '0.0.0.0' || urlHost === '[::]' ? '127.0.0.1' : urlHost}:${address.port}`;
  if (embedded && markerPath) {
    await writeServeMarker(markerPath, {
      pid: process.pid,
      instance: identity.instance,
      url,
      token: identity.token,
      warehouse,
      lake: lake.root,
      startedAt: startedAt.toISOString(),
    });
  }
  await watcher.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    urls: reachableUrls(address.address, address.family, address.port),
    exposed: !isLoopback(address.address),
    address: address.address,
    host,
    port: address.port,
    markerPath: embedded ? markerPath : undefined,
    hub,
    close: () =>
      (closing ??= (async () => {
        if (embedded && markerPath) await removeServeMarker(markerPath, identity.instance);
        watcher.stop();
        shutdown.abort();
        // Stop accepting, let a handed-over job finish (its caller is waiting for the answer), then drop what is left.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // A handed-over command hears SIGINT as on its own Ctrl-C (a stream consumer commits its batch and stops);
        // one that does not stop within STOP_WAIT_MS is cut off when the warehouse closes.
        queue.interruptAll();
        let waited: NodeJS.Timeout | undefined;
        const idle = await Promise.race([queue.idle().then(() => true), new Promise<boolean>((resolve) => (waited = setTimeout(() => resolve(false), o.stopWaitMs ?? 60_000)))]);
        clearTimeout(waited);
        if (!idle) onError(new TerminalError(`coinlake serve: ${queue.running ?? 'a job'} did not end within ${Math.round((o.stopWaitMs ?? 60_000) / 1000)} s of stopping; closing the warehouse under it`, { hint: '`coinlake status` shows its run' }));
        await new Promise((resolve) => setTimeout(resolve, 50));
        server.closeAllConnections();
        await closed;
        await pool.close();
        await writer.close();
      })()),
  };
}
