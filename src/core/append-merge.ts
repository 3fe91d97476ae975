// Bulk loads the warehouse appends itself and then settles like write mode merge (Session.describeAppended /
// mergeAppended): the shapes both sides of the contract use.
import type { LoadResult } from './destination.ts';

/** The appended batch: the rows whose lineage is exactly this run id and load time. */
export interface AppendedBatch {
  runId: string;
  loadedAt: Date;
}

/** Per series (the key without the partition column): rows appended, distinct times, first and last time. */
export interface AppendedSeries {
  series: Record<string, string>;
  rows: number;
  distinct: number;
  first: Date;
  last: Date;
}

/** What settling the appended rows did. */
export interface AppendMergeResult extends LoadResult {
  /** Appended rows dropped because the batch held another row with the same key. */
  repeated: number;
  /** Appended rows dropped because the table already held the same values. */
  unchanged: number;
  series: AppendedSeries[];
}

/** What the caller knows about the batch that makes settling it cheaper. */
export interface AppendMergeOptions {
  /**
   * The partition column's values lie on a grid of this many µs (the caller validated it), so distinct values are
   * counted with a bitmap instead of a hash table.
   */
  gridMicros?: number;
  /**
   * When the batch repeats a key with different values, the row that sorts first by these columns (descending)
   * wins; default every compared column in table order. (Parallel bulk reads keep no line order to go by.)
   */
  preferDescending?: string[];
  /**
   * With gridMicros: every appended time lies in [loUs, hiUs] µs (the caller validated it), so the distinct times
   * are counted in the same pass as the other figures, with a bitmap over that range.
   */
  timeBounds?: { loUs: number; hiUs: number };
}

/** The appended batch before settling: its series, whether it repeats a key, and how many other rows fall in its series' time ranges. */
export interface AppendedShape {
  series: AppendedSeries[];
  repeatedKeys: boolean;
  overlap: number;
}
