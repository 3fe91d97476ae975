// A CryptoDataDownload CSV file before it is read: which files an argument names, the banner line, the header in
// either style (`Unix,Date,Symbol,…` or the older `unix,date,symbol,…`), the assets named by the volume columns,
// and the exchange, symbol and interval the file name tells (`Binance_BTCUSDT_minute.csv`).
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isCandleInterval, type CandleInterval } from '../../core/candle-interval.ts';
import { ConfigError, TerminalError } from '../../core/errors.ts';

/** Column roles of a CDD file; the header names them (any case). */
export type CddRole = 'unix' | 'date' | 'symbol' | 'open' | 'high' | 'low' | 'close' | 'volume_base' | 'volume_quote' | 'tradecount';

/** One header column: its position, the header text and its role (undefined for a column coinlake does not load). */
export interface CddColumn {
  index: number;
  header: string;
  role?: CddRole;
}

/** What the first lines of a file say. */
export interface CddLayout {
  file: string;
  /** Size of the file as stored (compressed, for a .csv.gz). */
  bytes: number;
  /** The file is gzip-compressed (`.csv.gz`); DuckDB and the line locator read it through gunzip. */
  gzip?: boolean;
  /** Lines before the header (1 with the banner, 0 without). */
  skipLines: number;
  /** 1-based line number of the header. */
  headerLine: number;
  /** `current` (`Unix,Date,Symbol,…`) or `legacy` (`unix,date,symbol,…`). */
  style: 'current' | 'legacy';
  columns: CddColumn[];
  /** Assets of the volume columns (`Volume BTC` → BTC), base first. */
  baseAsset?: string;
  quoteAsset?: string;
  /** Symbol of the first data row, as written (`BTC/USDT` or `BTCUSDT`). */
  firstSymbol?: string;
  /** From the file name `Exchange_SYMBOL_interval…csv`, lower-cased (`binance`). */
  exchange?: string;
  /** From the file name: `minute` → 1m, `1h`/`hour` → 1h, `d`/`day` → 1d. */
  interval?: CandleInterval;
  fileSymbol?: string;
}

const REQUIRED: CddRole[] = ['unix', 'symbol', 'open', 'high', 'low', 'close', 'volume_base', 'volume_quote'];
const BANNER = /cryptodatadownload|^\s*https?:\/\//i;
const FILE_NAME = /^([A-Za-z0-9]+)[ _]([A-Za-z0-9]+)_(minute|1min|min|1m|hour|1h|h|day|daily|d|1d)(?=[._\- ]|$)/i;
const NAME_INTERVAL: Record<string, CandleInterval> = { minute: '1m', '1min': '1m', min: '1m', '1m': '1m', hour: '1h', '1h': '1h', h: '1h', day: '1d', daily: '1d', d: '1d', '1d': '1d' };

/** Exchange, symbol and interval in a CDD file name, e.g. `Binance_BTCUSDT_minute.csv`; undefined parts when it does not say. */
export function parseCddFileName(file: string): { exchange?: string; symbol?: string; interval?: CandleInterval } {
  const m = FILE_NAME.exec(path.basename(file));
  if (!m) return {};
  return { exchange: m[1].toLowerCase(), symbol: m[2].toUpperCase(), interval: NAME_INTERVAL[m[3].toLowerCase()] };
}

function roleOf(name: string): CddRole | 'volume' | undefined {
  const n = name.trim().toLowerCase();
  if (n === 'unix' || n === 'unix timestamp' || n === 'timestamp') return 'unix';
  if (n === 'date') return 'date';
  if (n === 'symbol') return 'symbol';
  if (n === 'open' || n === 'high' || n === 'low' || n === 'close') return n;
  if (n === 'tradecount' || n === 'trade count' || n === 'trades') return 'tradecount';
  if (n.startsWith('volume')) return 'volume';
  return undefined;
}

/** Reads up to `max` bytes from the start of a file: enough for the banner, the header and the first data row. */
async function head(file: string, max = 64 * 1024): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const isGzip = (bytes: Buffer) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/**
 * Decompresses a whole .csv.gz once without keeping it, and returns its first `max` bytes. DuckDB reads a truncated
 * gzip file up to where it breaks without an error, so a file that does not decompress to its end is refused here,
 * before anything of it is imported.
 */
async function gzipHead(file: string, max = 64 * 1024): Promise<Buffer> {
  const start: Buffer[] = [];
  let kept = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (kept < max) {
        start.push(chunk.subarray(0, max - kept));
        kept += Math.min(chunk.length, max - kept);
      }
      cb();
    },
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), sink);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TerminalError(`${file} is not a complete gzip file (${reason}); nothing of it was imported`, {
      file,
      hint: 'the download or copy was cut off: fetch the file again (gzip -t checks it)',
    });
  }
  return Buffer.concat(start);
}

/** What separates the header's fields, when it is not the comma CryptoDataDownload files use. */
function otherDelimiter(header: string): string | undefined {
  if (header.includes(',')) return undefined;
  return [';', '\t', '|'].find((d) => header.includes(d));
}

