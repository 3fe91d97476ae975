// DuckDB's SELECT that rebuilds a table from its curated Parquet (read_parquet, hive partitioning) by its write
// mode, so an external view holds exactly the table's rows, lineage and volatile columns included.
import type { WriteMode } from '../../core/destination.ts';
import { LINEAGE_COLUMNS, assertIdentifier, type TableSpec } from '../../core/table.ts';
import { sqlString } from './duckdb-file-sql.ts';

/**
 * The view's SELECT over the files of `glob` for a table written with `mode` (append, replace, merge or
 * delete_insert; scd2 versions are not in the files):
 * - append: every row;
 * - replace: the newest load;
 * - delete_insert: the newest load of every partition date;
 * - merge: per key, the row that last changed it — a load whose compared columns (not key, not volatile) equal the
 *   key's previous row changed nothing, so the earlier row (its lineage and volatile values) stays — and, when the
 *   table deletes missing keys, only keys in the newest load.
 * Rows within one load are told apart by nothing but their key.
 */
export function duckdbExternalViewSelect(glob: string, t: TableSpec, mode: WriteMode): string {
  const q = (c: string) => `"${assertIdentifier(c)}"`;
  const cols = [...t.columns, ...LINEAGE_COLUMNS].map((c) => q(c.name)).join(', ');
  const src = `read_parquet(${sqlString(glob)}, hive_partitioning = true, union_by_name = true)`;
  const newest = `ORDER BY "_loaded_at" DESC, "_run_id" DESC`;
  const key = t.primaryKey.map(q).join(', ');
  const perKey = key ? `QUALIFY row_number() OVER (PARTITION BY ${key} ${newest}) = 1` : '';
  switch (mode) {
    case 'merge': {
      const keys = new Set(t.primaryKey);
      const compared = t.columns.filter((c) => !keys.has(c.name) && !c.volatile).map((c) => q(c.name));
      const changed = ['row_number() OVER w = 1', ...compared.map((c) => `lag(${c}) OVER w IS DISTINCT FROM ${c}`)].join(' OR ');
      const present = t.deleteMissing
        ? `AND EXISTS (SELECT 1 FROM f AS n, last WHERE n."_run_id" = last."_run_id" AND n."_loaded_at" = last."_loaded_at" AND ${t.primaryKey.map((k) => `n.${q(k)} = c.${q(k)}`).join(' AND ')})`
        : '';
      return `WITH f AS (SELECT * FROM ${src}), last AS (SELECT "_run_id", "_loaded_at" FROM f ${newest} LIMIT 1)
        SELECT ${cols} FROM (
          SELECT *, (${changed}) AS _changes FROM f WINDOW w AS (PARTITION BY ${key} ORDER BY "_loaded_at", "_run_id")
        ) AS c WHERE _changes ${present} ${perKey}`;
    }
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
