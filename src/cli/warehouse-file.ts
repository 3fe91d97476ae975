// Before a command runs: moves the earlier default warehouse file (./coinlake.duckdb) to the default
// (./warehouse.duckdb), and warns when a named DuckDB file would be ambiguous with a schema for DuckDB's own clients.
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';
import { DEFAULT_WAREHOUSE, LEGACY_DEFAULT_WAREHOUSE } from '../catalog/settings.ts';
import { collidingSchema, duckdbCatalogName } from '../destinations/duckdb/duckdb-file-name.ts';
import { EXAMPLES } from '../sources/registry.ts';

const SCHEMAS = [DATA_SCHEMA, META_SCHEMA];

/** A table of each schema, for the example in the warning. */
const EXAMPLE_TABLE: Record<string, string> = { [DATA_SCHEMA]: EXAMPLES.table, [META_SCHEMA]: 'workflow_action_history' };

/**
 * The warehouse to use when no file is named (flag, COINLAKE_WAREHOUSE, config): DEFAULT_WAREHOUSE, after moving
 * ./coinlake.duckdb (and its .wal) there when that exists and the default does not; `say` gets one line on the
 * move. A ./coinlake.duckdb another process holds is left in place and used this time (said too).
 */
export async function defaultWarehouse(say: (line: string) => void): Promise<string> {
  if (!existsSync(LEGACY_DEFAULT_WAREHOUSE) || existsSync(DEFAULT_WAREHOUSE)) return DEFAULT_WAREHOUSE;
  const { duckdbFileHeld } = await import('../destinations/duckdb/duckdb-destination.ts');
  if (await duckdbFileHeld(LEGACY_DEFAULT_WAREHOUSE)) {
    say(`${LEGACY_DEFAULT_WAREHOUSE} (the earlier default warehouse) is held by another process: using it this time; once it is free, coinlake moves it to ${DEFAULT_WAREHOUSE}`);
    return LEGACY_DEFAULT_WAREHOUSE;
  }
  // The .wal first: cut off between the two renames, the next command still finds ./coinlake.duckdb and moves it
  // beside its .wal.
  const wal = existsSync(`${LEGACY_DEFAULT_WAREHOUSE}.wal`);
  if (wal) await rename(`${LEGACY_DEFAULT_WAREHOUSE}.wal`, `${DEFAULT_WAREHOUSE}.wal`);
  await rename(LEGACY_DEFAULT_WAREHOUSE, DEFAULT_WAREHOUSE);
  const moved = wal ? `${LEGACY_DEFAULT_WAREHOUSE} and ${LEGACY_DEFAULT_WAREHOUSE}.wal to ${DEFAULT_WAREHOUSE} and ${DEFAULT_WAREHOUSE}.wal` : `${LEGACY_DEFAULT_WAREHOUSE} to ${DEFAULT_WAREHOUSE}`;
  say(`moved ${moved}, the default warehouse file now (opened directly, a file named coinlake.duckdb makes coinlake.<table> ambiguous)`);
  return DEFAULT_WAREHOUSE;
}

/**
 * For a named warehouse: when it is a DuckDB file this command creates and its base name is a schema's
 * (coinlake.duckdb, coinlake_meta.duckdb), `say` gets the table reference that works when the file is opened directly.
 * Said once, when the file is created; the SQL coinlake itself prints is written for the file in use.
 */
export async function warnSchemaNamedFile(location: string, say: (line: string) => void): Promise<void> {
  if (collidingSchema(location, SCHEMAS) === undefined) return;
  const { duckdbDestination, duckdbPath } = await import('../destinations/duckdb/duckdb-destination.ts');
  const { DESTINATIONS } = await import('../destinations/registry.ts');
  if (DESTINATIONS.find((d) => d.accepts(location)) !== duckdbDestination) return;
  const file = duckdbPath(location);
  const schema = collidingSchema(file, SCHEMAS);
  if (schema === undefined || file === ':memory:' || existsSync(file)) return;
  const table = EXAMPLE_TABLE[schema];
  say(
    `note: DuckDB names the catalog of ${file} "${duckdbCatalogName(file)}", as the schema ${schema}: opening the file in the DuckDB CLI, Python or DBeaver, ` +
      `write ${duckdbDestination.tableReference(file, schema, table)} (${schema}.${table} is ambiguous there), or name the file e.g. warehouse.duckdb`,
  );
}
