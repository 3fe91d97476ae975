/**
 * A PostgreSQL server of the test's own: initdb into a temp dir, started with pg_ctl on a free loopback port with
 * trust auth, so a fault test can restart (or stop) it in the middle of a load without touching the shared server at
 * 127.0.0.1:5432 that other tests use at the same time.
 *
 * initdb and postgres refuse to run as root; when the test runs as root the binaries run as the `postgres` user (via
 * runuser) and the data directory is handed to it.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const exec = promisify(execFile);

/** Where the server binaries are: COINLAKE_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
export function postgresBinDir(): string {
  const fromEnv = process.env.COINLAKE_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}/<version>/bin (set COINLAKE_PG_BIN)`);
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0], 'bin');
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

export interface PrivatePostgres {
  host: string;
  port: number;
  /** `host:port`, as coinlake's messages name it. */
  label: string;
  /** Maintenance URL (database `postgres`, user `postgres`, no password). */
  adminUrl: string;
  /** URL of a database on this server. */
  url(database: string): string;
  /** Creates a database, returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs one statement on a database over a short-lived connection. */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** pg_ctl restart -m <mode> (default fast): every connection is cut; waits until the server accepts again. */
  restart(mode?: ShutdownMode): Promise<void>;
  /** pg_ctl stop -m <mode>, then removes the data directory. */
  close(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

/** Runs a server binary, as `postgres` when this process is root. */
async function runPgBinary(bin: string, args: string[], runAs: string | undefined): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = runAs ? ['runuser', ['-u', runAs, '--', bin, ...args]] : [bin, args];
  try {
    return await exec(file, argv, { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(bin)} ${args[0]} failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** uid/gid of a user, from /etc/passwd. */
function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`user "${name}" not found: initdb refuses root and needs another user to run as`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Initialises and starts a private server; close() it in afterAll. */
export async function startPrivatePostgres(opts: { settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const runAs = userInfo().uid === 0 ? 'postgres' : undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'coinlake-private-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (runAs) {
    const { uid, gid } = userIds(runAs);
    chownSync(dir, uid, gid);
  }
  const host = '127.0.0.1';
  const port = await freePort();
  await runPgBinary(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'], runAs);
  // Throwaway data: no fsync (the machine does not crash, only the server: what reached the OS survives); small memory;
  // the socket directory inside the temp dir (not /var/run/postgresql). Commits are written to the OS before they are
  // acknowledged (synchronous_commit on): with it off, an immediate restart lost a run row committed 2 ms before it
  // (seed 848041807), which a real server never does.
  const settings: Record<string, string> = {
    listen_addresses: host,
    port: String(port),
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'on',
    full_page_writes: 'off',
    shared_buffers: '32MB',
    max_connections: '40',
    ...opts.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const pgCtl = (args: string[]) => runPgBinary(path.join(bin, 'pg_ctl'), args, runAs);
  await pgCtl(['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', serverOptions]);
  const adminUrl = `postgres://postgres@${host}:${port}/postgres`;
  const url = (database: string) => `postgres://postgres@${host}:${port}/${database}`;
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  let closed = false;
  return {
    host,
    port,
    label: `${host}:${port}`,
    adminUrl,
    url,
    query,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name "${name}" is not a plain identifier`);
      await query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async restart(mode: ShutdownMode = 'fast') {
      await pgCtl(['restart', '-D', data, '-m', mode, '-l', logFile, '-w', '-t', '60', '-o', serverOptions]);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await pgCtl(['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}
