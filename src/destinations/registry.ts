// Every warehouse plug-in, one line each; the first that accepts a location opens it.
import type { Destination, OpenOptions, Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import { duckdbDestination } from './duckdb/index.ts';
import { postgresDestination } from './postgres/index.ts';

export const DESTINATIONS: Destination[] = [postgresDestination, duckdbDestination];

/** Opens a session on the warehouse at `location` (a DuckDB file path or a postgres:// URL). */
export async function openWarehouse(location: string, opts: OpenOptions = {}): Promise<Session> {
  const d = DESTINATIONS.find((x) => x.accepts(location));
  if (!d) throw new ConfigError(`no warehouse plug-in accepts "${location}"`, { hint: 'use a DuckDB file path or a postgres:// URL' });
  return d.open(location, opts);
}
