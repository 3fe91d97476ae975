// What `coinlake schedule` reads from the warehouse: the enabled catalog ingestions that carry a cron `schedule`,
// and when each last ran (its newest run row that ended), for the catch-up after a downtime.
import type { Session } from '../core/destination.ts';
import { readCatalog } from '../catalog/catalog-read.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { RUN_IN_PROGRESS } from '../runner/run-history.ts';
import type { ScheduleEntry } from './scheduler.ts';

/** A scheduled catalog entry: its key is `CONNECTION/ASSET`, as run rows name it. */
export interface CatalogScheduleEntry extends ScheduleEntry {
  connection: string;
  asset: string;
}

/** Every enabled ingestion with a schedule, in catalog order, its cron read in `timezone`. */
export async function scheduledEntries(s: Session, timezone: string): Promise<CatalogScheduleEntry[]> {
  await ensureMetaTables(s);
  const catalog = await readCatalog(s);
  return catalog.ingestions
    .filter((i) => i.enabled && i.schedule)
    .map((i) => ({ key: `${i.connection}/${i.asset}`, connection: i.connection, asset: i.asset, cron: i.schedule!, timezone }));
}

/** When the entry's newest ended run started (completed, failed or failed-quality); undefined when it never ran. */
export async function lastRunStart(s: Session, entry: CatalogScheduleEntry): Promise<Date | undefined> {
  const p = s.dialect.param;
  const [row] = await s.query<{ t: Date | null }>(
    `SELECT max(execution_start_datetime) AS t FROM coinlake_meta.workflow_action_history
      WHERE connection_name = ${p(1)} AND table_name = ${p(2)} AND execution_status <> ${RUN_IN_PROGRESS}`,
    [entry.connection, entry.asset],
  );
  return row?.t ?? undefined;
}
