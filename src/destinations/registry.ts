// Every warehouse plug-in, one line each; the first that accepts a location opens it.
import type { Destination, OpenOptions, Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import { bigqueryDestination } from './bigquery/index.ts';
import { duckdbDestination } from './duckdb/index.ts';
// The destination alone, not the plug-in's index: its sessions and driver load when a session opens.
import { postgresDestination } from './postgres/postgres-destination.ts';

export const DESTINATIONS: Destination[] = [postgresDestination, bigqueryDestination, duckdbDestination];

/** Opens a session on the warehouse at `location` (a DuckDB file path, a postgres:// or a bigquery:// URL). */
export async function openWarehouse(location: string, opts: OpenOptions = {}): Promise<Session> {
  const d = DESTINATIONS.find((x) => x.accepts(location));
  if (!d) throw new ConfigError(`no warehouse plug-in accepts "${location}"`, { hint: 'use a DuckDB file path, a postgres:// URL or bigquery://<project>/<dataset>' });
  return d.open(location, opts);
}

/** A destination whose own clients name a table differently from coinlake's sessions (DuckDB: by the file's name). */
interface NamesClientTables {
  tableReference(location: string, schema: string, table: string): string;
}

/**
 * How a user's own client, opening `location` directly, names `schema.table`: for SQL that coinlake prints for
 * users to run (the demo's hints). `schema.table` unless the destination says otherwise.
 */
export function clientTableReference(location: string, schema: string, table: string): string {
  const d = DESTINATIONS.find((x) => x.accepts(location)) as (Destination & Partial<NamesClientTables>) | undefined;
  return d?.tableReference ? d.tableReference(location, schema, table) : `${schema}.${table}`;
}
