// Test support: a fresh PostgreSQL database per test file, created through the maintenance database and dropped after.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database tests create their databases through (trust auth on loopback). */
export const PG_ADMIN_URL = process.env.COINLAKE_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database created for one test file. */
export interface TestDatabase {
  name: string;
  /** postgres:// URL of the database. */
  url: string;
  /** Drops the database, ending any session still connected to it. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `coinlake_test_<random>` and returns its URL and a drop function for afterAll. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `coinlake_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs one statement on the test database over its own short-lived connection (e.g. pg_terminate_backend). */
export async function onTestDatabase<T extends pg.QueryResultRow>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
