// The lines of a CryptoDataDownload file that are set aside, as quarantine entries with line numbers and reasons:
// lines DuckDB's CSV read rejected (its rejects table) and rows that parsed but are not candles (their line numbers
// found by streaming the file).
import type { Session } from '../../core/destination.ts';
import type { QuarantineEntry } from '../../lake/local-lake.ts';
import { lineKey, locateLines } from './cdd-line-locator.ts';
import type { CddPlanned } from './cdd-plan.ts';

/** Quarantine entries kept per file and kind; beyond it only the count is kept (a file of garbage stays cheap). */
export const MAX_ENTRIES = 100_000;

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

/** Quarantine entries for rows that parsed but are not candles, with their line numbers found by streaming the file. */
export async function invalidEntries(table: string, p: CddPlanned, rows: InvalidRow[]): Promise<QuarantineEntry[]> {
  const col = (role: string) => p.layout.columns.find((c) => c.role === role)!.index;
  const keys = new Set(rows.map((r) => lineKey(r.unix, r.symbol)));
  const lines = await locateLines(p.layout.file, keys, { unixIndex: col('unix'), symbolIndex: col('symbol'), headerLine: p.layout.headerLine });
  return rows.map((r) => {
    const { reason, ...record } = r;
    const line = lines.get(lineKey(r.unix, r.symbol))?.shift();
    return { table, line, reason, record, origin: p.layout.file };
  });
}

/** The rejects of a read (its rejects table on `s`), as quarantine entries, and how many lines they are. */
export async function collectRejects(s: Session, table: string, p: CddPlanned): Promise<{ entries: QuarantineEntry[]; lines: number }> {
  const rows = await s.query<RejectRow>(`SELECT line, column_idx, column_name, error_type, csv_line, error_message FROM ${table} ORDER BY line LIMIT ${MAX_ENTRIES * 4}`);
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(DISTINCT line) AS n FROM ${table}`);
  return { entries: rejectEntries(p.table.name, p.layout.file, rows), lines: Number(n) };
}
