// What a source tells the conformance suite about each of its streams: how its pages were recorded, what the typed
// rows and the state after them must be, how to make a recorded response empty or drift, and the cases it skips.
import type { Source, StreamParams } from '../../core/source.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import type { ReplayOptions } from '../../replay/index.ts';
import type { Rewrite } from './exchange-server.ts';

/** The cases every stream runs; a stream or source skips one only with a reason. */
export const CASE_IDS = ['rows', 'primaryKey', 'state', 'paging', 'emptyPage', 'retryAfter', 'serverError', 'terminalStatus', 'malformedBody', 'drift'] as const;
export type CaseId = (typeof CASE_IDS)[number];
export type Skips = Partial<Record<CaseId, string>>;

/** How the recorder reads a stream from the replay server (src/replay/) to record its pages. */
export interface RecordingPlan {
  /** The source's base URL path on the replay server, e.g. `/v2`, `/binance`, `/coinlore/api`, `/evm`. */
  basePath: string;
  params?: StreamParams;
  /** ISO start and end of the window read. */
  window?: { start: string; end: string };
  /** Incremental streams: the window of a second read, from the first read's state (the rerun). */
  rerunWindow?: { start: string; end: string };
  /** Replay server options (e.g. a short EVM chain). */
  replay?: ReplayOptions;
}

/** One stream's expectations. */
export interface StreamConformance {
  stream: string;
  record: RecordingPlan;
  /** The table rows are typed for when the stream's own comes from the catalog (rest.records). */
  table?: TableSpec;
  /** The cursor column when the catalog sets it (rest.records' cursor_field); default the stream's. */
  cursor?: string;
  /** Exact number of typed rows the recorded pages give. */
  rows: number;
  /** Pages the read yields (more than one: a multi-page fixture whose paging is followed to the end). */
  pages: number;
  /** A few exact rows (any subset of columns, including the primary key), compared with the typed row of that key. */
  values: Row[];
  /** Source fields the recorded pages carry that no column maps (reported as drift even on a clean read). */
  unmappedFields?: string[];
  /** Expected source fields absent from some recorded records (NULL in their rows), reported as drift. */
  missingFields?: string[];
  /** Values of the recorded pages that fail their column's cast (NULL, quarantined); default 0. */
  quarantined?: number;
  /** Incremental streams: the state after the last page, exactly. */
  state?: unknown;
  /**
   * Incremental streams: the requests of the rerun from that state — GETs as path and query from the server root,
   * JSON-RPC POSTs as `path method(params)` per call.
   */
  rerunRequests?: string[];
  /** Only the rerun's requests matching this are compared (a JSON-RPC read's eth_getLogs, not its block lookups). */
  rerunRequestsMatching?: RegExp;
  /**
   * Retry-After of the 429 case in seconds (default 0.15): longer than any backoff of the stream's own client, so the
   * gap measured shows the header was waited out.
   */
  retryAfterSeconds?: number;
  /** Makes a recorded response an empty page; default: the first array in the body emptied. */
  empty?: Rewrite;
  /** Makes a recorded response malformed (valid JSON of the wrong shape); default `{"unexpected": true}`. */
  malformed?: Rewrite;
  /** Adds the field `conformance_new_field` to every record of a response; default: to the objects of the first array. */
  drift?: Rewrite;
  skip?: Skips;
}

/** A source's conformance: every stream it has, with what it skips and why. */
export interface SourceConformance {
  source: Source;
  streams: StreamConformance[];
  /** Cases every stream of this source skips, with the reason. */
  skip?: Skips;
}

/** The field the drift case adds to every record. */
export const NEW_FIELD = 'conformance_new_field';

/** The first array in a JSON value, depth first (the body itself when it is one), or undefined. */
function firstArray(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) {
      const found = firstArray(v);
      if (found) return found;
    }
  }
  return undefined;
}

/** Default `empty`: the first array in the body emptied (CoinCap's `data`, a bare array, `result.items`). */
export const emptyFirstArray: Rewrite = (response) => {
  const arr = firstArray(response);
  arr?.splice(0);
  return response;
};

/** Default `drift`: `conformance_new_field` added to every object of the first array in the body. */
export const driftFirstArray: Rewrite = (response) => {
  for (const r of firstArray(response) ?? []) if (r && typeof r === 'object' && !Array.isArray(r)) (r as Record<string, unknown>)[NEW_FIELD] = 'new';
  return response;
};

/** Default `malformed`: valid JSON of a shape no stream expects. */
export const unexpectedObject: Rewrite = () => ({ unexpected: true });
