// The embedded DuckDB warehouse: opens a file (or :memory:) in UTC, waiting a bounded time while another process holds it.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Destination, OpenOptions } from '../../core/destination.ts';
import { TerminalError, errorMessage } from '../../core/errors.ts';
import { duckdbTableReference } from './duckdb-file-name.ts';
import { DuckdbSession } from './duckdb-session.ts';

/** How a DuckDB warehouse is opened. */
export interface DuckdbOptions {
  /** How long to keep retrying while another process holds the file. Default 10 000 ms. */
  lockTimeoutMs?: number;
  /** Pause between attempts. Default 250 ms. */
  lockRetryMs?: number;
  /** Called once when the file is found locked, before waiting (e.g. to print "waiting for …"). */
  onLockWait?: (path: string, timeoutMs: number) => void;
}

/** Catalog name of an attached warehouse file; every session runs `USE` on it. */
export const WAREHOUSE_CATALOG = 'warehouse';

const LOCK_HINT =
  'stop the other coinlake process (or send the job to `coinlake serve`), or set COINLAKE_WAREHOUSE to another file';

/** URL schemes (`postgres://`, `bigquery://`, …) belong to other destinations; a one-letter scheme is a Windows drive. */
const OTHER_URL = /^[A-Za-z][A-Za-z0-9+.-]+:\/\//;

/** The file path of a DuckDB location: `duckdb:` / `duckdb://` prefixes removed, empty → `:memory:`. */
export function duckdbPath(location: string): string {
  const path = location.replace(/^duckdb:(\/\/)?/i, '');
  return path === '' ? ':memory:' : path;
}

function isLockError(err: unknown): boolean {
  const message = errorMessage(err);
  return message.includes('Could not set lock on file') || message.includes('Conflicting lock');
}

/**
 * True when another process holds the file (a DuckDB lock); false when it is free or missing. Opens it read-only
 * and closes it at once, so nothing in the file (or its .wal) changes.
 */
export async function duckdbFileHeld(path: string): Promise<boolean> {
  try {
    (await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' })).closeSync();
    return false;
  } catch (err) {
    if (isLockError(err)) return true;
    throw new TerminalError(`cannot open warehouse ${path}: ${errorMessage(err)}`, { file: path }, { cause: err });
  }
}

/** A database file opened by this process, shared by its sessions (one connection each). */
interface SharedDatabase {
  instance: DuckDBInstance;
  sessions: number;
}

/**
 * Files this process has open. DuckDB's lock only keeps other processes out: a second DuckDBInstance on the
 * same file inside this process would open as a second, unsynchronised writer. So sessions on one file share
 * one instance, each with its own connection (MVCC snapshots), and the last to close closes the file.
 */
const openFiles = new Map<string, Promise<SharedDatabase>>();

async function createInstance(path: string, options: DuckdbOptions): Promise<DuckDBInstance> {
  const timeoutMs = options.lockTimeoutMs ?? 10_000;
  const retryMs = options.lockRetryMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let warned = false;
  for (;;) {
    let instance: DuckDBInstance | undefined;
    try {
      // The file is attached under a fixed catalog name: opened directly, `coinlake.duckdb` would be a
      // catalog named "coinlake", and every `coinlake.<table>` reference would be ambiguous with the schema.
      instance = await DuckDBInstance.create(':memory:');
      const c = await instance.connect();
      try {
        await c.run(`ATTACH '${path.replace(/'/g, "''")}' AS ${WAREHOUSE_CATALOG}`);
      } finally {
        c.closeSync();
      }
      return instance;
    } catch (err) {
      instance?.closeSync();
      if (!isLockError(err)) {
        throw new TerminalError(`cannot open warehouse ${path}: ${errorMessage(err)}`, { file: path }, { cause: err });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TerminalError(`warehouse ${path} is locked by another process`, { file: path, hint: LOCK_HINT }, { cause: err });
      }
      if (!warned) {
        warned = true;
        options.onLockWait?.(path, timeoutMs);
      }
      await sleep(Math.min(retryMs, left));
    }
  }
}

/** The instance for a file, opened on first use; `:memory:` databases are never shared. */
async function acquire(path: string, options: DuckdbOptions): Promise<{ instance: DuckDBInstance; release: () => void }> {
  if (path === ':memory:') {
    const instance = await DuckDBInstance.create(':memory:');
    return { instance, release: () => instance.closeSync() };
  }
  const key = resolve(path);
  let shared = openFiles.get(key);
  if (!shared) {
    shared = createInstance(path, options).then((instance) => ({ instance, sessions: 0 }));
    openFiles.set(key, shared);
    shared.catch(() => openFiles.delete(key));
  }
  const db = await shared;
  db.sessions++;
  let released = false;
  return {
    instance: db.instance,
    release: () => {
      if (released) return;
      released = true;
      if (--db.sessions === 0) {
        openFiles.delete(key);
        db.instance.closeSync();
      }
    },
  };
}

/**
 * Opens a session on a DuckDB file (created with its parent folder when missing) or `:memory:`, with TimeZone UTC.
 * While another process holds the file it retries up to `lockTimeoutMs`, then throws a TerminalError. Sessions of
 * this process on the same file share the database, each on its own connection.
 */
export async function openDuckdbSession(path: string, options: DuckdbOptions = {}): Promise<DuckdbSession> {
  const file = path === '' ? ':memory:' : path;
  if (file !== ':memory:') await mkdir(dirname(file), { recursive: true });
  const { instance, release } = await acquire(file, options);
  try {
    const connection = await instance.connect();
    try {
      await connection.run("SET TimeZone = 'UTC'");
      // Partitioned Parquet writes (the curated files) hand rows to the writer every 65,536 rows instead of 524,288:
      // the buffered rows sit outside the memory limit (a 400,000-row batch's export peaked 30-50 MB lower, as
      // duckdb-bulk-settings.ts measured for imports, at the same speed).
      await connection.run('SET partitioned_write_flush_threshold = 65536');
      if (file !== ':memory:') await connection.run(`USE ${WAREHOUSE_CATALOG}`);
    } catch (err) {
      connection.closeSync();
      throw err;
    }
    return new DuckdbSession(connection, file, release);
  } catch (err) {
    release();
    throw err;
  }
}

/** The DuckDB destination: any location that is not another destination's URL is a DuckDB file path. */
export class DuckdbDestination implements Destination {
  readonly name = 'duckdb';

  constructor(private readonly options: DuckdbOptions = {}) {}

  accepts(location: string): boolean {
    return /^duckdb:/i.test(location) || !OTHER_URL.test(location);
  }

  open(location: string, opts: OpenOptions = {}): Promise<DuckdbSession> {
    return openDuckdbSession(duckdbPath(location), { ...this.options, ...opts });
  }

  /** How the DuckDB CLI, Python or DBeaver, opening the file directly, name `schema.table` (see duckdbTableReference). */
  tableReference(location: string, schema: string, table: string): string {
    return duckdbTableReference(duckdbPath(location), schema, table);
  }
}

/** The DuckDB destination with default options, for the destination registry. */
export const duckdbDestination = new DuckdbDestination();
