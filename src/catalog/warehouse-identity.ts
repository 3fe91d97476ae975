// The identity of a warehouse: a random id written once into coinlake_meta.warehouse_identity and read back by every
// process after, so work published to a shared NATS server (distributed backfill tasks) names the warehouse it is for.
import { randomBytes } from 'node:crypto';
import type { Session } from '../core/destination.ts';
import { TerminalError } from '../core/errors.ts';

export const WAREHOUSE_IDENTITY_TABLE = 'coinlake_meta.warehouse_identity';

/** A warehouse id: 12 lowercase hex digits (a NATS subject token and part of a consumer name). */
const WAREHOUSE_ID = /^[0-9a-f]{12}$/;

async function readId(s: Session): Promise<string | undefined> {
  const [row] = await s.query<{ warehouse_id: string }>(`SELECT warehouse_id FROM ${WAREHOUSE_IDENTITY_TABLE} WHERE id = 1`);
  return row?.warehouse_id;
}

/**
 * The warehouse's id, created on first use (the meta tables must exist). Two processes creating it at once agree:
 * the row's key is fixed, so the second insert fails and that process reads the first one's id.
 */
export async function warehouseId(s: Session): Promise<string> {
  let id = await readId(s);
  if (id === undefined) {
    try {
      await s.exec(`INSERT INTO ${WAREHOUSE_IDENTITY_TABLE} (id, warehouse_id, created_at) VALUES (1, $1, $2)`, [randomBytes(6).toString('hex'), new Date()]);
    } catch (err) {
      // Another process inserted it first; anything else leaves no row and is reported below.
      if ((await readId(s)) === undefined) throw err;
    }
    id = await readId(s);
  }
  if (id === undefined || !WAREHOUSE_ID.test(id)) {
    throw new TerminalError(`${WAREHOUSE_IDENTITY_TABLE} holds no valid warehouse id (found ${JSON.stringify(id ?? null)}; expected 12 hex digits)`, {
      hint: 'delete its row while no distributed backfill of this warehouse runs; the next coinlake process writes a new one',
    });
  }
  return id;
}
