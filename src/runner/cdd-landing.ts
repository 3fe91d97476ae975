// Landing one CryptoDataDownload file before its transaction: DuckDB reads it (streaming), writes its candles as
// curated Parquet under a temporary name, and sets malformed lines and non-candles aside with line numbers and
// reasons; the Landing's load() then puts the candles into the table inside the file's transaction. Two ways: in the
// DuckDB warehouse itself (no row through JS), or through an in-memory DuckDB and staging for other warehouses.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { intervalMs } from '../core/candle-interval.ts';
import type { LoadContext, LoadResult, Session } from '../core/destination.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { duckdbDestination } from '../destinations/duckdb/index.ts';
import type { CuratedFile } from '../lake/curated-writer.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';
import { mergeAppended, type AppendedSeries } from '../load/append-merge.ts';
import { applyWriteMode } from '../load/write-modes.ts';
import { cddInterval, type CddLayout } from '../sources/cryptodatadownload/cdd-file.ts';
import { lineKey, locateLines } from '../sources/cryptodatadownload/cdd-line-locator.ts';
import { candleSelectSql, lakePartitionSql, normalizedSql, readCsvSql, sqlText } from '../sources/cryptodatadownload/cdd-sql.ts';
import { OHLCV_COLUMNS, ohlcvTable } from '../sources/ohlcv-table.ts';
import type { RunScope } from './run-steps.ts';

/** Quarantine entries kept per file and kind; beyond it only the count is kept (a file of garbage stays cheap). */
const MAX_ENTRIES = 100_000;
/** Rows per batch on warehouses that load through staging (PostgreSQL). */
const STAGE_BATCH = 50_000;

/** A file ready to import: its layout and where its rows go. */
export interface Planned {
  layout: CddLayout;
  exchange: string;
  table: TableSpec;
  interval: ReturnType<typeof cddInterval>;
}

/** Where a file's rows go: exchange (option, else the file name), interval and candle table. */
export function planFile(layout: CddLayout, opts: { exchange?: string; interval?: string }): Planned {
  const exchange = (opts.exchange ?? layout.exchange)?.toLowerCase();
  if (!exchange) {
    throw new ConfigError(`cannot tell the exchange of ${layout.file} from its name`, {
      file: layout.file,
      hint: 'name files like Binance_BTCUSDT_minute.csv, or pass --exchange binance',
    });
  }
  if (!/^[a-z0-9][a-z0-9_.-]{0,39}$/.test(exchange)) throw new ConfigError(`exchange "${exchange}" is not a plain name (letters, digits, _ . -)`);
  const interval = cddInterval(layout, opts.interval);
  return { layout, exchange, table: ohlcvTable(interval), interval };
}

/** A row of DuckDB's rejects table. */
interface RejectRow {
  line: number;
  column_idx: number | null;
  column_name: string | null;
  error_type: string;
  csv_line: string;
  error_message: string;
}

/** Quarantine entries of the lines DuckDB rejected, one per line. */
function rejectEntries(table: string, file: string, rows: RejectRow[]): QuarantineEntry[] {
  const byLine = new Map<number, QuarantineEntry>();
  for (const r of rows) {
    if (byLine.has(Number(r.line))) continue;
    const record = r.csv_line.replace(/^[\r\n]+|[\r\n]+$/g, '');
    const fields = record.split(',');
    let reason: string;
    let value: string | undefined;
    if (r.error_type === 'CAST') {
      value = r.column_idx ? fields[Number(r.column_idx) - 1] : undefined;
      reason = value === undefined || value.trim() === '' ? `column "${r.column_name}" is empty` : `column "${r.column_name}": "${value}" is not a ${/unix|tradecount/.test(r.column_name ?? '') ? 'whole number' : 'number'}`;
    } else if (r.error_type === 'MISSING COLUMNS' || r.error_type === 'TOO MANY COLUMNS') {
      reason = `${r.error_type.toLowerCase()}: ${r.error_message.replace('Expected Number of Columns: ', 'expected ').replace(' Found: ', ', found ')}`;
    } else {
      reason = `${r.error_type.toLowerCase()}: ${r.error_message}`;
    }
    byLine.set(Number(r.line), { table, line: Number(r.line), field: r.column_name ?? undefined, value, reason, record, origin: file });
  }
  return [...byLine.values()];
}

interface InvalidRow {
  unix: number | string;
  symbol: string | null;
  open: number;
  high: number;
  low: number;
  close: number;
  volume_base: number;
  volume_quote: number;
  tradecount: number | null;
  reason: string;
}

