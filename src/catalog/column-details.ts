// Column details → the typed table of an ingestion: which source field lands in which column, with which
// type and in which order. Without column details the stream's own table applies.
import { ConfigError } from '../core/errors.ts';
import type { Stream } from '../core/source.ts';
import type { ColumnSpec, ColumnType, TableSpec } from '../core/table.ts';
import type { ColumnDetail } from './catalog-schema.ts';
import { DATA_SCHEMA } from './meta-tables.ts';

/** The datatype forms column details accept, as error messages name them. */
export const DATATYPE_FORM = 'VARCHAR, DOUBLE, BIGINT, INTEGER, BOOLEAN, TIMESTAMPTZ, DATE, JSON or DECIMAL(p,s)';

const NAMED: Record<string, ColumnType> = {
  VARCHAR: 'varchar',
  TEXT: 'varchar',
  STRING: 'varchar',
  DOUBLE: 'double',
  'DOUBLE PRECISION': 'double',
  FLOAT8: 'double',
  BIGINT: 'bigint',
  INT8: 'bigint',
  INTEGER: 'integer',
  INT: 'integer',
  INT4: 'integer',
  BOOLEAN: 'boolean',
  BOOL: 'boolean',
  TIMESTAMPTZ: 'timestamptz',
  'TIMESTAMP WITH TIME ZONE': 'timestamptz',
  DATE: 'date',
  JSON: 'json',
};

/** `VARCHAR`, `decimal(20, 8)`, `NUMERIC(38,18)`… → the logical column type; undefined when not a known form. */
export function parseDatatype(text: string): ColumnType | undefined {
  const t = text.trim().toUpperCase().replace(/\s+/g, ' ');
  if (NAMED[t]) return NAMED[t];
  const m = /^(?:DECIMAL|NUMERIC) ?\( ?(\d+) ?, ?(\d+) ?\)$/.exec(t);
  if (!m) return undefined;
  const [p, s] = [Number(m[1]), Number(m[2])];
  return p >= 1 && p <= 38 && s <= p ? `decimal(${p},${s})` : undefined;
}

/** The datatype text of a column type, as column details write it (`decimal(20,8)` → `DECIMAL(20,8)`). */
export function datatypeText(type: ColumnType): string {
  return type.toUpperCase();
}

/** What shapes an ingestion's table besides its columns. */
export interface TableOptions {
  asset: string;
  target_table: string;
  primary_key?: string[];
  partitioned_by?: string;
  clustered_by?: string[];
}

/**
 * The typed table of an ingestion in schema `coinlake`: columns from the column details ordered by
 * ordinal_position (`column_name` is the source field, `mapping_column` the target column), or the stream's own
 * columns when there are none. The stream's derived columns are kept at their place, and a column fed by a field the
 * stream marks volatile stays volatile, and one it marks optional (sent by some versions only) stays optional. Key, partition and clustering default to the stream's when their columns exist; the change-events policy is the stream's.
 */
export function ingestionTable(stream: Stream, o: TableOptions, details: ColumnDetail[] = []): TableSpec {
  const base = stream.table;
  let columns: ColumnSpec[];
  if (details.length === 0) {
    columns = base.columns.map((c) => ({ ...c }));
  } else {
    columns = [...details]
      .sort((a, b) => a.ordinal_position - b.ordinal_position)
      .map((d) => {
        const type = parseDatatype(d.datatype);
        if (!type) throw new ConfigError(`${o.asset}: column ${d.mapping_column} has datatype "${d.datatype}"; expected ${DATATYPE_FORM}`);
        const like = base.columns.find((c) => !c.derived && (c.source ?? c.name) === d.column_name);
        const column: ColumnSpec = { name: d.mapping_column, type, source: d.column_name };
        if (!d.is_nullable) column.nullable = false;
        if (like?.volatile) column.volatile = true;
        if (like?.optional) column.optional = true;
        return column;
      });
    base.columns.forEach((c, i) => {
      if (c.derived) columns.splice(Math.min(i, columns.length), 0, { ...c });
    });
  }
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) throw new ConfigError(`${o.asset}: column ${c.name} appears twice in ${o.target_table} (the stream derives ${base.columns.filter((x) => x.derived).map((x) => x.name).join(', ') || 'no columns'} itself)`);
    names.add(c.name);
  }
  const all = (cols: string[] | undefined) => cols !== undefined && cols.every((c) => names.has(c));
  const primaryKey = o.primary_key ?? base.primaryKey;
  const missingKey = primaryKey.filter((k) => !names.has(k));
  if (primaryKey.length === 0 || missingKey.length) {
    throw new ConfigError(`${o.asset}: primary key ${missingKey.length ? `column ${missingKey.join(', ')} is not a column` : 'is empty'} of ${o.target_table}; expected primary_key to name target columns`);
  }
  if (o.partitioned_by && !names.has(o.partitioned_by)) throw new ConfigError(`${o.asset}: partitioned_by column ${o.partitioned_by} is not a column of ${o.target_table}`);
  const unknownCluster = (o.clustered_by ?? []).filter((c) => !names.has(c));
  if (unknownCluster.length) throw new ConfigError(`${o.asset}: clustered_by column ${unknownCluster.join(', ')} is not a column of ${o.target_table}`);
  const table: TableSpec = { schema: DATA_SCHEMA, name: o.target_table, columns, primaryKey };
  const partitionBy = o.partitioned_by ?? (base.partitionBy && names.has(base.partitionBy) ? base.partitionBy : undefined);
  const clusteredBy = o.clustered_by ?? (all(base.clusteredBy) ? base.clusteredBy : undefined);
  if (partitionBy) table.partitionBy = partitionBy;
  if (clusteredBy?.length) table.clusteredBy = clusteredBy;
  if (base.changeEvents) table.changeEvents = base.changeEvents;
  return table;
}
