// Landing a CryptoDataDownload file for a warehouse that does not read it itself (PostgreSQL): an in-memory DuckDB
// reads and normalises the file, and the candles go to the warehouse through staging and write mode merge — as one
// CSV file the warehouse copies in (Session.stageCsv: no row passes through JavaScript, one merge for the file), or
// in batches of rows where it cannot.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from '../../core/destination.ts';
import type { FileLandContext, ImportLanding } from '../../core/file-format.ts';
import type { Row } from '../../core/table.ts';
import { openFileEngine } from '../../destinations/file-engine.ts';
import { tuneForImport } from '../../load/bulk-import-tuning.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { CANDLE_COLUMNS, PREFER_DESCENDING, mergeOptions } from './cdd-candle-rule.ts';
import { exportRows } from './cdd-curated-export.ts';
import type { CddPlanned } from './cdd-plan.ts';
import { countDataLines } from './cdd-line-scan.ts';
import { MAX_ENTRIES, invalidEntries, rejectsOf, type InvalidRow } from './cdd-quarantine.ts';
import { candleSelectSql, normalizedSql, readCsvSql, sqlText } from './cdd-sql.ts';
import { stepTimer } from './cdd-step-timer.ts';

/** Rows per batch on warehouses that load through staging (PostgreSQL). */
const STAGE_BATCH = 50_000;

/**
 * Half of a memory limit such as `256MB` or `1.5GiB` (the limit itself when it does not read as one). The file engine
 * gets half of the import's limit: it shares the process with the warehouse's client, its Parquet and CSV writers
 * allocate outside the limit, and it spills what does not fit. Measured on a 10,000,000-line file, 20% bad, into
 * PostgreSQL: peak RSS 510-570 MB at 256MB, 441 MB at 128MB, in the same time (85 s).
 */
export function halfOf(limit: string): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*$/i.exec(limit);
  if (!m) return limit;
  const units = ['K', 'M', 'G', 'T'];
  const factor = m[2].toLowerCase().includes('i') ? 1024 : 1000;
  const bytes = Number(m[1]) * factor ** (units.indexOf(m[2][0].toUpperCase()) + 1);
  return `${Math.max(1, Math.floor(bytes / 2 / 1024 ** 2))}MiB`;
}

/**
 * The file engine's count of the distinct open times of a series: a bitmap over the plausible range where times sit
 * on a fixed grid (a hash of every time, as count(DISTINCT) keeps, took 50-80 MB on 8,000,000 candles), else
 * count(DISTINCT).
 */
function distinctTimes(p: CddPlanned): string {
  const { gridMicros: step, timeBounds: b } = mergeOptions(p);
  if (!step || !b || (b.hiUs - b.loUs) / step > 200_000_000) return 'count(DISTINCT ts)';
  return `bit_count(bitstring_agg(CAST((epoch_us(ts) - ${b.loUs}) // ${step} AS BIGINT), 0, ${Math.floor((b.hiUs - b.loUs) / step)}))`;
}

/**
 * The landing of `p` through the file engine (DuckDB, its tables in a scratch file). Landing (before the transaction): DuckDB reads and normalises the
 * file (spilling to disk when large), keeps one line per candle, writes the Parquet and, for a warehouse with
 * stageCsv, the candles as one CSV file in a temporary directory. Loading (inside it): the candles go to the warehouse
 * through staging — that file, or batches of rows — and write mode merge.
 */
