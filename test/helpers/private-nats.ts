// A nats-server with JetStream of a test's own (a free loopback port, a store dir in a temp dir), which the test may
// stop, kill and start again on the same port and store — never the shared server on 4222 other tests use.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const NATS_SERVER_BIN = process.env.COINLAKE_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface PrivateNats {
  /** nats://127.0.0.1:PORT */
  url: string;
  port: number;
  storeDir: string;
  /** Stops the server: SIGTERM (a clean shutdown) or SIGKILL (a crash); resolves when the process has exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port and store; resolves when it is ready. */
  start(): Promise<void>;
  /** stop(signal), wait downMs, start(). */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL'; downMs?: number }): Promise<void>;
  /** Stops the server and removes its store. */
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a private nats-server with JetStream; resolves once it logs that it is ready. */
export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const root = await mkdtemp(path.join(os.tmpdir(), 'coinlake-nats-'));
  const storeDir = path.join(root, 'store');
  let child: ChildProcess | undefined;
  let log = '';

  const start = () =>
    new Promise<void>((resolve, reject) => {
      log = '';
      const p = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = p;
      const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} not ready after 15 s:\n${log}`)), 15_000);
      p.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server on port ${port} exited (${signal ?? code}) before it was ready:\n${log}`));
      });
      p.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await exited;
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    start,
    async restart({ signal = 'SIGTERM', downMs = 500 } = {}) {
      await stop(signal);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async close() {
      await stop('SIGKILL');
      await rm(root, { recursive: true, force: true });
    },
  };
}
