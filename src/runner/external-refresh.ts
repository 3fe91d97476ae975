// Refreshes the external views of the catalog's `is_external: true` ingestions (`coinlake setup`, after a load).
import { planIngestion } from '../catalog/catalog-job.ts';
import { readCatalog } from '../catalog/catalog-read.ts';
import type { Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';
import { refreshExternalView, type ExternalViewResult } from '../lake/external-views.ts';
import type { Lake } from '../lake/lake.ts';

/** Refreshes every external ingestion's view (or only those writing `table`); one result per ingestion. */
export async function refreshCatalogExternalViews(s: Session, lake: Lake, table?: string): Promise<(ExternalViewResult & { asset: string })[]> {
  const catalog = await readCatalog(s);
  const out: (ExternalViewResult & { asset: string })[] = [];
  for (const ing of catalog.ingestions) {
    if (!ing.is_external || !ing.enabled) continue;
    try {
      const plan = planIngestion(ing);
      if (table !== undefined && plan.table.name !== table) continue;
      out.push({ asset: `${ing.connection}/${ing.asset}`, ...(await refreshExternalView(s, lake, plan.table, plan.writeMode)) });
    } catch (err) {
      out.push({ asset: `${ing.connection}/${ing.asset}`, view: `coinlake_external.${ing.target_table}`, status: 'unsupported', reason: errorMessage(err) });
    }
  }
  return out;
}

/** One line per view for the CLI. */
export function externalViewLine(r: ExternalViewResult & { asset: string }): string {
  return r.status === 'created' ? `external view ${r.view} (${r.asset}): refreshed` : `external view ${r.view} (${r.asset}): not created — ${r.reason}`;
}