export async function landThroughDuckdb(p: CddPlanned, { scope, load: ctx, stem, memoryLimit }: FileLandContext): Promise<ImportLanding> {
  const s = scope.session;
  const t = p.table;
  const step = stepTimer(scope.log, p.layout.file);
  // A scratch directory: the engine's database file (its table of the file's rows stays within the memory limit
  // however large the file) and the candles' CSV for the warehouse.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cdd-'));
  const duck = await openFileEngine(path.join(dir, 'scratch.duckdb')).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const close = async () => {
    await duck.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await tuneForImport(duck, halfOf(memoryLimit));
    // Malformed lines are skipped by the read and counted as the data lines it did not parse (counted here meanwhile).
    const dataLines = countDataLines(p.layout.file, p.layout.headerLine);
    dataLines.catch(() => undefined);
    // The raw values are kept for the rows set aside only (their quarantine entries); NULL elsewhere costs nothing.
    await duck.exec(
      `CREATE TABLE cdd AS SELECT ${candleSelectSql('$1')}, ${['unix', 'symbol', 'tradecount'].map((c) => `CASE WHEN reason IS NOT NULL THEN ${c} END AS raw_${c}`).join(', ')}, reason
         FROM (${normalizedSql(p.layout, p.interval, readCsvSql(duck.dialect, p.layout), Date.now())})`,
      [p.exchange],
    );
    step('read the file into the table');
    const [{ parsed, invalid }] = await duck.query<{ parsed: number; invalid: number }>(`SELECT count(*) AS parsed, count(reason) AS invalid FROM cdd`);
    const rejects = await rejectsOf(duck, t.name, p, await dataLines, Number(parsed));
    let quarantine = rejects.entries;
    if (Number(invalid) > 0) {
      const rows = await duck.query<InvalidRow>(
        `SELECT raw_unix AS unix, raw_symbol AS symbol, open, high, low, close, volume_base, volume_quote, raw_tradecount AS tradecount, reason
           FROM cdd WHERE reason IS NOT NULL LIMIT ${MAX_ENTRIES}`,
      );
      quarantine = quarantine.concat(await invalidEntries(t.name, p, rows));
    }
    step('set aside the lines that do not parse and the rows that are not candles');
    const cols = CANDLE_COLUMNS.join(', ');
    const series = await duck.query<{ exchange: string; symbol: string; n: number; d: number; first: Date; last: Date }>(
      `SELECT exchange, symbol, count(*) AS n, ${distinctTimes(p)} AS d, min(ts) AS first, max(ts) AS last FROM cdd WHERE reason IS NULL GROUP BY ALL`,
    );
    step('describe the rows');
    const lineage = `${sqlText(ctx.runId)} AS _run_id, TIMESTAMPTZ ${sqlText(ctx.loadedAt.toISOString())} AS _loaded_at`;
    const curated = await exportRows(duck, scope.lake, t, { columns: `${cols}, ${lineage}`, from: 'FROM cdd WHERE reason IS NULL', series, ranges: true }, stem);
    step('land the rows as Parquet');
    // One line per candle before batching, by the same rule as the bulk path (see mergeOptions).
    const prefer = [...PREFER_DESCENDING, 'open', 'high', 'low', 'close'].map((c) => `${c} DESC NULLS LAST`).join(', ');
    // (Nothing to do when every series' times are distinct: the usual file.)
    const repeated = series.every((x) => Number(x.n) === Number(x.d)) ? 0 : await duck.exec(
      `DELETE FROM cdd WHERE rowid IN (SELECT rowid FROM (
         SELECT rowid, row_number() OVER (PARTITION BY exchange, symbol, ts ORDER BY ${prefer}, rowid DESC) AS rn FROM cdd WHERE reason IS NULL) WHERE rn > 1)`,
    );
    const [{ top }] = await duck.query<{ top: number | null }>(`SELECT max(rowid) AS top FROM cdd`);
    const appended = series.reduce((a, x) => a + Number(x.n), 0);
    step('keep one line per candle');
    let csv: string | undefined;
    if (s.stageCsv && duck.dialect.copyToCsv) {
      csv = path.join(dir, 'candles.csv');
      // The contract of Session.stageCsv: data columns in table order, then the ordinal (rows are one per candle by now).
      await duck.exec(duck.dialect.copyToCsv(`SELECT ${cols}, rowid FROM cdd WHERE reason IS NULL`, csv));
      step('write the candles for the warehouse');
    }
    return {
      curated,
      async load() {
        const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
        if (csv && s.stageCsv) {
          const staging = await s.stageCsv(t, csv, ctx);
          step('copy the candles into the warehouse');
          const r = await applyWriteMode(s, t, staging, 'merge', ctx);
          await s.dropStaging(staging);
          step('merge');
          load.inserted += r.inserted;
          load.updated += r.updated;
        }
        for (let from = 0; !csv && from <= Number(top ?? -1); from += STAGE_BATCH) {
          const rows = await duck.query<Row>(`SELECT ${cols} FROM cdd WHERE reason IS NULL AND rowid >= $1 AND rowid < $2`, [from, from + STAGE_BATCH]);
          if (rows.length === 0) continue;
          const staging = await s.stage(t, rows, ctx);
          const r = await applyWriteMode(s, t, staging, 'merge', ctx);
          await s.dropStaging(staging);
          load.inserted += r.inserted;
          load.updated += r.updated;
        }
        return {
          appended,
          load,
          repeated,
          series: series.map((x) => ({ series: { exchange: x.exchange, symbol: x.symbol }, rows: Number(x.n), distinct: Number(x.d), first: x.first, last: x.last })),
          rejected: rejects.lines,
          invalid: Number(invalid),
          quarantine,
        };
      },
      async afterCommit() {},
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
