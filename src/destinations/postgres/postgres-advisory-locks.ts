// PostgreSQL's advisory locks as the statements of the run leases (Dialect.advisoryLocks): session-level locks that
// live as long as the connection, exclusive or shared, and transaction-level ones for a sweep's check.
import type { AdvisoryLockSql } from '../../core/destination.ts';

/** pg_advisory_* on the 64-bit id `$1` (decimal text). */
export const postgresAdvisoryLocks: AdvisoryLockSql = {
  lock(shared: boolean): string {
    return shared ? 'SELECT pg_advisory_lock_shared($1::bigint)' : 'SELECT pg_advisory_lock($1::bigint)';
  },
  tryLock(shared: boolean): string {
    return `SELECT ${shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock'}($1::bigint) AS ok`;
  },
  tryTransactionLock(): string {
    return 'SELECT pg_try_advisory_xact_lock($1::bigint) AS ok';
  },
  unlock(shared: boolean): string {
    return shared ? 'SELECT pg_advisory_unlock_shared($1::bigint)' : 'SELECT pg_advisory_unlock($1::bigint)';
  },
};
