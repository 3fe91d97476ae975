// External tables over the lake: for catalog ingestions with `is_external: true`, a DuckDB view
// `coinlake_external.<target_table>` reads the table's curated Parquet (read_parquet, hive partitioning) and
// rebuilds the table from it by its write mode — append: every row; merge: the newest row per key; replace: the
// newest load; delete_insert: the newest load of every partition date — so the view has the loaded table's rows.
// Refreshed by `coinlake setup` and after each load. PostgreSQL cannot read Parquet, and a view over an s3:// lake
// would need DuckDB's httpfs extension (not installed by coinlake): those are reported as unsupported.
import { readdir } from 'node:fs/promises';
import type { Session, WriteMode } from '../core/destination.ts';
import { LINEAGE_COLUMNS, assertIdentifier, type TableSpec } from '../core/table.ts';
import type { Lake } from './lake.ts';

export const EXTERNAL_SCHEMA = 'coinlake_external';

export interface ExternalViewResult {
  view: string;
  status: 'created' | 'no-files' | 'unsupported';
  reason?: string;
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The SELECT that rebuilds a table from its curated files (exported for tests). */
export function externalViewSelect(glob: string, t: TableSpec, mode: WriteMode): string {
  const q = (c: string) => `"${assertIdentifier(c)}"`;
  const cols = [...t.columns, ...LINEAGE_COLUMNS].map((c) => q(c.name)).join(', ');
  const src = `read_parquet(${sqlString(glob)}, hive_partitioning = true, union_by_name = true)`;
  const newest = `ORDER BY "_loaded_at" DESC, "_run_id" DESC`;
  const perKey = t.primaryKey.length ? `QUALIFY row_number() OVER (PARTITION BY ${t.primaryKey.map(q).join(', ')} ${newest}) = 1` : '';
  switch (mode) {
    case 'merge':
      return `SELECT ${cols} FROM ${src} ${perKey}`.trim();
    case 'replace':
      return `SELECT ${cols} FROM ${src} WHERE "_run_id" = (SELECT "_run_id" FROM ${src} ${newest} LIMIT 1) ${perKey}`.trim();
    case 'delete_insert': {
      const day = `CAST(${q(t.partitionBy!)} AS DATE)`;
      return `SELECT ${cols} FROM (SELECT *, "_run_id" = first("_run_id") OVER (PARTITION BY ${day} ${newest}) AS _newest FROM ${src}) WHERE _newest ${perKey}`.trim();
    }
    default:
      return `SELECT ${cols} FROM ${src}`;
  }
}

/** Creates or replaces the external view of one table. */
export async function refreshExternalView(s: Session, lake: Lake, t: TableSpec, mode: WriteMode): Promise<ExternalViewResult> {
  const view = `${EXTERNAL_SCHEMA}.${assertIdentifier(t.name)}`;
  if (!s.capabilities.exportsParquet) return { view, status: 'unsupported', reason: 'this warehouse cannot read Parquet; external views need DuckDB' };
  if (lake.root.startsWith('s3://')) return { view, status: 'unsupported', reason: "a view over an s3:// lake needs DuckDB's httpfs extension, which coinlake does not install" };
  const dir = lake.resolve(['curated', t.name]);
  const partitions = await readdir(dir).catch(() => [] as string[]);
  if (!partitions.some((p) => p.startsWith('dt='))) return { view, status: 'no-files', reason: `no curated files under ${lake.relative(dir)} yet` };
  await s.exec(`CREATE SCHEMA IF NOT EXISTS ${EXTERNAL_SCHEMA}`);
  await s.exec(`CREATE OR REPLACE VIEW ${view} AS ${externalViewSelect(`${dir}/dt=*/*.parquet`, t, mode)}`);
  return { view, status: 'created' };
}
