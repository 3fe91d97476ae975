// `coinlake bigquery load <table>` (deprecated): BigQuery is a warehouse like the others (bigquery://<project>/<dataset>);
// this alias keeps working — it loads a table's curated Parquet from the lake through that destination (staging by
// load jobs, the write mode as one script) after one deprecation line on stderr.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { readCatalog } from '../catalog/catalog-read.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { planIngestion } from '../catalog/catalog-job.ts';
import { ConfigError } from '../core/errors.ts';
import type { TableSpec } from '../core/table.ts';
import { openBigQuerySession, type BigQuerySession } from '../destinations/bigquery/index.ts';
import { openLake } from '../lake/lake.ts';
import { applyWriteMode, physicalTable } from '../load/index.ts';
import { parseWriteMode } from '../runner/job-builder.ts';
import { newRunId } from '../runner/run-history.ts';
import { SOURCES } from '../sources/registry.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { resolveSettings } from '../catalog/settings.ts';
import { EXAMPLES } from '../sources/registry.ts';

/** The spec of a warehouse table: a catalog ingestion's target table first, else a built-in stream's table. */
export async function findTableSpec(name: string, catalogTables: TableSpec[]): Promise<TableSpec> {
  const found = catalogTables.find((t) => t.name === name) ?? SOURCES.flatMap((s) => s.streams.map((st) => st.table)).find((t) => t.name === name);
  if (!found) throw new ConfigError(`table ${name} is not a catalog target table nor a built-in stream table`, { hint: 'run `coinlake catalog list` to see the tables' });
  return found;
}

/** The deprecation line the alias prints first. */
export function bigQueryLoadDeprecation(location: string): string {
  return `warning: \`coinlake bigquery load\` is deprecated: BigQuery is a warehouse like DuckDB and PostgreSQL (--warehouse ${location}); this alias loads through that destination\n`;
}

/** What one load of curated files did. */
export interface CuratedLoadResult {
  target: string;
  stagedRows: number;
  changed: number;
}

/**
 * Loads curated Parquet files of `table` into BigQuery through the destination's session: dataset and table ensured,
 * the files staged by load jobs, `mode` applied by the core (one script on BigQuery), the staging table dropped.
 */
export async function loadCuratedFiles(s: BigQuerySession, table: TableSpec, mode: ReturnType<typeof parseWriteMode>, files: string[], runId: string): Promise<CuratedLoadResult> {
  await s.ensureSchema(table.schema);
  await s.ensureTable(physicalTable(table, mode));
  const { staging, rows } = await s.stageParquet(table, files, runId);
  try {
    // Not a run (no run row, process 0): the alias writes no change events, so it needs no meta dataset.
    const r = await applyWriteMode(s, { ...table, changeEvents: 'none' }, staging, mode, { runId, processId: 0, loadedAt: new Date() });
    return { target: s.dialect.table(table.schema, table.name), stagedRows: rows, changed: r.inserted + r.updated + r.deleted };
  } finally {
    await s.dropStaging(staging).catch(() => undefined);
  }
}

export function registerBigQueryCommand(program: Command, globals: () => GlobalOptions): void {
  const bq = program.command('bigquery').description('deprecated: BigQuery is a warehouse (--warehouse bigquery://<project>/<dataset>)');
  bq.command('load')
    .description('deprecated alias: load a table\'s curated Parquet from the lake into BigQuery through the bigquery:// destination')
    .argument('<table>', `warehouse table, e.g. ${EXAMPLES.table}`)
    .option('--project <id>', 'Google Cloud project (default: COINLAKE_BQ_PROJECT)')
    .option('--dataset <name>', 'BigQuery dataset', 'coinlake')
    .option('--location <loc>', 'dataset location', 'US')
    .option('--mode <mode>', 'write mode: merge | replace | append | delete_insert | scd2', 'merge')
    .option('--run <run_id>', 'only the curated files of this run')
    .action(async (tableName: string, o: { project?: string; dataset: string; location: string; mode: string; run?: string }) => {
      const g = globals();
      const projectId = o.project || process.env.COINLAKE_BQ_PROJECT;
      if (!projectId) throw new ConfigError('no BigQuery project: give --project or set COINLAKE_BQ_PROJECT');
      const location = `bigquery://${projectId}/${o.dataset}?location=${o.location}`;
      process.stderr.write(bigQueryLoadDeprecation(location));
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
      const session = await openBigQuerySession(location);
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
        const r = await loadCuratedFiles(session, table, mode, local, newRunId());
        process.stdout.write(`${r.target}: ${files.length} file(s), ${r.stagedRows.toLocaleString('en-US')} rows staged, ${mode} changed ${r.changed.toLocaleString('en-US')} rows\n`);
      } finally {
        await session.close();
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
}
