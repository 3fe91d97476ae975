// The shared destination conformance suites on PostgreSQL, in a database created for this file.
import { afterAll, beforeAll } from 'vitest';
import type { Session } from '../../core/destination.ts';
import { changeCases } from '../conformance/change-cases.ts';
import { destinationCases } from '../conformance/destination-cases.ts';
import { writeModeCases } from '../conformance/write-mode-cases.ts';
import { openPostgresSession } from './postgres-destination.ts';
import { PostgresSession } from './postgres-session.ts';
import { createTestDatabase, onTestDatabase, type TestDatabase } from './postgres-test-database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const open = () => openPostgresSession(db.url);

writeModeCases(open);
changeCases(open);

destinationCases('postgres', open, {
  async killConnection(victim: Session) {
    if (!(victim instanceof PostgresSession)) throw new Error('not a PostgreSQL session');
    // With a timeout, pg_terminate_backend waits until the backend has exited and dropped its temporary tables.
    const [row] = await onTestDatabase<{ done: boolean }>(db, 'SELECT pg_terminate_backend($1, 10000) AS done', [victim.backendPid]);
    if (!row.done) throw new Error(`backend ${victim.backendPid} did not terminate`);
  },
  async stagingTables(s: Session) {
    const rows = await s.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'stg\\_%'`);
    return rows.map((r) => r.relname);
  },
});
