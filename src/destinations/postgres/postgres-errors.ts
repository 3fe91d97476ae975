// PostgreSQL and socket errors → coinlake errors with one readable line and a hint. Messages name host:port and
// the user, never the password (it is not in any message we build, and the URL is never echoed).
import { CoinlakeError, TerminalError, TransientError, errorMessage } from '../../core/errors.ts';

/** Where a session connects, for messages. */
export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

const CONFIG_PLACE = 'COINLAKE_WAREHOUSE / warehouse:';

/** `host:port`, with IPv6 hosts in brackets; a Unix socket directory is shown as is. */
export function endpointLabel(e: Pick<PgEndpoint, 'host' | 'port'>): string {
  if (e.host.startsWith('/')) return `${e.host} (port ${e.port})`;
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** The fields of a pg or socket error that decide its class. */
interface ErrorFields {
  code?: string;
  message: string;
  detail?: string;
  where?: string;
}

function fields(err: unknown): ErrorFields {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { code: str(e.code), message: errorMessage(err), detail: str(e.detail), where: str(e.where) };
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
};

/**
 * The error to throw when opening a session fails: refused / unknown host / timeout → TerminalError naming
 * host:port with a hint to check the server and the URL; rejected login (28P01, 28000, missing password) →
 * TerminalError naming the user; unknown database (3D000) → TerminalError naming it.
 */
export function connectError(err: unknown, e: PgEndpoint, timeoutMs?: number): CoinlakeError {
  const f = fields(err);
  const at = endpointLabel(e);
  if (f.code === '28P01' || f.code === '28000' || /SASL|password must be a string|password authentication/i.test(f.message)) {
    const reason = f.code ? f.message : 'the server asks for a password and none was given';
    return new TerminalError(
      `PostgreSQL at ${at} rejected the login for user "${e.user}"`,
      { hint: `the server said: ${reason}; check the user and password in ${CONFIG_PLACE} (postgres://user:password@host:port/database)` },
      { cause: err },
    );
  }
  if (f.code === '3D000') {
    return new TerminalError(
      `PostgreSQL at ${at} has no database "${e.database}"`,
      { hint: `create it (createdb -h ${e.host} -p ${e.port} ${e.database}) or fix the database name in ${CONFIG_PLACE}` },
      { cause: err },
    );
  }
  const reason = (f.code && SOCKET_REASONS[f.code]) ?? (/timeout/i.test(f.message) ? `timed out${timeoutMs ? ` after ${timeoutMs / 1000} s` : ''}` : undefined);
  if (reason) {
    return new TerminalError(
      `cannot connect to PostgreSQL at ${at}: ${reason}`,
      { hint: `is the server running? check the host and port in ${CONFIG_PLACE}` },
      { cause: err },
    );
  }
  return new TerminalError(`cannot connect to PostgreSQL at ${at}: ${f.message}`, { hint: `check ${CONFIG_PLACE}` }, { cause: err });
}

/** SQLSTATEs and messages of a connection that is gone: terminated by an administrator, crashed server, broken socket. */
const LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE']);
const LOST_MESSAGE = /Connection terminated|not queryable|connection error|Client was closed/i;

/** True when the error means the session's connection is gone (nothing uncommitted survived it). */
export function isConnectionLost(err: unknown): boolean {
  const f = fields(err);
  return (f.code !== undefined && LOST_CODES.has(f.code)) || LOST_MESSAGE.test(f.message);
}

/**
 * The error to throw for a failed statement: a lost connection, a serialization failure or a deadlock →
 * TransientError (a rerun redoes the same window); a COPY error → TerminalError naming the batch row and column;
 * any other database error as pg reported it.
 */
export function statementError(err: unknown, e: PgEndpoint, table?: string): unknown {
  if (err instanceof CoinlakeError) return err;
  const f = fields(err);
  const at = endpointLabel(e);
  if (isConnectionLost(err)) {
    return new TransientError(
      `lost the connection to PostgreSQL at ${at}: ${f.message}`,
      { hint: 'the open transaction was rolled back by the server; run the job again' },
      { cause: err },
    );
  }
  if (f.code === '40001' || f.code === '40P01') {
    return new TransientError(`PostgreSQL at ${at} aborted the transaction: ${f.message}`, {}, { cause: err });
  }
  const copy = f.where ? /COPY [^,]+, line (\d+)(?:, column ([A-Za-z0-9_]+))?/.exec(f.where) : null;
  if (copy) {
    const row = Number(copy[1]);
    const column = copy[2];
    return new TerminalError(
      `PostgreSQL rejected row ${row} of the batch for ${table ?? 'the staging table'}${column ? `.${column}` : ''}: ${f.message}`,
      { row, field: column },
      { cause: err },
    );
  }
  return err;
}
