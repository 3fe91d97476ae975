// Connection failures become one readable line with a hint: refused, unknown role, bad password, missing database.
// The bad-password case needs a server that checks passwords; the test server allows trust logins only, so a
// loopback listener answers the startup the way PostgreSQL does (cleartext password request, then 28P01).
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../../core/errors.ts';
import { connectError, endpointLabel, statementError } from './postgres-errors.ts';
import { openPostgresSession } from './postgres-destination.ts';
import { PG_ADMIN_URL } from './postgres-test-database.ts';

const PASSWORD = 's3cr3t-P@ss';

async function failure(url: string): Promise<TerminalError> {
  const err = await openPostgresSession(url, { connectTimeoutMs: 5000 }).then(
    async (s) => {
      await s.close();
      throw new Error('connected unexpectedly');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TerminalError);
  return err as TerminalError;
}

/** A free loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Backend protocol message: type byte, int32 length (including itself), body. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Listens like a PostgreSQL server whose password check fails: asks for a cleartext password, then sends FATAL 28P01. */
async function passwordRejectingServer(): Promise<{ server: Server; port: number; received: string[] }> {
  const received: string[] = [];
  const server = createServer((socket) => {
    let stage = 0;
    socket.on('data', (data) => {
      received.push(data.toString('latin1'));
      if (stage === 0) {
        stage = 1;
        socket.write(message('R', Buffer.from([0, 0, 0, 3]))); // AuthenticationCleartextPassword
      } else {
        const fields = ['SFATAL', 'VFATAL', 'C28P01', 'Mpassword authentication failed for user "alice"', 'Rauth_failed'];
        socket.end(message('E', Buffer.from(`${fields.join('\0')}\0\0`, 'utf8')));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, received };
}

describe('connection errors', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  });

  it('connection refused → one line naming host:port, with a hint', async () => {
    const port = await closedPort();
    const err = await failure(`postgres://alice:${PASSWORD}@127.0.0.1:${port}/coinlake`);
    expect(err.message).toBe(`cannot connect to PostgreSQL at 127.0.0.1:${port}: connection refused`);
    expect(err.hint).toBe('is the server running? check the host and port in COINLAKE_WAREHOUSE / warehouse:');
    expect(`${err.message}\n${err.hint}\n${err.stack}`).not.toContain(PASSWORD);
  });

  it('the message for port 5433 reads exactly as documented', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), { code: 'ECONNREFUSED' });
    const err = connectError(refused, { host: '127.0.0.1', port: 5433, user: 'coinlake', database: 'coinlake' });
    expect(err).toBeInstanceOf(TerminalError);
    expect(err.message).toBe('cannot connect to PostgreSQL at 127.0.0.1:5433: connection refused');
  });

  it('bad password → the login was rejected, for that user, without the password anywhere', async () => {
    const fake = await passwordRejectingServer();
    server = fake.server;
    const err = await failure(`postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${fake.port}/coinlake`);
    expect(err.message).toBe(`PostgreSQL at 127.0.0.1:${fake.port} rejected the login for user "alice"`);
    expect(err.hint).toBe(
      'the server said: password authentication failed for user "alice"; check the user and password in COINLAKE_WAREHOUSE / warehouse: (postgres://user:password@host:port/database)',
    );
    expect(`${err.message}\n${err.hint}\n${err.stack}`).not.toContain(PASSWORD);
    // The client did send it: the password reached the server, so the test exercised a real password login.
    expect(fake.received.join('')).toContain(PASSWORD);
  });

  it('unknown role on the real server → rejected login naming the user', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.username = 'no_such_coinlake_user';
    url.password = PASSWORD;
    const err = await failure(url.toString());
    expect(err.message).toBe(`PostgreSQL at ${url.hostname}:${url.port || 5432} rejected the login for user "no_such_coinlake_user"`);
    expect(err.hint).toContain('role "no_such_coinlake_user" does not exist');
    expect(`${err.message}\n${err.hint}`).not.toContain(PASSWORD);
  });

  it('missing database on the real server → names it, with a hint to create it', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = '/coinlake_no_such_database';
    const err = await failure(url.toString());
    expect(err.message).toBe(`PostgreSQL at ${url.hostname}:${url.port || 5432} has no database "coinlake_no_such_database"`);
    expect(err.hint).toContain('createdb');
  });

  it('a malformed URL is a ConfigError that does not echo the URL', async () => {
    const err = await failure(`postgres://alice:${PASSWORD}@127.0.0.1:notaport/x`);
    expect(err.message).not.toContain(PASSWORD);
  });
});

describe('statement errors', () => {
  const at = { host: '127.0.0.1', port: 5432, user: 'u', database: 'd' };

  it('a terminated connection is transient', () => {
    const killed = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const err = statementError(killed, at);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toBe('lost the connection to PostgreSQL at 127.0.0.1:5432: terminating connection due to administrator command');
  });

  it('a COPY error names the batch row and column', () => {
    const bad = Object.assign(new Error('numeric field overflow'), { code: '22003', where: 'COPY stg_t_1a2b, line 3, column amount: "1e40"' });
    const err = statementError(bad, at, 'coinlake.t');
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toBe('PostgreSQL rejected row 3 of the batch for coinlake.t.amount: numeric field overflow');
  });

  it('other database errors pass through unchanged', () => {
    const syntax = Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' });
    expect(statementError(syntax, at)).toBe(syntax);
  });

  it('labels IPv6 hosts in brackets', () => {
    expect(endpointLabel({ host: '::1', port: 5432 })).toBe('[::1]:5432');
  });
});
