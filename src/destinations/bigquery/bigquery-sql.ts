// BigQuery's SQL for coinlake tables: types, quoted names and the DDL (partitioned by date, clustered by id).
// Pure functions: tests check the exact text, and the live conformance run executes the same text.
import { ConfigError } from '../../core/errors.ts';
import { LINEAGE_COLUMNS, assertIdentifier, type ColumnSpec, type TableSpec } from '../../core/table.ts';
import { decimalParts } from '../sql-types.ts';

/** Where a table lives in BigQuery. */
export interface BigQueryRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

const SIMPLE: Record<string, string> = {
  varchar: 'STRING',
  double: 'FLOAT64',
  bigint: 'INT64',
  integer: 'INT64',
  boolean: 'BOOL',
  timestamptz: 'TIMESTAMP',
  date: 'DATE',
  json: 'JSON',
};

/** BigQuery type of a logical column type: decimal(p,s) → NUMERIC(p,s) when it fits (≤ 29 integer digits, scale ≤ 9), else BIGNUMERIC(p,s). */
export function bigQueryType(type: string): string {
  const simple = SIMPLE[type.toLowerCase()];
  if (simple) return simple;
  const dec = decimalParts(type);
  if (dec) return dec.precision - dec.scale <= 29 && dec.scale <= 9 ? `NUMERIC(${dec.precision}, ${dec.scale})` : `BIGNUMERIC(${dec.precision}, ${dec.scale})`;
  throw new ConfigError(`unknown column type "${type}"`, { hint: 'use varchar, double, bigint, integer, boolean, timestamptz, date, json or decimal(p,s)' });
}

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** `project.dataset.table` in backticks, every part validated (project ids: 6–30 lower-case letters, digits, hyphens). */
export function bigQueryTable(ref: BigQueryRef): string {
  if (!PROJECT.test(ref.projectId)) throw new ConfigError(`BigQuery project "${ref.projectId}" is not a project id; expected 6–30 lower-case letters, digits and hyphens, starting with a letter`);
  assertIdentifier(ref.datasetId, 'BigQuery dataset');
  assertIdentifier(ref.tableId, 'BigQuery table');
  return `\`${ref.projectId}.${ref.datasetId}.${ref.tableId}\``;
}

/** A validated column name in backticks. */
export function bq(name: string): string {
  return `\`${assertIdentifier(name, 'column')}\``;
}

/** Data columns then lineage columns, as every coinlake table has them. */
function allColumns(t: TableSpec): ColumnSpec[] {
  return [...t.columns, ...LINEAGE_COLUMNS];
}

/** The column whose UTC date partitions the table: partitionBy, else the load time. */
export function partitionColumn(t: TableSpec): string {
  return t.partitionBy ?? '_loaded_at';
}

/** Up to four clustering columns: clusteredBy, else the primary key. */
export function clusterColumns(t: TableSpec): string[] {
  return (t.clusteredBy?.length ? t.clusteredBy : t.primaryKey).slice(0, 4);
}

/** CREATE TABLE IF NOT EXISTS, partitioned by the UTC date of the partition column and clustered by id. */
export function createTableSql(ref: BigQueryRef, t: TableSpec): string {
  const cols = allColumns(t).map((c) => `  ${bq(c.name)} ${bigQueryType(c.type)}${c.nullable === false ? ' NOT NULL' : ''}`);
  const part = partitionColumn(t);
  const partType = allColumns(t).find((c) => c.name === part)?.type;
  if (!partType) throw new ConfigError(`${t.schema}.${t.name}: partition column ${part} is not a column of the table`);
  const partition = partType === 'date' ? bq(part) : `DATE(${bq(part)})`;
  const cluster = clusterColumns(t);
  return [
    `CREATE TABLE IF NOT EXISTS ${bigQueryTable(ref)} (`,
    cols.join(',\n'),
    `)`,
    `PARTITION BY ${partition}`,
    ...(cluster.length ? [`CLUSTER BY ${cluster.map(bq).join(', ')}`] : []),
  ].join('\n');
}
