// The PostgreSQL warehouse plug-in.
export { PostgresDestination, postgresDestination, openPostgresSession, type PostgresOptions } from './postgres-destination.ts';
export { PostgresSession, POSTGRES_CAPABILITIES, advisoryLockId } from './postgres-session.ts';
export { postgresDialect } from './postgres-dialect.ts';
export { connectError, statementError, endpointLabel, type PgEndpoint } from './postgres-errors.ts';
