// The declarative REST source's settings, read from an ingestion's `params` (flat keys, so they fit the catalog's
// params and the meta tables): path template, query, records path, pagination style, cursor field.
import { TerminalError } from '../../core/errors.ts';
import type { StreamParams } from '../../core/source.ts';

export const PAGINATION_STYLES = ['none', 'offset', 'page', 'cursor', 'link'] as const;
export type PaginationStyle = (typeof PAGINATION_STYLES)[number];

export interface RestConfig {
  /** Path after the connection URL; `{name}` is replaced by the param `name`. */
  path: string;
  /** Fixed query parameters (`query.<name>` params). */
  query: Record<string, string>;
  /** Dot path of the records array in the body; '' → the body is the array. */
  recordsPath: string;
  pagination: PaginationStyle;
  pageSize: number;
  /** offset: `offset_param`/`limit_param`; page: `page_param`/`size_param`; cursor: `cursor_param`. */
  offsetParam: string;
  limitParam: string;
  pageParam: string;
  sizeParam: string;
  firstPage: number;
  /** cursor: dot path of the next cursor in the body; empty/null/absent ends the paging. */
  cursorPath: string;
  cursorParam: string;
  /** Pages read at most (a cap such as the top 1000 coins); default 1000. */
  maxPages: number;
  /** Incremental loads: the record field whose maximum becomes the watermark (a time, ISO or epoch). */
  cursorField?: string;
  /** Incremental loads: query parameter that sends the watermark, formatted by `sinceFormat`. */
  sinceParam?: string;
  sinceFormat: 'iso' | 'unix' | 'unix_ms';
}

function text(params: StreamParams, name: string, fallback: string): string {
  const v = params[name];
  return v === undefined || v === '' ? fallback : String(v);
}

function positive(params: StreamParams, name: string, fallback: number, min = 1): number {
  const v = params[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new TerminalError(`rest: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** Reads and checks the REST settings of a job's params; errors name the param and the accepted values. */
export function restConfig(params: StreamParams): RestConfig {
  const pagination = text(params, 'pagination', 'none') as PaginationStyle;
  if (!PAGINATION_STYLES.includes(pagination)) throw new TerminalError(`rest: pagination must be one of ${PAGINATION_STYLES.join(', ')}, got "${pagination}"`);
  if (params.path === undefined) throw new TerminalError('rest: the ingestion needs params.path (the path after the connection URL, e.g. /coins/markets)');
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (k.startsWith('query.') && v !== undefined) query[k.slice('query.'.length)] = String(v);
  const sinceFormat = text(params, 'since_format', 'iso');
  if (!['iso', 'unix', 'unix_ms'].includes(sinceFormat)) throw new TerminalError(`rest: since_format must be iso, unix or unix_ms, got "${sinceFormat}"`);
  const cfg: RestConfig = {
    path: fillTemplate(String(params.path), params),
    query,
    recordsPath: text(params, 'records_path', ''),
    pagination,
    pageSize: positive(params, 'page_size', 100),
    offsetParam: text(params, 'offset_param', 'offset'),
    limitParam: text(params, 'limit_param', 'limit'),
    pageParam: text(params, 'page_param', 'page'),
    sizeParam: text(params, 'size_param', 'per_page'),
    firstPage: positive(params, 'first_page', 1, 0),
    cursorPath: text(params, 'cursor_path', ''),
    cursorParam: text(params, 'cursor_param', 'cursor'),
    maxPages: positive(params, 'max_pages', 1000),
    cursorField: params.cursor_field === undefined ? undefined : String(params.cursor_field),
    sinceParam: params.since_param === undefined ? undefined : String(params.since_param),
    sinceFormat: sinceFormat as RestConfig['sinceFormat'],
  };
  if (pagination === 'cursor' && !cfg.cursorPath) throw new TerminalError('rest: pagination cursor needs params.cursor_path (where the next cursor is in the body, e.g. meta.next_cursor)');
  return cfg;
}

/** `/coins/{id}/tickers` with params {id: 'bitcoin'} → `/coins/bitcoin/tickers`; an unknown name is an error. */
export function fillTemplate(template: string, params: StreamParams): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TerminalError(`rest: path ${template} uses {${name}}, but the ingestion has no param ${name}`);
    return encodeURIComponent(String(v));
  });
}

/** The value at a dot path (`meta.next_cursor`, `result.items`, `data.0`); '' → the value itself. */
export function valueAtPath(json: unknown, path: string): { found: true; value: unknown } | { found: false; at: string; value: unknown } {
  if (path === '') return { found: true, value: json };
  let v = json;
  const keys = path.split('.');
  for (let i = 0; i < keys.length; i++) {
    if (v === null || typeof v !== 'object' || !(keys[i] in (v as object))) return { found: false, at: keys.slice(0, i).join('.'), value: v };
    v = (v as Record<string, unknown>)[keys[i]];
  }
  return { found: true, value: v };
}
