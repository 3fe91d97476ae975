// The lake on the local filesystem (./lake by default): raw pages, curated Parquet, quarantine, logs.
import { mkdir, readdir, rename, rm, writeFile, appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { constants as zlibConstants, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
import { confined, curatedPath, logPath, quarantinePath, rawPagePath } from './lake-paths.ts';

/** One quarantined value or record: what it was, where it came from and why it was set aside. */
export interface QuarantineEntry {
  table: string;
  field?: string;
  value?: unknown;
  record?: unknown;
  reason: string;
  origin?: string;
  line?: number;
}

/**
 * Appends `entries` to `file` as JSON lines, a thousand at a time: the text of tens of thousands of entries is never
 * held at once.
 */
export async function appendJsonLines(file: string, entries: readonly unknown[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 1000) {
    let text = '';
    for (const e of entries.slice(i, i + 1000)) text += JSON.stringify(e) + '\n';
    await appendFile(file, text);
  }
}

/** A lake rooted at a local directory. Every path it writes is confined to the root. */
export class LocalLake {
  readonly root: string;
  constructor(root = './lake') {
    this.root = path.resolve(root);
  }

  /** Absolute path of a lake-relative path (validated). */
  resolve(segments: string[]): string {
    return confined(this.root, ...segments);
  }

  /** Absolute path of a raw page. */
  rawPagePath(source: string, stream: string, day: Date, runId: string, page: number): string {
    return this.resolve(rawPagePath(source, stream, day, runId, page));
  }

  /**
   * Writes a raw page gzipped, overwriting a retry's earlier copy; returns the absolute path. `gzipped` (the same bytes
   * as received gzipped from the server) is stored as it is.
   */
  async writeRawPage(source: string, stream: string, day: Date, runId: string, page: number, bytes: Uint8Array, gzipped?: Uint8Array): Promise<string> {
    const file = this.resolve(rawPagePath(source, stream, day, runId, page));
    // Otherwise fast compression on libuv's thread pool (level 1: about 0.5 s of one core per 1M CoinCap history
    // points, a sixth of the text); raw pages are kept for lineage, not for size. Chunks of the page's size spare the
    // main thread a callback per 16 KB.
    const gz = gzipped ?? (await gzipAsync(bytes, { level: zlibConstants.Z_BEST_SPEED, chunkSize: Math.max(16 * 1024, Math.min(bytes.length, 4 * 1024 * 1024)) }));
    // The folder is created when a write finds it missing (once per run and day), not before every page.
    await writeFile(file, gz).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, gz);
    });
    return file;
  }

  /** Final and temporary path of a curated Parquet file; the temporary one is renamed on commit. */
  curatedTarget(table: string, day: string, runId: string): { final: string; temp: string } {
    const final = this.resolve(curatedPath(table, day, runId));
    return { final, temp: path.join(path.dirname(final), `.${path.basename(final)}.tmp`) };
  }

  async ensureDir(file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
  }

  /** Makes a curated file visible (after its run committed). */
  async publish(temp: string, final: string): Promise<void> {
    await mkdir(path.dirname(final), { recursive: true });
    await rename(temp, final);
  }

  /** Removes the temporary directories curated files were written to. */
  async discardTempDirs(files: { tempDir: string }[]): Promise<void> {
    for (const d of new Set(files.map((f) => f.tempDir))) await rm(d, { recursive: true, force: true });
  }

  /** Removes a file if present (a failed run's curated temp files). */
  async discard(file: string): Promise<void> {
    await rm(file, { force: true });
  }

  /** Appends quarantine entries as JSON lines; returns the file path. */
  async quarantine(table: string, runId: string, entries: QuarantineEntry[]): Promise<string | undefined> {
    if (entries.length === 0) return undefined;
    const file = this.resolve(quarantinePath(table, runId));
    await mkdir(path.dirname(file), { recursive: true });
    await appendJsonLines(file, entries);
    return file;
  }

  /** Path of a run's log file (its directory is created). */
  async logFile(runId: string): Promise<string> {
    const file = this.resolve(logPath(runId));
    await mkdir(path.dirname(file), { recursive: true });
    return file;
  }

  async readText(file: string): Promise<string> {
    return readFile(file, 'utf8');
  }

  async readBytes(file: string): Promise<Buffer> {
    return readFile(file);
  }

  /** Lake-relative path of a location this lake returned. */
  relative(location: string): string {
    return path.relative(this.root, location);
  }

  /** Directory a table's curated files of one batch are written in before they are published. */
  curatedWorkDir(table: string, stem: string): string {
    return path.join(this.resolve(['curated', table]), `.tmp-${stem}`);
  }

  /** Location of a curated file once published. */
  curatedFinal(table: string, partition: string, file: string): string {
    return this.resolve(['curated', table, partition, file]);
  }

  /** The run's log is written in place; nothing to do when it ends. Returns its location. */
  async finishLog(runId: string): Promise<string> {
    return this.resolve(logPath(runId));
  }

  /** Lake-relative paths of every file under lake-relative `segments`, sorted. */
  async list(segments: string[] = []): Promise<string[]> {
    const base = this.resolve(segments);
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)))
      .sort();
  }
}
