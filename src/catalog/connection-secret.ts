// A connection's sealed secret (secret-box.ts) written into the catalog's connection row.
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import { catalogNames } from './catalog-read.ts';
import { CATALOG_TABLES as T } from './meta-tables.ts';

/** Stores a connection's sealed secret; a ConfigError when the connection is not in the catalog. */
export async function storeSecret(s: Session, connection: string, sealed: string, now = new Date()): Promise<void> {
  const n = await s.exec(`UPDATE ${T.connections} SET secret_encrypted = $1, modified_at = $2 WHERE connection_name = $3`, [sealed, now, connection]);
  if (n === 0) {
    const names = await catalogNames(s);
    throw new ConfigError(`unknown connection "${connection}" in ${T.connections}`, { hint: `known connections: ${[...names.keys()].join(', ') || 'none'}` });
  }
}
