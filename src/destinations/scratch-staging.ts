// Where a large batch's typed rows wait for their commit instead of the JavaScript heap (extractBatch spills them once
// a batch grows past a bound): the warehouse's own staging table when it has one it fills a part at a time (DuckDB's
// jsonStaging), otherwise a table of the file engine in a scratch file (within a memory limit, spilling to disk) that
// becomes the warehouse's staging table by one CSV COPY at commit (Session.stageCsv, as import cdd loads PostgreSQL)
// and writes the curated Parquet itself.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { STAGING_ORDINAL, type JsonPageFile, type JsonStaging, type LoadContext, type ParquetExportOptions, type Session } from '../core/destination.ts';
import { InternalError } from '../core/errors.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { openFileEngine } from './file-engine.ts';

/** The file engine's memory limit for a scratch staging: it shares the process with the run (see cdd's halfOf). */
const SCRATCH_MEMORY_LIMIT = '128MB';

/**
 * A staging table for rows typed a part at a time, or undefined when `session` offers none (then the rows stay in
 * JavaScript): the warehouse's jsonStaging, else a scratch staging when the warehouse copies CSV in.
 */
export async function rowStaging(session: Session, t: TableSpec): Promise<JsonStaging | undefined> {
  const own = await session.jsonStaging?.(t);
  if (own) return own;
  if (!session.stageCsv) return undefined;
  return ScratchStaging.open(session, t);
}

/** Rows staged in a file-engine table in a scratch directory; the warehouse's staging table is made from it at finish(). */
export class ScratchStaging implements JsonStaging {
  private scratchName: string | undefined;

  private constructor(
    private readonly warehouse: Session,
    private readonly t: TableSpec,
    private readonly dir: string,
    private readonly engine: Session,
    private readonly inner: JsonStaging,
  ) {}

  /** Opens the file engine in a new scratch directory; undefined when it cannot type `t` (json columns). */
  static async open(warehouse: Session, t: TableSpec): Promise<ScratchStaging | undefined> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-spill-'));
    let engine: Session | undefined;
    try {
      engine = await openFileEngine(path.join(dir, 'rows.duckdb'));
      // Only the memory limit of a bulk import: its other settings give up the row order the curated Parquet keeps.
      await engine.exec(`SET memory_limit = '${SCRATCH_MEMORY_LIMIT}'`);
      const inner = await engine.jsonStaging?.(t);
      if (inner && engine.dialect.copyToCsv && engine.exportParquet) return new ScratchStaging(warehouse, t, dir, engine, inner);
    } catch (err) {
      await engine?.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    await engine.close();
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }

  get rowCount(): number {
    return this.inner.rowCount;
  }

  addPages(pages: JsonPageFile[]): ReturnType<JsonStaging['addPages']> {
    return this.inner.addPages(pages);
  }

  addRows(rows: Row[], ordinals: number[]): Promise<void> {
    return this.inner.addRows(rows, ordinals);
  }

  /** The scratch rows as one CSV file (data columns in table order, then the ordinal: Session.stageCsv's contract), copied into the warehouse's staging table. */
  async finish(ctx: LoadContext): Promise<string> {
    if (!this.warehouse.stageCsv) throw new InternalError('a scratch staging needs a warehouse that copies CSV in (Session.stageCsv)');
    this.scratchName = await this.inner.finish(ctx);
    const d = this.engine.dialect;
    const csv = path.join(this.dir, 'rows.csv');
    const columns = [...this.t.columns.map((c) => d.ident(c.name)), d.ident(STAGING_ORDINAL)].join(', ');
    await this.engine.exec(d.copyToCsv!(`SELECT ${columns} FROM ${d.ident(this.scratchName)} ORDER BY ${d.ident(STAGING_ORDINAL)}`, csv));
    return this.warehouse.stageCsv(this.t, csv, ctx);
  }

  /** The curated Parquet from the scratch rows (the warehouse does not export Parquet itself). */
  async exportParquet(dir: string, opts: ParquetExportOptions): Promise<void> {
    if (!this.scratchName) throw new InternalError('exportParquet() of a scratch staging comes after finish()');
    await this.engine.exportParquet!(this.scratchName, dir, opts);
  }

  async discard(): Promise<void> {
    try {
      await this.engine.close();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
