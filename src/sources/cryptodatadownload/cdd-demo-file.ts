// A small CryptoDataDownload minute file for `coinlake demo`: written in the current layout (banner, `Unix,Date,…`
// header, newest line first) from a deterministic random walk, so the demo imports a CDD file without a download.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { unitFraction } from '../../replay/deterministic-numbers.ts';

const MINUTE = 60_000;

/** What to write: the exchange and pair (file `<Exchange>_<BASE><QUOTE>_minute.csv`), the minutes and the last close. */
export interface DemoCddFile {
  exchange: string;
  base: string;
  quote: string;
  /** First minute (inclusive) and end (exclusive), unix ms on the minute grid. */
  fromMs: number;
  toMs: number;
  /** Close of the last minute; the walk runs backwards from it. */
  lastClose: number;
  /** Per-minute volatility of the log price. Default 0.0008 (about 3 % a day). */
  minuteVolatility?: number;
}

/** A standard normal value from two hashed uniforms (Box–Muller), a pure function of its key. */
function normal(key: string): number {
  const u = Math.max(unitFraction(key, 'cdd-demo-u'), 1e-12);
  const v = unitFraction(key, 'cdd-demo-v');
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The file's lines (banner, header, then one per minute, newest first). */
export function demoCddLines(f: DemoCddFile): string[] {
  const sigma = f.minuteVolatility ?? 0.0008;
  const pair = `${f.base}${f.quote}`;
  const count = Math.max(0, Math.floor((f.toMs - f.fromMs) / MINUTE));
  const decimals = f.lastClose >= 1000 ? 2 : 6;
  const rows: string[] = [];
  let close = f.lastClose;
  for (let i = count - 1; i >= 0; i--) {
    const t = f.fromMs + i * MINUTE;
    const key = `${pair}:${t}`;
    const open = close * Math.exp(-sigma * normal(key));
    const wick = Math.abs(sigma * normal(`${key}:wick`));
    const high = Math.max(open, close) * (1 + wick / 2);
    const low = Math.min(open, close) * (1 - wick / 2);
    const volumeBase = 0.5 + 20 * unitFraction(key, 'cdd-demo-volume');
    const date = new Date(t).toISOString().slice(0, 19).replace('T', ' ');
    rows.push(
      [t, date, pair, open.toFixed(decimals), high.toFixed(decimals), low.toFixed(decimals), close.toFixed(decimals), volumeBase.toFixed(8), (volumeBase * close).toFixed(6), 1 + Math.floor(volumeBase * 100)].join(','),
    );
    close = open;
  }
  return ['https://www.CryptoDataDownload.com', `Unix,Date,Symbol,Open,High,Low,Close,Volume ${f.base},Volume ${f.quote},tradecount`, ...rows];
}

/** Writes the file into `dir` (created if needed) and returns its path. */
export async function writeDemoCddFile(dir: string, f: DemoCddFile): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${f.exchange}_${f.base}${f.quote}_minute.csv`);
  await writeFile(file, demoCddLines(f).join('\n') + '\n');
  return file;
}