/** Quarantine entries for rows that parsed but are not candles, with their line numbers found by streaming the file. */
async function invalidEntries(table: string, p: Planned, rows: InvalidRow[]): Promise<QuarantineEntry[]> {
  const col = (role: string) => p.layout.columns.find((c) => c.role === role)!.index;
  const keys = new Set(rows.map((r) => lineKey(r.unix, r.symbol)));
  const lines = await locateLines(p.layout.file, keys, { unixIndex: col('unix'), symbolIndex: col('symbol'), headerLine: p.layout.headerLine });
  return rows.map((r) => {
    const { reason, ...record } = r;
    const line = lines.get(lineKey(r.unix, r.symbol))?.shift();
    return { table, line, reason, record, origin: p.layout.file };
  });
}

/**
 * DuckDB settings for a bulk import, undone afterwards: a memory limit with a temp directory to spill to; no
 * insertion order (parallel reads and writes; nothing depends on line order, see mergeAppended's preferDescending);
 * partitioned Parquet writes flushed every 65,536 rows (the writer's buffers are outside the memory limit: this
 * keeps a 5M-line import about 110 MB smaller at the same speed).
 */
export async function tuneForImport(s: Session, limit: string): Promise<() => Promise<void>> {
  const [before] = await s.query<{ mem: string; tmp: string; pio: boolean; flush: number }>(
    `SELECT current_setting('memory_limit') AS mem, current_setting('temp_directory') AS tmp, current_setting('preserve_insertion_order') AS pio,
            current_setting('partitioned_write_flush_threshold') AS flush`,
  );
  await s.exec(`SET memory_limit = ${sqlText(limit)}`);
  await s.exec(`SET preserve_insertion_order = false`);
  await s.exec(`SET partitioned_write_flush_threshold = 65536`);
  let tmpChanged = false;
  try {
    await s.exec(`SET temp_directory = ${sqlText(path.join(os.tmpdir(), `coinlake-duckdb-spill-${process.pid}`))}`);
    tmpChanged = true;
  } catch {
    // The temp directory cannot change once used; the engine keeps its own.
  }
  return async () => {
    await s.exec(`SET memory_limit = ${sqlText(before.mem)}`).catch(() => undefined);
    await s.exec(`SET preserve_insertion_order = ${before.pio ? 'true' : 'false'}`).catch(() => undefined);
    await s.exec(`SET partitioned_write_flush_threshold = ${Number(before.flush)}`).catch(() => undefined);
    if (tmpChanged && before.tmp) await s.exec(`SET temp_directory = ${sqlText(before.tmp)}`).catch(() => undefined);
  };
}

/** Lists the files a COPY … PARTITION_BY wrote and names their final place: `curated/<table>/dt=…/<stem>[-i].parquet`. */
async function curatedFiles(lake: LocalLake, table: string, tempDir: string, stem: string): Promise<CuratedFile[]> {
  const out: CuratedFile[] = [];
  for (const part of await readdir(tempDir, { withFileTypes: true }).catch(() => [])) {
    if (!part.isDirectory()) continue;
    for (const f of await readdir(path.join(tempDir, part.name))) {
      const m = /_(\d+)\.parquet$/.exec(f);
      const suffix = m && m[1] !== '0' ? `-${m[1]}` : '';
      out.push({ temp: path.join(tempDir, part.name, f), tempDir, final: lake.resolve(['curated', table, part.name, `${stem}${suffix}.parquet`]) });
    }
  }
  return out;
}

/** COPY of a query's rows to Parquet partitioned by the table's lake grain, under a temporary directory of its curated folder. */
async function exportPartitioned(s: Session, lake: LocalLake, table: TableSpec, select: string, stem: string): Promise<CuratedFile[]> {
  const tempDir = path.join(lake.resolve(['curated', table.name]), `.tmp-${stem}`);
  await mkdir(tempDir, { recursive: true });
  await s.exec(`COPY (${select}) TO ${sqlText(tempDir)} (FORMAT parquet, PARTITION_BY (dt), FILENAME_PATTERN ${sqlText(`${stem}_{i}`)}, OVERWRITE_OR_IGNORE)`);
  return curatedFiles(lake, table.name, tempDir, stem);
}

const CANDLE_COLUMNS = OHLCV_COLUMNS.map((c) => c.name);

/**
 * Bulk merge settings of a file: open times were validated onto the interval's grid (so distinct times are counted
 * with a bitmap), and of two lines with the same candle the one with more trades, then more volume, is kept — a
 * candle only ever grows as trades arrive, so that is the later revision.
 */
