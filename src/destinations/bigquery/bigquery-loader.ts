// Loads a table's curated Parquet from the lake into BigQuery: dataset and table ensured (partitioned by date,
// clustered by id), the files loaded into a staging table by Parquet load jobs, the write mode applied as one
// script (MERGE for merge), the staging table dropped. BigQuery is reached through a small port: the real one wraps
// @google-cloud/bigquery; tests, which cannot reach Google from here, record what would be sent.
import { ConfigError, TerminalError, errorMessage } from '../../core/errors.ts';
import type { WriteMode } from '../../core/destination.ts';
import type { TableSpec } from '../../core/table.ts';
import { bigQueryTable, createTableSql, stagingLoadConfig, writeModeSql, type BigQueryRef } from './bigquery-sql.ts';

/** The part of BigQuery the loader uses. */
export interface BigQueryPort {
  ensureDataset(projectId: string, datasetId: string, location: string): Promise<void>;
  /** Runs a load job: from a local file (uploaded with the job) or from the job's own sourceUris (gs://…). */
  load(config: ReturnType<typeof stagingLoadConfig>, localFile?: string): Promise<{ outputRows: number }>;
  /** Runs a query or script; returns the rows of its last statement and the DML row count when there is one. */
  query(sql: string, location: string): Promise<{ rows: Record<string, unknown>[]; dmlAffectedRows?: number }>;
  dropTable(ref: BigQueryRef): Promise<void>;
}

export interface BigQueryLoadRequest {
  port: BigQueryPort;
  projectId: string;
  datasetId: string;
  /** Dataset location, default US. */
  location?: string;
  table: TableSpec;
  mode: WriteMode;
  /** Local curated Parquet files (uploaded with the load jobs), or gs:// URIs loaded by BigQuery itself. */
  files: string[];
  /** Names the staging table (`_stg_<table>_<runId>`). */
  runId: string;
}

export interface BigQueryLoadResult {
  target: string;
  stagedRows: number;
  affectedRows?: number;
  statements: string[];
}

/** Staging table id of a load: letters, digits and _ only. */
export function stagingTableId(table: string, runId: string): string {
  return `_stg_${table}_${runId.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 1024);
}

/** Runs the whole load; the staging table is dropped whatever happens. */
export async function loadToBigQuery(req: BigQueryLoadRequest): Promise<BigQueryLoadResult> {
  const { port, projectId, datasetId, table } = req;
  const location = req.location ?? 'US';
  if (req.files.length === 0) throw new ConfigError(`no curated files for ${table.name}: nothing to load into BigQuery`, { hint: 'run the table\'s job first; curated Parquet lands under curated/<table>/' });
  const target: BigQueryRef = { projectId, datasetId, tableId: table.name };
  const staging: BigQueryRef = { projectId, datasetId, tableId: stagingTableId(table.name, req.runId) };
  const ddl = createTableSql(target, table);
  const script = writeModeSql(req.mode, target, staging, table);
  await port.ensureDataset(projectId, datasetId, location);
  await port.query(ddl, location);
  let stagedRows = 0;
  try {
    const uris = req.files.filter((f) => f.startsWith('gs://'));
    const locals = req.files.filter((f) => !f.startsWith('gs://'));
    if (uris.length) stagedRows += (await port.load(stagingLoadConfig(staging, { append: false, sourceUris: uris }))).outputRows;
    for (const [i, file] of locals.entries()) {
      stagedRows += (await port.load(stagingLoadConfig(staging, { append: uris.length > 0 || i > 0 }), file)).outputRows;
    }
    const { dmlAffectedRows } = await port.query(script, location);
    return { target: bigQueryTable(target), stagedRows, affectedRows: dmlAffectedRows, statements: [ddl, script] };
  } catch (err) {
    throw new TerminalError(`BigQuery load of ${bigQueryTable(target)} failed: ${errorMessage(err)}`);
  } finally {
    await port.dropTable(staging).catch(() => undefined);
  }
}

/** The real port, over @google-cloud/bigquery (credentials from GOOGLE_APPLICATION_CREDENTIALS). */
export async function googleBigQueryPort(projectId: string): Promise<BigQueryPort> {
  const { BigQuery } = await import('@google-cloud/bigquery');
  const client = new BigQuery({ projectId });
  return {
    async ensureDataset(project, datasetId, location) {
      const ds = client.dataset(datasetId, { projectId: project });
      const [exists] = await ds.exists();
      if (!exists) await ds.create({ location });
    },
    async load(config, localFile) {
      const table = client.dataset(config.destinationTable.datasetId, { projectId: config.destinationTable.projectId }).table(config.destinationTable.tableId);
      const { destinationTable: _d, sourceUris, ...metadata } = config;
      if (localFile) {
        const [job] = await table.load(localFile, metadata);
        return { outputRows: Number(job.statistics?.load?.outputRows ?? 0) };
      }
      const [job] = await client.createJob({ configuration: { load: { ...metadata, destinationTable: config.destinationTable, sourceUris } } });
      const [meta] = await job.promise().then(() => job.getMetadata());
      return { outputRows: Number(meta.statistics?.load?.outputRows ?? 0) };
    },
    async query(sql, location) {
      const [job] = await client.createQueryJob({ query: sql, location });
      const [rows] = await job.getQueryResults();
      const [meta] = await job.getMetadata();
      const affected = meta.statistics?.query?.numDmlAffectedRows;
      return { rows: rows as Record<string, unknown>[], dmlAffectedRows: affected === undefined ? undefined : Number(affected) };
    },
    async dropTable(ref) {
      await client.dataset(ref.datasetId, { projectId: ref.projectId }).table(ref.tableId).delete({ ignoreNotFound: true });
    },
  };
}
