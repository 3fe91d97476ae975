// Finds the line numbers of rows DuckDB parsed but coinlake set aside (bad symbol, time off the grid…): DuckDB
// numbers only the lines it rejects, so the file is streamed once, line by line, and matched on its first fields.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** Key of a data line: its epoch and symbol fields as written (`1640823420000|BNB/USDT`). */
export function lineKey(unix: string | number | bigint, symbol: string | null): string {
  return `${String(unix).trim()}|${(symbol ?? '').trim()}`;
}

/**
 * Streams `file` (never held in memory) and returns the 1-based line numbers of the data lines whose key is in
 * `keys`, in file order per key. `unixIndex`/`symbolIndex` are the columns of the epoch and the symbol; lines up to
 * `headerLine` are skipped.
 */
export async function locateLines(file: string, keys: Set<string>, cols: { unixIndex: number; symbolIndex: number; headerLine: number }): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  if (keys.size === 0) return out;
  const input = /\.gz$/i.test(file) ? createReadStream(file).pipe(createGunzip()).setEncoding('utf8') : createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  const last = Math.max(cols.unixIndex, cols.symbolIndex);
  for await (const line of lines) {
    n++;
    if (n <= cols.headerLine) continue;
    const fields = line.split(',', last + 1);
    if (fields.length <= last) continue;
    const key = lineKey(fields[cols.unixIndex], fields[cols.symbolIndex]);
    if (!keys.has(key)) continue;
    const list = out.get(key) ?? [];
    list.push(n);
    out.set(key, list);
  }
  return out;
}
