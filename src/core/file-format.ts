// The file-import plug-in contract: a named file format (`coinlake import <format> <files…>`) that expands its
// arguments into files, plans each file (its table, series, what the file says about itself) and lands it in the
// lake and the warehouse, its SQL from the warehouse's dialect. The runner's file-import loop runs any format on the
// pipeline; the formats are listed in src/sources/file-format-registry.ts.
import type { Logger } from 'pino';
import type { AppendedSeries } from './append-merge.ts';
import type { CandleInterval } from './candle-interval.ts';
import type { LoadContext, LoadResult, Session } from './destination.ts';
import type { TableSpec } from './table.ts';
import type { CuratedFile } from '../lake/curated-writer.ts';
import type { LocalLake, QuarantineEntry } from '../lake/local-lake.ts';

/** What a file says about itself, kept in its result and the run row (e.g. its header style, exchange, interval). */
export type FileDescription = Readonly<Record<string, string | number | boolean>>;

/** A command-line option of a format (`--exchange <name>`), passed to `plan` under its camel-cased long name. */
export interface FileFormatOption {
  flags: string;
  description: string;
}

/** The values of a format's options as given on the command line (or by a caller), by camel-cased name. */
export type FileFormatOptions = Readonly<Record<string, string | undefined>>;

/** Where the run is: what a landing reads and writes through, and its log. */
export interface FileImportScope {
  session: Session;
  lake: LocalLake;
  log: Logger;
}

/** What a file's landing is given: the run, the lineage of its rows, its curated files' stem and the import's settings. */
export interface FileLandContext {
  scope: FileImportScope;
  /** Lineage of the file's rows: the run and a load time of its own. */
  load: LoadContext;
  /** Name stem of the file's curated Parquet (`<run id>-0001`). */
  stem: string;
  /** Memory limit of an in-process engine the landing opens (e.g. '256MB'). */
  memoryLimit: string;
  /** The warehouse works the file itself (FileFormat.landing said so); else the landing brings typed rows. */
  inWarehouse: boolean;
}

/** What loading one file did. */
export interface LandedFile {
  /** Rows given to the write mode (lines that parsed and are valid rows). */
  appended: number;
  load: LoadResult;
  /** Lines merged into another line of the file with the same key. */
  repeated: number;
  /** Per series: rows, first and last time (the import reports each series' gaps). */
  series: AppendedSeries[];
  /** Lines that did not parse. */
  rejected: number;
  /** Rows that parsed but are not valid rows. */
  invalid: number;
  /** The rejected and invalid lines, with line numbers and reasons (capped per file; the counts are not). */
  quarantine: QuarantineEntry[];
}

/**
 * One file on its way into the table and the lake. `load` runs inside the file's transaction, `afterCommit` after it
 * committed; `curated` lists the Parquet written so far under temporary names (published after the commit, removed
 * on failure).
 */
export interface ImportLanding {
  readonly curated: CuratedFile[];
  /** Puts the file's rows into the table and settles them. */
  load(): Promise<LandedFile>;
  /** True for a throw of load() after which the file's transaction runs once more (the first rolled back). */
  again?(err: unknown): boolean;
  /** Writes the curated Parquet that load() left for after the commit. */
  afterCommit(): Promise<void>;
  /** Always, after the commit or the failure. */
  close(): Promise<void>;
}

/** A file planned for import: where its rows go, and how to land it. */
export interface PlannedFile<D extends FileDescription = FileDescription> {
  /** Absolute path. */
  file: string;
  /** Size as stored (progress is counted in bytes). */
  bytes: number;
  table: TableSpec;
  /** The table holds time series on this grid: the import reports each landed series' gaps. */
  grid?: { timeColumn: string; interval: CandleInterval };
  /** What the file says about itself; its result and the run row keep it, after `file`. */
  description: D;
  land(ctx: FileLandContext): Promise<ImportLanding>;
}

/** A file-import plug-in: one registry line in src/sources/file-format-registry.ts. */
export interface FileFormat<D extends FileDescription = FileDescription> {
  /** Its name on the command line (`coinlake import <name> …`). */
  name: string;
  /** Who makes such files, for help and errors. */
  title: string;
  /** Connection name of its import runs in the run history. */
  connectionName: string;
  /** What its rows are called in the output (`candles`). */
  rowsNoun: string;
  help: {
    /** The command's description for this format. */
    usage: string;
    /** What the paths argument takes. */
    paths: string;
    options: FileFormatOption[];
  };
  /** The files the arguments name (sorted, absolute, without repeats); an argument naming none is an error. */
  expand(args: string[]): Promise<string[]>;
  /** Reads the start of a file and plans it; a file that is not of this format is an error naming it. */
  plan(file: string, options: FileFormatOptions): Promise<PlannedFile<D>>;
  /**
   * How this warehouse lands the format's files: the run row's label of the way, and whether the warehouse works the
   * files itself (then it is tuned for a bulk import while the import runs).
   */
  landing(session: Session): { path: string; inWarehouse: boolean };
  /** What the output line of a file says about it in parentheses (`current header`). */
  note(description: D): string;
}
