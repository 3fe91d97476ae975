// BigQuery's SQL for coinlake tables: types, DDL (partitioned by date, clustered by id), the load job that brings
// curated Parquet into a staging table, and each write mode as one script from staging into the target.
// Pure functions: tests check the exact text, and the live conformance run executes the same text.
import { ConfigError } from '../../core/errors.ts';
import type { WriteMode } from '../../core/destination.ts';
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

/** The load job that puts curated Parquet into the staging table (first file truncates, the others append). */
export function stagingLoadConfig(staging: BigQueryRef, opts: { append: boolean; sourceUris?: string[] }) {
  return {
    sourceFormat: 'PARQUET' as const,
    destinationTable: { projectId: staging.projectId, datasetId: staging.datasetId, tableId: staging.tableId },
    writeDisposition: opts.append ? ('WRITE_APPEND' as const) : ('WRITE_TRUNCATE' as const),
    createDisposition: 'CREATE_IF_NEEDED' as const,
    parquetOptions: { enableListInference: true },
    ...(opts.sourceUris ? { sourceUris: opts.sourceUris } : {}),
  };
}

/** The staging rows, one per key (the newest load wins) when the table has a key. */
function dedupedStaging(staging: string, t: TableSpec): string {
  if (t.primaryKey.length === 0) return staging;
  return `(SELECT * FROM ${staging} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ${t.primaryKey.map(bq).join(', ')} ORDER BY \`_loaded_at\` DESC, \`_run_id\` DESC) = 1)`;
}

/**
 * The write mode from staging into target as one BigQuery script:
 * - append: INSERT … SELECT
 * - replace: DELETE every row and INSERT, in one transaction
 * - merge: MERGE on the primary key — changed rows updated (volatile columns never count as a change), new keys
 *   inserted, and with deleteMissing the keys absent from the batch deleted (WHEN NOT MATCHED BY SOURCE)
 * - delete_insert: DELETE the partitions (UTC dates) present in the batch and INSERT, in one transaction
 */
export function writeModeSql(mode: WriteMode, target: BigQueryRef, staging: BigQueryRef, t: TableSpec): string {
  const tgt = bigQueryTable(target);
  const stg = bigQueryTable(staging);
  const cols = allColumns(t).map((c) => bq(c.name));
  const colList = cols.join(', ');
  const insert = (from: string) => `INSERT INTO ${tgt} (${colList})\nSELECT ${colList} FROM ${from} AS s`;
  switch (mode) {
    case 'append':
      return `${insert(stg)};`;
    case 'replace':
      return ['BEGIN TRANSACTION;', `DELETE FROM ${tgt} WHERE TRUE;`, `${insert(dedupedStaging(stg, t))};`, 'COMMIT TRANSACTION;'].join('\n');
    case 'merge': {
      if (t.primaryKey.length === 0) {
        throw new ConfigError(`write mode merge needs a primary key on ${t.schema}.${t.name}`, { hint: 'set primary_key_column in the ingestion config, or use write mode append or replace' });
      }
      const keys = new Set(t.primaryKey);
      const lineage = new Set(LINEAGE_COLUMNS.map((c) => c.name));
      const data = t.columns.filter((c) => !keys.has(c.name));
      const compared = data.filter((c) => !c.volatile && !lineage.has(c.name));
      const on = t.primaryKey.map((k) => `t.${bq(k)} = s.${bq(k)}`).join(' AND ');
      const set = [...data.map((c) => c.name), ...lineage].map((c) => `${bq(c)} = s.${bq(c)}`).join(', ');
      const changed = compared.map((c) => `t.${bq(c.name)} IS DISTINCT FROM s.${bq(c.name)}`).join(' OR ');
      return [
        `MERGE ${tgt} AS t`,
        `USING ${dedupedStaging(stg, t)} AS s`,
        `ON ${on}`,
        ...(compared.length ? [`WHEN MATCHED AND (${changed}) THEN`, `  UPDATE SET ${set}`] : []),
        `WHEN NOT MATCHED THEN`,
        `  INSERT (${colList}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`,
        ...(t.deleteMissing ? ['WHEN NOT MATCHED BY SOURCE THEN', '  DELETE'] : []),
      ].join('\n') + ';';
    }
    case 'delete_insert': {
      if (!t.partitionBy) {
        throw new ConfigError(`write mode delete_insert needs a partition column on ${t.schema}.${t.name}`, { hint: 'set partitioned_by in the ingestion config to a timestamp or date column' });
      }
      const p = bq(t.partitionBy);
      const date = (alias: string) => `DATE(${alias}.${p})`;
      return [
        'BEGIN TRANSACTION;',
        `DELETE FROM ${tgt} AS t`,
        `WHERE ${date('t')} IN (SELECT DISTINCT ${date('s')} FROM ${stg} AS s WHERE s.${p} IS NOT NULL)`,
        `   OR (t.${p} IS NULL AND EXISTS (SELECT 1 FROM ${stg} AS s WHERE s.${p} IS NULL));`,
        `${insert(dedupedStaging(stg, t))};`,
        'COMMIT TRANSACTION;',
      ].join('\n');
    }
    case 'scd2':
      throw new ConfigError(`write mode scd2 is not available on BigQuery yet (${t.schema}.${t.name})`, { hint: 'use merge, or load into DuckDB or PostgreSQL for scd2' });
    default:
      throw new ConfigError(`unknown write mode "${String(mode)}"`, { hint: 'use replace, append, merge, delete_insert or scd2' });
  }
}
