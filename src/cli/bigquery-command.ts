// `coinlake bigquery load <table>`: the table's curated Parquet from the lake into BigQuery (staging load jobs, then
// the write mode as one script; MERGE for merge). Credentials: GOOGLE_APPLICATION_CREDENTIALS; project from
// --project or COINLAKE_BQ_PROJECT.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { readCatalog } from '../catalog/catalog-store.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { planIngestion } from '../catalog/catalog-job.ts';
import { ConfigError } from '../core/errors.ts';
import type { TableSpec } from '../core/table.ts';
import { googleBigQueryPort, loadToBigQuery } from '../destinations/bigquery/bigquery-loader.ts';
import { openLake } from '../lake/lake.ts';
import { parseWriteMode } from '../runner/job-builder.ts';
import { newRunId } from '../runner/run-history.ts';
import { SOURCES } from '../sources/registry.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { resolveSettings } from '../catalog/settings.ts';

/** The spec of a warehouse table: a catalog ingestion's target table first, else a built-in stream's table. */
export async function findTableSpec(name: string, catalogTables: TableSpec[]): Promise<TableSpec> {
  const found = catalogTables.find((t) => t.name === name) ?? SOURCES.flatMap((s) => s.streams.map((st) => st.table)).find((t) => t.name === name);
  if (!found) throw new ConfigError(`table ${name} is not a catalog target table nor a built-in stream table`, { hint: 'run `coinlake catalog list` to see the tables' });
  return found;
}

export function registerBigQueryCommand(program: Command, globals: () => GlobalOptions): void {
  const bq = program.command('bigquery').description('BigQuery warehouse: load curated lake Parquet into BigQuery');
  bq.command('load')
    .description('load a table\'s curated Parquet from the lake into BigQuery (partitioned by date, clustered by id)')
    .argument('<table>', 'warehouse table, e.g. coincap_assets')
    .option('--project <id>', 'Google Cloud project (default: COINLAKE_BQ_PROJECT)')
    .option('--dataset <name>', 'BigQuery dataset', 'coinlake')
    .option('--location <loc>', 'dataset location', 'US')
    .option('--mode <mode>', 'write mode: merge | replace | append | delete_insert', 'merge')
    .option('--run <run_id>', 'only the curated files of this run')
    .action(async (tableName: string, o: { project?: string; dataset: string; location: string; mode: string; run?: string }) => {
      const g = globals();
      const projectId = o.project || process.env.COINLAKE_BQ_PROJECT;
      if (!projectId) throw new ConfigError('no BigQuery project: give --project or set COINLAKE_BQ_PROJECT');
      const mode = parseWriteMode(o.mode);
      const catalogTables = await withWarehouse(g, async (s) => {
        await ensureMetaTables(s);
        const c = await readCatalog(s);
        return c.ingestions.flatMap((i) => {
          try {
            return [planIngestion(i).table];
          } catch {
            return [];
          }
        });
      });
      const table = await findTableSpec(tableName, catalogTables);
      const lake = openLake(resolveSettings({ lake: g.lake }).lake);
      const files = (await lake.list(['curated', table.name])).filter((f) => f.endsWith('.parquet') && !f.includes('/.tmp-') && (!o.run || path.basename(f).startsWith(o.run)));
      // Object-storage files are fetched to a temporary directory and uploaded with the load jobs.
      const tmp = lake.root.startsWith('s3://') ? await mkdtemp(path.join(os.tmpdir(), 'coinlake-bq-')) : undefined;
      try {
        const local: string[] = [];
        for (const f of files) {
          const where = lake.resolve(f.split('/'));
          if (!tmp) local.push(where);
          else {
            const copy = path.join(tmp, f.replaceAll('/', '_'));
            await writeFile(copy, await lake.readBytes(where));
            local.push(copy);
          }
        }
        const port = await googleBigQueryPort(projectId);
        const r = await loadToBigQuery({ port, projectId, datasetId: o.dataset, location: o.location, table, mode, files: local, runId: newRunId() });
        process.stdout.write(`${r.target}: ${files.length} file(s), ${r.stagedRows.toLocaleString('en-US')} rows staged, ${mode}${r.affectedRows !== undefined ? ` changed ${r.affectedRows.toLocaleString('en-US')} rows` : ''}\n`);
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
}