function mergeOptions(p: Planned) {
  const fixed = p.interval !== '1w' && p.interval !== '1M';
  return { gridMicros: fixed ? intervalMs(p.interval) * 1000 : undefined, preferDescending: ['trade_count', 'volume_base', 'volume_quote'] };
}

/**
 * A file landed in the lake (curated Parquet under a temporary name, quarantine entries), ready to load. Landing
 * runs outside the warehouse transaction; `load` runs inside it.
 */
export interface Landing {
  curated: CuratedFile[];
  quarantine: QuarantineEntry[];
  /** Lines DuckDB rejected (malformed). */
  rejected: number;
  /** Rows that parsed but are not candles. */
  invalid: number;
  /** Puts the landed candles into the table; call inside the file's transaction. */
  load(): Promise<{ appended: number; load: LoadResult; repeated: number; series: AppendedSeries[] }>;
  close(): Promise<void>;
}

/** Thrown by the guarded landing query at the first row that is not a candle (then the file takes the slow path). */
const INVALID_ROW = 'coinlake: row is not a candle';

/** The rejects of a read, as quarantine entries, and how many lines they are. */
async function collectRejects(s: Session, table: string, p: Planned): Promise<{ entries: QuarantineEntry[]; lines: number }> {
  const rows = await s.query<RejectRow>(`SELECT line, column_idx, column_name, error_type, csv_line, error_message FROM ${table} ORDER BY line LIMIT ${MAX_ENTRIES * 4}`);
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(DISTINCT line) AS n FROM ${table}`);
  return { entries: rejectEntries(p.table.name, p.layout.file, rows), lines: Number(n) };
}

/**
 * DuckDB warehouse. Landing: DuckDB reads the CSV once and writes the file's candles as Parquet under a temporary
 * name in the curated lake; the query stops at the first row that parses but is not a candle (error()), and only
 * such a file is read again to land the good rows and set the others aside with their reasons. Loading: INSERT …
 * read_parquet, then mergeAppended settles the rows against those already there. No row passes through JS.
 */
export async function landInWarehouse(scope: RunScope, p: Planned, ctx: LoadContext, stem: string): Promise<Landing> {
  const s = scope.session;
  const t = p.table;
  const step = timer(scope, p.layout.file);
  const tempDir = path.join(scope.lake.resolve(['curated', t.name]), `.tmp-${stem}`);
  const tag = randomBytes(4).toString('hex');
  const scratch: string[] = [];
  const land = async (guarded: boolean) => {
    const rejects = { table: `cdd_rejects_${tag}_${scratch.length}`, scan: `cdd_scan_${tag}_${scratch.length}` };
    scratch.push(rejects.table, rejects.scan);
    const normalized = normalizedSql(p.layout, p.interval, readCsvSql(p.layout, rejects), Date.now());
    const where = guarded ? `CASE WHEN reason IS NULL THEN TRUE ELSE error(${sqlText(INVALID_ROW)}) END` : 'reason IS NULL';
    const select = `SELECT ${candleSelectSql(sqlText(p.exchange))}, ${sqlText(ctx.runId)} AS _run_id, TIMESTAMPTZ ${sqlText(ctx.loadedAt.toISOString())} AS _loaded_at,
        ${lakePartitionSql('make_timestamptz(us)', t.lakeGrain)} AS dt
      FROM (${normalized}) WHERE ${where}`;
    await rm(tempDir, { recursive: true, force: true });
    await mkdir(tempDir, { recursive: true });
    await s.exec(`COPY (${select}) TO ${sqlText(tempDir)} (FORMAT parquet, PARTITION_BY (dt), FILENAME_PATTERN ${sqlText(`${stem}_{i}`)}, OVERWRITE_OR_IGNORE)`);
    return rejects.table;
  };
  const dropScratch = async () => {
    for (const name of scratch.splice(0)) await s.exec(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
  };
  try {
    let rejectsTable: string;
    let invalid = 0;
    const quarantine: QuarantineEntry[] = [];
    try {
      rejectsTable = await land(true);
    } catch (err) {
      if (!errorMessage(err).includes(INVALID_ROW)) throw err;
      rejectsTable = await land(false);
      const rows = await s.query<InvalidRow & { total: number }>(
        `SELECT unix, symbol, open, high, low, close, volume_base, volume_quote, tradecount, reason, count(*) OVER () AS total
           FROM (${normalizedSql(p.layout, p.interval, readCsvSql(p.layout), Date.now())}) WHERE reason IS NOT NULL LIMIT ${MAX_ENTRIES}`,
      );
      invalid = Number(rows[0]?.total ?? 0);
      quarantine.push(...(await invalidEntries(t.name, p, rows.map(({ total: _t, ...r }) => r))));
    }
    const rejects = await collectRejects(s, rejectsTable, p);
    await dropScratch();
    const curated = await curatedFiles(scope.lake, t.name, tempDir, stem);
    step('land the file as Parquet');
    return {
      curated,
      quarantine: [...rejects.entries, ...quarantine],
      rejected: rejects.lines,
      invalid,
      async load() {
        let appended = 0;
        if (curated.length > 0) {
          const columns = [...CANDLE_COLUMNS, '_run_id', '_loaded_at'].map((c) => s.dialect.ident(c)).join(', ');
          appended = await s.exec(
            `INSERT INTO ${s.dialect.table(t.schema, t.name)} (${columns}) SELECT ${columns} FROM read_parquet(${sqlText(path.join(tempDir, '*', '*.parquet'))})`,
          );
        }
        step('load the Parquet into the table');
        const merged = await mergeAppended(s, t, { runId: ctx.runId, loadedAt: ctx.loadedAt }, mergeOptions(p));
        step('merge');
        return { appended, load: { inserted: merged.inserted, updated: merged.updated, deleted: merged.deleted }, repeated: merged.repeated, series: merged.series };
      },
      async close() {},
    };
  } catch (err) {
    await dropScratch();
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Other warehouses (PostgreSQL). Landing: an in-memory DuckDB reads and normalises the file (spilling to disk when
 * large), keeps one line per candle, and writes the Parquet. Loading: the candles go to the warehouse in batches
 * through stage() and write mode merge.
 */
export async function landThroughDuckdb(scope: RunScope, p: Planned, ctx: LoadContext, stem: string, memoryLimit: string): Promise<Landing> {
  const s = scope.session;
  const t = p.table;
  const duck = await duckdbDestination.open(':memory:');
  try {
    await tuneForImport(duck, memoryLimit);
    const rejectsNames = { table: 'cdd_rejects', scan: 'cdd_scan' };
    await duck.exec(
      `CREATE TABLE cdd AS SELECT ${candleSelectSql('$1')}, unix AS raw_unix, symbol AS raw_symbol, tradecount AS raw_tradecount, reason
         FROM (${normalizedSql(p.layout, p.interval, readCsvSql(p.layout, rejectsNames), Date.now())})`,
      [p.exchange],
    );
    const rejects = await collectRejects(duck, rejectsNames.table, p);
    const quarantine = [...rejects.entries];
    const [{ invalid }] = await duck.query<{ invalid: number }>(`SELECT count(reason) AS invalid FROM cdd`);
    if (Number(invalid) > 0) {
      const rows = await duck.query<InvalidRow>(
        `SELECT raw_unix AS unix, raw_symbol AS symbol, open, high, low, close, volume_base, volume_quote, raw_tradecount AS tradecount, reason
           FROM cdd WHERE reason IS NOT NULL LIMIT ${MAX_ENTRIES}`,
      );
      quarantine.push(...(await invalidEntries(t.name, p, rows)));
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
    const prefer = [...mergeOptions(p).preferDescending, 'open', 'high', 'low', 'close'].map((c) => `${c} DESC NULLS LAST`).join(', ');
    const repeated = await duck.exec(
      `DELETE FROM cdd WHERE rowid IN (SELECT rowid FROM (
         SELECT rowid, row_number() OVER (PARTITION BY exchange, symbol, ts ORDER BY ${prefer}, rowid DESC) AS rn FROM cdd WHERE reason IS NULL) WHERE rn > 1)`,
    );
    const [{ top }] = await duck.query<{ top: number | null }>(`SELECT max(rowid) AS top FROM cdd`);
    const appended = series.reduce((a, x) => a + Number(x.n), 0);
    return {
      curated,
      quarantine,
      rejected: rejects.lines,
      invalid: Number(invalid),
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
        };
      },
      close: () => duck.close(),
    };
  } catch (err) {
    await duck.close();
    throw err;
  }
}

/** Logs (debug) how long each step of a file took since the previous one. */
function timer(scope: RunScope, file: string): (what: string) => void {
  let last = Date.now();
  return (what) => {
    const now = Date.now();
    scope.log.debug({ file, step: what, ms: now - last }, 'import step');
    last = now;
  };
}
