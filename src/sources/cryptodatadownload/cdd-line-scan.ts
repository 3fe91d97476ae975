// Streaming a CryptoDataDownload file line by line without holding it, in bounded memory: how many data lines it has
// (as DuckDB's CSV read sees them: blank lines skipped), and its lines cut into segment files, so the lines DuckDB
// rejects can be told with their reasons from a part of the file rather than the whole of it.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

const NL = 0x0a;
const CR = 0x0d;

/** The file's bytes as read (gunzipped for a .csv.gz), in chunks of about 1 MB. */
export function bytesOf(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  return /\.gz$/i.test(file) ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
}

/**
 * Data lines of `file` after line `headerLine` (1-based): lines that are not blank (empty, or a lone `\r` before
 * the newline), the last one counted with or without a newline. DuckDB's CSV read skips blank lines and either
 * parses or rejects each of the others, so lines − rows parsed is the number of lines it rejected.
 */
export async function countDataLines(file: string, headerLine: number): Promise<number> {
  let line = 1;
  let lineBytes = 0;
  let last = -1;
  let data = 0;
  for await (const chunk of bytesOf(file) as AsyncIterable<Buffer>) {
    let i = 0;
    for (;;) {
      const j = chunk.indexOf(NL, i);
      if (j < 0) {
        if (chunk.length > i) {
          lineBytes += chunk.length - i;
          last = chunk[chunk.length - 1];
        }
        break;
      }
      const len = lineBytes + (j - i);
      const lastByte = j > i ? chunk[j - 1] : last;
      if (line > headerLine && (len > 1 || (len === 1 && lastByte !== CR))) data++;
      line++;
      lineBytes = 0;
      last = -1;
      i = j + 1;
    }
  }
  if (line > headerLine && (lineBytes > 1 || (lineBytes === 1 && last !== CR))) data++;
  return data;
}

/** A segment of a file's lines written to a file of its own. */
export interface LineSegment {
  /** Where the segment's lines are, as in the file (a plain text file). */
  path: string;
  /** 1-based line number in the original file of the segment's first line. */
  firstLine: number;
  /** Lines written (blank ones included, so a line's place in the segment maps back to the file). */
  lines: number;
}

/**
 * The lines of `file` after `headerLine`, written in turn to segment files under `dir` (`<dir>/segment-<n>.csv`,
 * each overwriting nothing else; the caller removes `dir`). Memory holds one chunk of the file at a time.
 */
export class LineSegments {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer | undefined;
  private line = 1;
  private count = 0;
  private done = false;

  constructor(
    file: string,
    private readonly headerLine: number,
    private readonly dir: string,
  ) {
    this.iterator = (bytesOf(file) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async chunk(): Promise<Buffer | undefined> {
    if (this.pending) {
      const c = this.pending;
      this.pending = undefined;
      return c;
    }
    if (this.done) return undefined;
    const r = await this.iterator.next();
    if (r.done) {
      this.done = true;
      return undefined;
    }
    return r.value;
  }

  /** Skips to the line after the header (once). */
  private async skipHeader(): Promise<void> {
    while (this.line <= this.headerLine) {
      const c = await this.chunk();
      if (!c) return;
      let i = 0;
      while (this.line <= this.headerLine) {
        const j = c.indexOf(NL, i);
        if (j < 0) break;
        this.line++;
        i = j + 1;
      }
      if (this.line > this.headerLine && i < c.length) this.pending = c.subarray(i);
    }
  }

  /** Writes up to `maxLines` next lines to a new segment file; undefined at the end of the file. */
  async next(maxLines: number): Promise<LineSegment | undefined> {
    await this.skipHeader();
    const firstLine = this.line;
    const path = `${this.dir}/segment-${++this.count}.csv`;
    let out: WriteStream | undefined;
    let lines = 0;
    /** The last byte written ends a line (or nothing was written). */
    let lineEnded = true;
    while (lines < maxLines) {
      const c = await this.chunk();
      if (!c) break;
      let i = 0;
      while (lines < maxLines) {
        const j = c.indexOf(NL, i);
        if (j < 0) break;
        lines++;
        i = j + 1;
      }
      const part = lines >= maxLines ? c.subarray(0, i) : c;
      if (lines >= maxLines && i < c.length) this.pending = c.subarray(i);
      if (part.length === 0) continue;
      out ??= createWriteStream(path);
      if (!out.write(part)) await once(out, 'drain');
      lineEnded = part[part.length - 1] === NL;
    }
    // The file's last line, without a newline.
    if (!lineEnded) lines++;
    this.line += lines;
    if (!out) return undefined;
    out.end();
    await once(out, 'close');
    return { path, firstLine, lines };
  }

  /** Stops reading the file. */
  async close(): Promise<void> {
    this.done = true;
    await this.iterator.return?.();
  }
}