/** Reads the banner, header and first data row of a CDD file; throws a TerminalError naming the file when it is not one. */
export async function sniffCddFile(file: string): Promise<CddLayout> {
  const bytes = (await stat(file)).size;
  if (bytes === 0) throw new TerminalError(`${file} is empty`, { file, hint: 'a CryptoDataDownload file starts with a banner line and a header; remove the file from the arguments' });
  const start = await head(file);
  const gzip = isGzip(start);
  if (gzip && !/\.gz$/i.test(file)) {
    throw new TerminalError(`${file} is gzip-compressed but not named .gz`, { file, hint: `rename it to ${path.basename(file)}.gz (or gunzip it)` });
  }
  const text = gzip ? await gzipHead(file) : start;
  /** The head is the whole file: no data line in it means none at all. */
  const whole = text.length < 64 * 1024;
  const lines = text.toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
  const skipLines = BANNER.test(lines[0] ?? '') ? 1 : 0;
  const headerText = lines[skipLines] ?? '';
  const delimiter = otherDelimiter(headerText);
  if (delimiter) {
    throw new TerminalError(`${file} separates its fields with ${JSON.stringify(delimiter)} (line ${skipLines + 1}: "${headerText.slice(0, 120)}"); CryptoDataDownload files use ","`, {
      file,
      hint: 'convert the file to comma-separated values first',
    });
  }
  const names = headerText.split(',');
  const columns: CddColumn[] = [];
  const volumes: CddColumn[] = [];
  for (const [index, header] of names.entries()) {
    const role = roleOf(header);
    if (role === 'volume') {
      const col: CddColumn = { index, header };
      volumes.push(col);
      columns.push(col);
    } else {
      columns.push({ index, header, role });
    }
  }
  if (volumes.length >= 1) volumes[0].role = 'volume_base';
  if (volumes.length >= 2) volumes[1].role = 'volume_quote';
  const have = new Set(columns.map((c) => c.role));
  const missing = REQUIRED.filter((r) => !have.has(r));
  if (missing.length) {
    throw new TerminalError(`${file} does not look like a CryptoDataDownload file: line ${skipLines + 1} "${headerText.slice(0, 120)}" lacks ${missing.join(', ')}`, {
      file,
      hint: 'expected a banner line, then a header such as Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount',
    });
  }
  const asset = (c?: CddColumn) => c?.header.trim().replace(/^volume[\s_]*/i, '').toUpperCase() || undefined;
  const symbolIndex = columns.find((c) => c.role === 'symbol')!.index;
  const firstData = lines.slice(skipLines + 1).find((l) => l.trim() !== '');
  if (firstData === undefined && whole) {
    throw new TerminalError(`${file} has a header but no data lines`, { file, hint: 'remove the file from the arguments' });
  }
  const fromName = parseCddFileName(file);
  return {
    file,
    bytes,
    ...(gzip ? { gzip } : {}),
    skipLines,
    headerLine: skipLines + 1,
    style: /^unix$/.test(names[columns.find((c) => c.role === 'unix')!.index].trim()) ? 'legacy' : 'current',
    columns,
    baseAsset: asset(volumes[0]),
    quoteAsset: asset(volumes[1]),
    firstSymbol: firstData?.split(',')[symbolIndex]?.trim() || undefined,
    exchange: fromName.exchange,
    interval: fromName.interval,
    fileSymbol: fromName.symbol,
  };
}

function globRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/**
 * The CSV files the arguments name: a file as is, a directory's `*.csv` files, or a pattern with `*`/`?` in its
 * last segment (`data/Binance_*_minute.csv`). Sorted, without repeats; an argument that names nothing is an error.
 */
export async function expandCddArguments(args: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const arg of args) {
    if (/[*?]/.test(path.dirname(arg))) throw new ConfigError(`"${arg}": wildcards are allowed in the file name only`, { hint: 'e.g. data/Binance_*_minute.csv' });
    const found: string[] = [];
    if (/[*?]/.test(path.basename(arg))) {
      const dir = path.dirname(arg);
      const re = globRegExp(path.basename(arg));
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isFile() && re.test(e.name)) found.push(path.join(dir, e.name));
    } else {
      const st = await stat(arg).catch(() => undefined);
      if (st?.isDirectory()) {
        for (const e of await readdir(arg, { withFileTypes: true })) if (e.isFile() && /\.csv(\.gz)?$/i.test(e.name)) found.push(path.join(arg, e.name));
      } else if (st?.isFile()) {
        found.push(arg);
      }
    }
    if (found.length === 0) throw new ConfigError(`no CSV file found for "${arg}"`, { hint: 'name a file, a directory of .csv files, or a pattern such as data/*.csv' });
    for (const f of found) out.add(path.resolve(f));
  }
  return [...out].sort();
}

/** The candle interval named on the command line or in the file name; default 1m. */
export function cddInterval(layout: CddLayout, override?: string): CandleInterval {
  if (override !== undefined) {
    if (!isCandleInterval(override)) throw new ConfigError(`unknown candle interval "${override}"`, { hint: 'use 1m, 1h or 1d' });
    return override;
  }
  return layout.interval ?? '1m';
}
