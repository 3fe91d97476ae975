// Finds the line numbers of rows DuckDB parsed but coinlake set aside (bad symbol, time off the grid…): DuckDB
// numbers only the lines it rejects, so the file is streamed, line by line as bytes, and matched on its first fields
// until every row wanted has its line.
import { bytesOf } from './cdd-line-scan.ts';

const NL = 0x0a;
const COMMA = 0x2c;
const CR = 0x0d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Key of a data line: its epoch and symbol fields as written (`1640823420000|BNB/USDT`). */
export function lineKey(unix: string | number | bigint, symbol: string | null): string {
  return `${String(unix).trim()}|${(symbol ?? '').trim()}`;
}

/**
 * Streams `file` (never held in memory) and returns the 1-based line numbers of the data lines whose key is in
 * `wanted`, in file order per key, at most as many per key as `wanted` says; it stops reading once every key has its
 * lines. `unixIndex`/`symbolIndex` are the columns of the epoch and the symbol; lines up to `headerLine` are skipped.
 */
export async function locateLines(file: string, wanted: Map<string, number>, cols: { unixIndex: number; symbolIndex: number; headerLine: number }): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  let missing = 0;
  for (const n of wanted.values()) missing += n;
  if (missing === 0) return out;
  const last = Math.max(cols.unixIndex, cols.symbolIndex);
  // Epochs wanted, as numbers: most lines are told apart by their epoch's digits alone, without making a string.
  const epochs = new Set<number>();
  for (const key of wanted.keys()) {
    const text = key.slice(0, key.indexOf('|'));
    if (/^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))) epochs.add(Number(text));
  }
  /** False when the epoch field at `from` is a whole number no key wants (undefined: not a plain whole number). */
  const epochWanted = (buf: Buffer, from: number, to: number): boolean | undefined => {
    let i = from;
    let field = 0;
    while (field < cols.unixIndex) {
      const c = buf.indexOf(COMMA, i);
      if (c < 0 || c >= to) return undefined;
      i = c + 1;
      field++;
    }
    const negative = buf[i] === MINUS;
    if (negative) i++;
    let v = 0;
    let digits = 0;
    for (; i < to; i++) {
      const b = buf[i];
      if (b === COMMA || b === CR) break;
      if (b < ZERO || b > NINE) return undefined;
      v = v * 10 + (b - ZERO);
      digits++;
    }
    if (digits === 0 || digits > 15) return undefined;
    return epochs.has(negative ? -v : v);
  };
  /** The line `buf[from, to)`: counts it when its key is wanted. */
  const take = (buf: Buffer, from: number, to: number, n: number) => {
    let unix: string | undefined;
    let symbol: string | undefined;
    let start = from;
    for (let f = 0; f <= last; f++) {
      let end = buf.indexOf(COMMA, start);
      if (end < 0 || end > to) {
        if (f < last) return; // fewer fields than the key needs
        end = to;
      }
      if (f === cols.unixIndex) unix = buf.toString('utf8', start, end);
      if (f === cols.symbolIndex) symbol = buf.toString('utf8', start, end);
      start = end + 1;
    }
    const key = lineKey(unix!, symbol!);
    const want = wanted.get(key);
    if (want === undefined) return;
    const list = out.get(key);
    if (list && list.length >= want) return;
    if (list) list.push(n);
    else out.set(key, [n]);
    missing--;
  };
  const input = bytesOf(file);
  let n = 0;
  let carry: Buffer | undefined;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
      carry = undefined;
      let i = 0;
      for (;;) {
        const j = buf.indexOf(NL, i);
        if (j < 0) {
          if (i < buf.length) carry = Buffer.from(buf.subarray(i));
          break;
        }
        n++;
        if (n > cols.headerLine && epochWanted(buf, i, j) !== false) take(buf, i, j, n);
        i = j + 1;
        if (missing === 0) return out;
      }
    }
    if (carry && ++n > cols.headerLine) take(carry, 0, carry.length, n);
    return out;
  } finally {
    input.destroy();
  }
}
