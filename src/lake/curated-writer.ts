// Curated Parquet for a load: written under a temporary directory, published only after the run commits.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ParquetExportOptions, Session } from '../core/destination.ts';
import { InternalError } from '../core/errors.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { utcDate } from './lake-paths.ts';
import type { LocalLake } from './local-lake.ts';
import { withParquetWriter } from './parquet-writer.ts';

/** A curated file: where it was written and where it becomes visible on commit. */
export interface CuratedFile {
  temp: string;
  final: string;
  tempDir: string;
}

/** Lists files below dir, recursively. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

/**
 * Writes the staged batch as `curated/<table>/dt=YYYY-MM-DD/<run_id>.parquet` (one file per UTC date of
 * the table's partition column, or the load date; `dt=YYYY-MM` or `dt=YYYY` with the table's lakeGrain). Uses the warehouse's own exporter when it has one,
 * otherwise an in-memory DuckDB.
 */
export async function writeCurated(args: {
  session: Session;
  lake: LocalLake;
  table: TableSpec;
  /** The batch's staging table; a warehouse that exports Parquet itself writes from it (required there). */
  staging?: string;
  rows: Row[];
  /** Writes the Parquet instead of `rows`, on a warehouse that does not export it (a staging with rows of its own: JsonStaging.exportParquet). */
  exportFrom?: (dir: string, opts: ParquetExportOptions) => Promise<void>;
  runId: string;
  day: Date;
  /** File name stem, default the run id; a run that commits several batches (backfill) names each batch. */
  fileStem?: string;
}): Promise<CuratedFile[]> {
  const { session, lake, table, staging, rows, runId } = args;
  const stem = args.fileStem ?? runId;
  const tempDir = lake.curatedWorkDir(table.name, stem);
  const opts = { partitionColumn: table.partitionBy, day: utcDate(args.day), fileStem: stem, orderBy: table.clusteredBy, grain: table.lakeGrain };
  if (session.capabilities.exportsParquet && session.exportParquet) {
    if (staging === undefined) throw new InternalError(`writeCurated of ${table.name} needs the staging table on a warehouse that exports Parquet itself`);
    await session.exportParquet(staging, tempDir, opts);
  } else if (args.exportFrom) {
    await args.exportFrom(tempDir, opts);
  } else {
    await withParquetWriter(async (w) => {
      const st = await w.stage(table, rows, { runId, processId: 0, loadedAt: args.day });
      await w.exportParquet!(st, tempDir, opts);
    });
  }
  const files = await listFiles(tempDir).catch(() => [] as string[]);
  return files.map((temp) => {
    const partition = path.basename(path.dirname(temp));
    const m = /_(\d+)\.parquet$/.exec(temp);
    const suffix = m && m[1] !== '0' ? `-${m[1]}` : '';
    return { temp, tempDir, final: lake.curatedFinal(table.name, partition, `${stem}${suffix}.parquet`) };
  });
}
