// The lines of a CryptoDataDownload file that are set aside, as quarantine entries with line numbers and reasons:
// lines DuckDB's CSV read rejected (their reasons from its rejects table, read for the first MAX_ENTRIES of them
// only) and rows that parsed but are not candles (their line numbers found by streaming the file). Memory stays
// bounded whatever share of the file is bad: the bulk read skips malformed lines (counted as the data lines it did
// not parse), and no more than MAX_ENTRIES lines of each kind are ever looked at one by one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../../core/destination.ts';
import type { QuarantineEntry } from '../../lake/local-lake.ts';
import { lineKey, locateLines } from './cdd-line-locator.ts';
import { LineSegments } from './cdd-line-scan.ts';
import type { CddPlanned } from './cdd-plan.ts';
import { readCsvSql } from './cdd-sql.ts';

/** Quarantine entries kept per file and kind; beyond it only the count is kept (a file of garbage stays cheap). */
export const MAX_ENTRIES = 10_000;

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
function rejectEntriesOf(table: string, file: string, rows: RejectRow[]): QuarantineEntry[] {
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

/** A row that parsed but is not a candle, with the reason. */
export interface InvalidRow {
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

/**
 * Quarantine entries for rows that parsed but are not candles (at most MAX_ENTRIES of them), with their line numbers
 * found by streaming the file until every row's line is found. Rows sharing a key (epoch and symbol) take that
 * key's lines in file order.
 */
export async function invalidEntries(table: string, p: CddPlanned, rows: InvalidRow[]): Promise<QuarantineEntry[]> {
  const col = (role: string) => p.layout.columns.find((c) => c.role === role)!.index;
  const wanted = new Map<string, number>();
  for (const r of rows) {
    const k = lineKey(r.unix, r.symbol);
    wanted.set(k, (wanted.get(k) ?? 0) + 1);
  }
  const lines = await locateLines(p.layout.file, wanted, { unixIndex: col('unix'), symbolIndex: col('symbol'), headerLine: p.layout.headerLine });
  const taken = new Map<string, number>();
  return rows.map((r) => {
    const { reason, ...record } = r;
    const k = lineKey(r.unix, r.symbol);
    const i = taken.get(k) ?? 0;
    taken.set(k, i + 1);
    return { table, line: lines.get(k)?.[i], reason, record, origin: p.layout.file };
  });
}

let scans = 0;

/**
 * Reads `file` (the whole CDD file, or with `part` a segment of its data lines) storing DuckDB's rejects in a temp
 * table; returns the first `limit` rejected lines (one reject row per line, the first in line order) and how many
 * lines it rejected.
 */
async function scanRejects(s: Session, p: CddPlanned, limit: number, part?: { file: string }): Promise<{ rows: RejectRow[]; lines: number }> {
  const n = ++scans;
  const names = { table: `cdd_rejects_${process.pid}_${n}`, scan: `cdd_reject_scan_${process.pid}_${n}` };
  try {
    // Every column taken, so each line is typed as the bulk read types it; nothing kept but the rejects.
    await s.query(`SELECT count(COLUMNS(*)) FROM ${readCsvSql(s.dialect, p.layout, names, part)}`);
    // A line has at most one reject row per column and one for its shape: enough rows for `limit` lines. (A window
    // over the rejects table to keep one row per line fails inside DuckDB 1.5.)
    const rows = await s.query<RejectRow>(
      `SELECT line, column_idx, column_name, error_type, csv_line, error_message FROM ${names.table} ORDER BY line LIMIT ${limit * (p.layout.columns.length + 1)}`,
    );
    const [{ n: lines }] = await s.query<{ n: number }>(`SELECT count(DISTINCT line) AS n FROM ${names.table}`);
    return { rows: firstPerLine(rows, limit), lines: Number(lines) };
  } finally {
    await s.exec(`DROP TABLE IF EXISTS ${names.table}`).catch(() => undefined);
    await s.exec(`DROP TABLE IF EXISTS ${names.scan}`).catch(() => undefined);
  }
}

/** The first reject row of each line, for the first `limit` lines (`rows` in line order). */
function firstPerLine(rows: RejectRow[], limit: number): RejectRow[] {
  const out: RejectRow[] = [];
  for (const r of rows) {
    if (out.length > 0 && Number(out[out.length - 1].line) === Number(r.line)) continue;
    if (out.length === limit) break;
    out.push(r);
  }
  return out;
}

/**
 * Quarantine entries of the first lines DuckDB rejects (at most MAX_ENTRIES), given that the bulk read left
 * `rejected` of the file's `dataLines` unparsed. DuckDB's rejects table costs time and memory per rejected line, so
 * when there are more than MAX_ENTRIES the file is read again in segments of at most MAX_ENTRIES lines (sized by the
 * share of bad lines) until MAX_ENTRIES are found; otherwise the file is read once whole.
 */
export async function rejectEntries(s: Session, table: string, p: CddPlanned, rejected: number, dataLines: number): Promise<QuarantineEntry[]> {
  if (rejected <= 0) return [];
  if (rejected <= MAX_ENTRIES) return toEntries(table, p.layout.file, (await scanRejects(s, p, MAX_ENTRIES)).rows, 0);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cdd-rejects-'));
  const segments = new LineSegments(p.layout.file, p.layout.headerLine, dir);
  const entries: QuarantineEntry[] = [];
  try {
    while (entries.length < MAX_ENTRIES) {
      const need = MAX_ENTRIES - entries.length;
      const size = Math.min(MAX_ENTRIES, Math.ceil((need * dataLines * 1.25) / rejected) + 1024);
      const seg = await segments.next(size);
      if (!seg) break;
      const { rows } = await scanRejects(s, p, need, { file: seg.path });
      await rm(seg.path, { force: true });
      entries.push(...toEntries(table, p.layout.file, rows, seg.firstLine - 1));
    }
  } finally {
    await segments.close();
    await rm(dir, { recursive: true, force: true });
  }
  return entries;
}

/**
 * The rejected lines of the whole file counted from DuckDB's rejects table, with the first MAX_ENTRIES of them as
 * entries: for a file whose lines the bulk read did not number as the line count expects (it cannot tell rejects
 * by difference). Memory grows with the rejects here; no file seen so far takes this way.
 */
export async function rejectsByScan(s: Session, table: string, p: CddPlanned): Promise<{ entries: QuarantineEntry[]; lines: number }> {
  const { rows, lines } = await scanRejects(s, p, MAX_ENTRIES);
  return { entries: toEntries(table, p.layout.file, rows, 0), lines };
}

/**
 * How many lines DuckDB's bulk read rejected, and the entries of the first MAX_ENTRIES of them: `dataLines` (as
 * countDataLines counted them) less the `parsed` rows. Falls back to rejectsByScan when the difference is negative.
 */
export async function rejectsOf(s: Session, table: string, p: CddPlanned, dataLines: number, parsed: number): Promise<{ entries: QuarantineEntry[]; lines: number }> {
  const rejected = dataLines - parsed;
  if (rejected < 0) return rejectsByScan(s, table, p);
  return { entries: await rejectEntries(s, table, p, rejected, dataLines), lines: rejected };
}

/** Quarantine entries of reject rows (one per line), their line numbers moved by `offset`. */
function toEntries(table: string, file: string, rows: RejectRow[], offset: number): QuarantineEntry[] {
  return rejectEntriesOf(table, file, rows).map((e) => ({ ...e, line: e.line! + offset }));
}
