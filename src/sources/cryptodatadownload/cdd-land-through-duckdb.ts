// Landing a CryptoDataDownload file for a warehouse that does not read it itself (PostgreSQL): an in-memory DuckDB
// reads and normalises the file, and the candles go to the warehouse through staging and write mode merge.
import type { LoadResult } from '../../core/destination.ts';
import type { FileLandContext, ImportLanding } from '../../core/file-format.ts';
import type { Row } from '../../core/table.ts';
import { openFileEngine } from '../../destinations/file-engine.ts';
import { tuneForImport } from '../../load/bulk-import-tuning.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { CANDLE_COLUMNS, PREFER_DESCENDING } from './cdd-candle-rule.ts';
import { exportPartitioned } from './cdd-curated-export.ts';
import type { CddPlanned } from './cdd-plan.ts';
import { countDataLines } from './cdd-line-scan.ts';
import { MAX_ENTRIES, invalidEntries, rejectsOf, type InvalidRow } from './cdd-quarantine.ts';
import { candleSelectSql, lakePartitionSql, normalizedSql, readCsvSql, sqlText } from './cdd-sql.ts';

/** Rows per batch on warehouses that load through staging (PostgreSQL). */
const STAGE_BATCH = 50_000;

/**
 * The landing of `p` through an in-memory DuckDB. Landing (before the transaction): DuckDB reads and normalises the
 * file (spilling to disk when large), keeps one line per candle, and writes the Parquet. Loading (inside it): the
 * candles go to the warehouse in batches through stage() and write mode merge.
 */
export async function landThroughDuckdb(p: CddPlanned, { scope, load: ctx, stem, memoryLimit }: FileLandContext): Promise<ImportLanding> {
  const s = scope.session;
  const t = p.table;
  const duck = await openFileEngine();
  try {
    await tuneForImport(duck, memoryLimit);
    // Malformed lines are skipped by the read and counted as the data lines it did not parse (counted here meanwhile).
    const dataLines = countDataLines(p.layout.file, p.layout.headerLine);
    dataLines.catch(() => undefined);
    await duck.exec(
      `CREATE TABLE cdd AS SELECT ${candleSelectSql('$1')}, unix AS raw_unix, symbol AS raw_symbol, tradecount AS raw_tradecount, reason
         FROM (${normalizedSql(p.layout, p.interval, readCsvSql(duck.dialect, p.layout), Date.now())})`,
      [p.exchange],
    );
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
    const cols = CANDLE_COLUMNS.join(', ');
    const curated = await exportPartitioned(
      duck,
      scope.lake,
      t,
      `SELECT ${cols}, ${sqlText(ctx.runId)} AS _run_id, TIMESTAMPTZ ${sqlText(ctx.loadedAt.toISOString())} AS _loaded_at, ${lakePartitionSql('ts', t.lakeGrain)} AS dt FROM cdd WHERE reason IS NULL`,
      stem,
    );
    const series = await duck.query<{ exchange: string; symbol: string; n: number; d: number; first_t: Date; last_t: Date }>(
      `SELECT exchange, symbol, count(*) AS n, count(DISTINCT ts) AS d, min(ts) AS first_t, max(ts) AS last_t FROM cdd WHERE reason IS NULL GROUP BY ALL`,
    );
    // One line per candle before batching, by the same rule as the bulk path (see mergeOptions).
    const prefer = [...PREFER_DESCENDING, 'open', 'high', 'low', 'close'].map((c) => `${c} DESC NULLS LAST`).join(', ');
    const repeated = await duck.exec(
      `DELETE FROM cdd WHERE rowid IN (SELECT rowid FROM (
         SELECT rowid, row_number() OVER (PARTITION BY exchange, symbol, ts ORDER BY ${prefer}, rowid DESC) AS rn FROM cdd WHERE reason IS NULL) WHERE rn > 1)`,
    );
    const [{ top }] = await duck.query<{ top: number | null }>(`SELECT max(rowid) AS top FROM cdd`);
    const appended = series.reduce((a, x) => a + Number(x.n), 0);
    return {
      curated,
      async load() {
        const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
        for (let from = 0; from <= Number(top ?? -1); from += STAGE_BATCH) {
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
          series: series.map((x) => ({ series: { exchange: x.exchange, symbol: x.symbol }, rows: Number(x.n), distinct: Number(x.d), first: x.first_t, last: x.last_t })),
          rejected: rejects.lines,
          invalid: Number(invalid),
          quarantine,
        };
      },
      async afterCommit() {},
      close: () => duck.close(),
    };
  } catch (err) {
    await duck.close();
    throw err;
  }
}
