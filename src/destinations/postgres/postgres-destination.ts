// The PostgreSQL warehouse: `postgres://` / `postgresql://` URLs open one pg.Client per session, in UTC. The driver and
// the session's code are imported when a session opens, so that commands on another warehouse do not load pg.
import os from 'node:os';
import type pg from 'pg';
import type { Destination } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import { registerSecret } from '../../http/redact.ts';
import { connectError, type PgEndpoint } from './postgres-errors.ts';
import type { PostgresSession } from './postgres-session.ts';

/** How a PostgreSQL session is opened. */
export interface PostgresOptions {
  /** Give up connecting after this long. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity. Default 'coinlake'. */
  applicationName?: string;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/**
 * Connects to the database named by a `postgres://user:password@host:port/database` URL (libpq's defaults and PG*
 * variables fill the gaps), sets TimeZone to UTC and returns the session. Connection failures become one-line
 * TerminalErrors naming host:port and the user, never the password.
 */
export async function openPostgresSession(url: string, options: PostgresOptions = {}): Promise<PostgresSession> {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const [{ default: pgDriver }, { PostgresSession }, { pgResultTypes }] = await Promise.all([
    import('pg'),
    import('./postgres-session.ts'),
    import('./postgres-values.ts'),
  ]);
  let client: pg.Client;
  try {
    client = new pgDriver.Client({
      connectionString: url,
      types: pgResultTypes,
      connectionTimeoutMillis: timeoutMs,
      application_name: options.applicationName ?? 'coinlake',
    });
  } catch (err) {
    // The URL itself is not repeated: it may hold a password.
    throw new ConfigError('the PostgreSQL URL in COINLAKE_WAREHOUSE / warehouse: is malformed', {
      hint: 'expected postgres://user:password@host:port/database (percent-encode special characters in the password)',
    }, { cause: err });
  }
  // Masked in every redacted message and log line from now on, should a driver error ever quote it.
  if (typeof client.password === 'string') registerSecret(client.password);
  const endpoint: PgEndpoint = {
    host: client.host || 'localhost',
    port: client.port || 5432,
    user: client.user || os.userInfo().username,
    database: client.database || client.user || os.userInfo().username,
  };
  // Until the session owns it, an 'error' on the half-open client must not crash the process.
  const early = (): void => undefined;
  client.on('error', early);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(err, endpoint, timeoutMs);
  }
  try {
    await client.query("SET TIME ZONE 'UTC'");
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const session = new PostgresSession(client, endpoint, rows[0].pid);
    client.off('error', early);
    return session;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(err, endpoint, timeoutMs);
  }
}

/** The PostgreSQL destination: handles `postgres://` and `postgresql://` locations. */
export class PostgresDestination implements Destination {
  readonly name = 'postgres';

  constructor(private readonly options: PostgresOptions = {}) {}

  accepts(location: string): boolean {
    return POSTGRES_URL.test(location);
  }

  open(location: string): Promise<PostgresSession> {
    return openPostgresSession(location, this.options);
  }
}

/** The PostgreSQL destination with default options, for the destination registry. */
export const postgresDestination = new PostgresDestination();
