// External tables over the lake: for catalog ingestions with `is_external: true`, a view
// `coinlake_external.<target_table>` reads the table's curated Parquet and rebuilds the table from it by its write
// mode (the warehouse's Dialect.externalViewSelect), so the view has exactly the loaded table's rows, lineage
// included. Write mode scd2 has no view: its versions (valid_from, valid_to, is_current) are not in the files.
// Refreshed by `coinlake setup` and after each load. PostgreSQL cannot read Parquet, and a view over an s3:// lake
// would need DuckDB's httpfs extension (not installed by coinlake): those are reported as unsupported.
import { readdir } from 'node:fs/promises';
import type { Session, WriteMode } from '../core/destination.ts';
import { assertIdentifier, type TableSpec } from '../core/table.ts';
import type { Lake } from './lake.ts';

export const EXTERNAL_SCHEMA = 'coinlake_external';

/** The write modes whose tables an external view can rebuild exactly from the curated files. */
export const EXTERNAL_VIEW_MODES: readonly WriteMode[] = ['append', 'replace', 'merge', 'delete_insert'];

export interface ExternalViewResult {
  view: string;
  status: 'created' | 'no-files' | 'unsupported';
  reason?: string;
}

/** Why a table written with `mode` can have no external view, or undefined when it can. */
export function externalViewModeProblem(mode: WriteMode): string | undefined {
  if (EXTERNAL_VIEW_MODES.includes(mode)) return undefined;
  return `write mode ${mode} keeps versions (valid_from, valid_to, is_current) that the curated files do not hold, so a view over them cannot equal the table; external views support write modes ${EXTERNAL_VIEW_MODES.join(', ')}`;
}

/** Creates or replaces the external view of one table. */
export async function refreshExternalView(s: Session, lake: Lake, t: TableSpec, mode: WriteMode): Promise<ExternalViewResult> {
  const view = `${EXTERNAL_SCHEMA}.${assertIdentifier(t.name)}`;
  const select = s.dialect.externalViewSelect;
  if (!select) return { view, status: 'unsupported', reason: 'this warehouse cannot read Parquet; external views need DuckDB' };
  const modeProblem = externalViewModeProblem(mode);
  if (modeProblem) return { view, status: 'unsupported', reason: modeProblem };
  if (lake.root.startsWith('s3://')) return { view, status: 'unsupported', reason: "a view over an s3:// lake needs DuckDB's httpfs extension, which coinlake does not install" };
  const dir = lake.resolve(['curated', t.name]);
  const partitions = await readdir(dir).catch(() => [] as string[]);
  if (!partitions.some((p) => p.startsWith('dt='))) return { view, status: 'no-files', reason: `no curated files under ${lake.relative(dir)} yet` };
  await s.exec(`CREATE SCHEMA IF NOT EXISTS ${EXTERNAL_SCHEMA}`);
  await s.exec(`CREATE OR REPLACE VIEW ${view} AS ${select(`${dir}/dt=*/*.parquet`, t, mode)}`);
  return { view, status: 'created' };
}
