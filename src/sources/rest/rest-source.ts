// The declarative REST source: a stream defined wholly by an ingestion's params (see rest-config.ts) — URL template,
// query, records path, pagination (offset/limit, page number, cursor from the body, Link header), cursor field for
// incremental loads. Column details and primary key come from the catalog, like every other job's.
import { TerminalError } from '../../core/errors.ts';
import type { ReadContext, Source, Stream } from '../../core/source.ts';
import { epochToMs } from '../../core/time.ts';
import type { HttpResponse } from '../../http/http-client.ts';
import { redactUrl } from '../../http/redact.ts';
import { scanRecords } from '../json-record-slices.ts';
import { describeJson } from '../response-shape.ts';
import { restConfig, valueAtPath, type RestConfig } from './rest-config.ts';

/** State of an incremental REST job: the largest cursor_field value loaded (ms). */
export interface RestState {
  watermark: number;
}

function buildUrl(base: string, path: string, query: Record<string, string>): string {
  const u = new URL(/^https?:\/\//.test(path) ? path : base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`));
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * `<https://…?page=2>; rel="next", <…>; rel="last"` → the next URL as written; a relative one (RFC 8288's own
 * `</v1/items?page=2>`) is resolved by the caller against the URL that answered (see nextPageUrl).
 */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2])) return m[1];
  }
  return undefined;
}

/** The next page's absolute URL from a Link header of `response`; an invalid one is a TerminalError naming it. */
function nextPageUrl(response: HttpResponse, origin: string): string | undefined {
  const link = nextLink(response.headers.get('link'));
  if (link === undefined) return undefined;
  try {
    return new URL(link, response.url).toString();
  } catch {
    throw new TerminalError(`the Link header of ${origin} names an invalid next URL: "${redactUrl(link)}"`, {
      url: origin,
      hint: 'the server sent a Link header coinlake cannot follow; page with pagination offset, page or cursor instead',
    });
  }
}

/** The error of a body that is not JSON, naming the URL, its content type and how the body starts. */
function notJson(response: HttpResponse, origin: string): TerminalError {
  const type = response.headers.get('content-type') ?? 'unknown';
  const start = Buffer.from(response.body.subarray(0, 120)).toString('utf8').replace(/\s+/g, ' ').trim();
  if (/html/i.test(type) || /^\s*<(!doctype|html)/i.test(start)) {
    return new TerminalError(`${origin} answered an HTML page (content-type ${type}), not JSON: ${start}`, { url: origin, hint: 'the URL is wrong, or a proxy or bot check answered instead of the API' });
  }
  return new TerminalError(`${origin} answered something that is not JSON (content-type ${type}): ${start}`, { url: origin });
}

/** Parses a JSON body whole; HTML or other text is a TerminalError naming the URL, its content type and its start. */
function parseBody(response: HttpResponse, origin: string): unknown {
  const type = response.headers.get('content-type') ?? 'unknown';
  if (/html/i.test(type)) throw notJson(response, origin);
  try {
    return JSON.parse(Buffer.from(response.body).toString('utf8'));
  } catch {
    throw notJson(response, origin);
  }
}

/** The records of a body at the configured path; anything but an array there is a TerminalError naming the path. */
function recordsOf(json: unknown, cfg: RestConfig, origin: string): Record<string, unknown>[] {
  const at = valueAtPath(json, cfg.recordsPath);
  const where = cfg.recordsPath ? `records_path "${cfg.recordsPath}"` : 'the body (records_path is empty)';
  if (!at.found) {
    throw new TerminalError(`unexpected response from ${origin}: ${where} does not match — ${at.at ? `at "${at.at}" there is` : 'the body is'} ${describeJson(at.value)}`, {
      url: origin,
      field: cfg.recordsPath,
      hint: 'set records_path to the dot path of the records array in the response',
    });
  }
  if (!Array.isArray(at.value)) {
    throw new TerminalError(`unexpected response from ${origin}: expected an array of records at ${where}, got ${describeJson(at.value)}`, { url: origin, field: cfg.recordsPath });
  }
  return at.value as Record<string, unknown>[];
}

/** A body's records, in slices parsed as they are read (json-record-slices.ts), or all at once when it is not laid out plainly. */
interface BodyRecords {
  /** Records in the body (before any cursor filter). */
  count: number;
  /** The body with its records array emptied (or whole): where the cursor path is read. */
  envelope: unknown;
  slices(): Iterable<Record<string, unknown>[]>;
}

function bodyRecords(response: HttpResponse, cfg: RestConfig, origin: string): BodyRecords {
  // A cursor for the next page read from inside the records themselves needs them in the envelope: parsed whole.
  const cursorInRecords = cfg.pagination === 'cursor' && (cfg.recordsPath === '' || cfg.cursorPath === cfg.recordsPath || cfg.cursorPath.startsWith(`${cfg.recordsPath}.`));
  const html = /html/i.test(response.headers.get('content-type') ?? '');
  const scanned = html || cursorInRecords ? undefined : scanRecords(response.body, cfg.recordsPath, SLICE_RECORDS);
  if (!scanned) {
    // Not plainly laid out: JSON.parse of the whole body judges it, with the errors of a body read whole.
    const json = parseBody(response, origin);
    const records = recordsOf(json, cfg, origin);
    return { count: records.length, envelope: json, slices: () => [records] };
  }
  return {
    count: scanned.count,
    envelope: scanned.envelope,
    *slices() {
      const slices = scanned.slices();
      for (;;) {
        let next: IteratorResult<unknown[]>;
        try {
          next = slices.next();
        } catch {
          throw notJson(response, origin);
        }
        if (next.done) return;
        yield next.value as Record<string, unknown>[];
      }
    },
  };
}

/** Records of a page parsed and typed at a time (a 10,000-record slice of a 400,000-record page is about 4 MB of objects). */
const SLICE_RECORDS = 10_000;

/** A cursor_field value as ms, or undefined when it is not a time. */
function cursorMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return epochToMs(v);
  if (typeof v === 'string' && v !== '') {
    const n = /^\d+(\.\d+)?$/.test(v) ? epochToMs(Number(v)) : Date.parse(v);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

function sinceValue(ms: number, format: RestConfig['sinceFormat']): string {
  if (format === 'unix') return String(Math.floor(ms / 1000));
  if (format === 'unix_ms') return String(ms);
  return new Date(ms).toISOString();
}

const recordsStream: Stream<RestState> = {
  name: 'records',
  // Columns and key come from the ingestion's column details and primary_key.
  table: { schema: 'coinlake', name: 'rest_records', columns: [], primaryKey: [] },
  defaultWriteMode: 'merge',
  async *read(ctx: ReadContext<RestState>) {
    const cfg = restConfig(ctx.params);
    const watermark = ctx.state?.watermark;
    const fixed = { ...cfg.query };
    if (cfg.sinceParam && watermark !== undefined) fixed[cfg.sinceParam] = sinceValue(watermark, cfg.sinceFormat);
    let best = watermark;
    let cursor: string | undefined;
    let link: string | undefined;
    for (let page = 0; page < cfg.maxPages; page++) {
      const query = { ...fixed };
      if (cfg.pagination === 'offset') Object.assign(query, { [cfg.offsetParam]: String(page * cfg.pageSize), [cfg.limitParam]: String(cfg.pageSize) });
      if (cfg.pagination === 'page') Object.assign(query, { [cfg.pageParam]: String(cfg.firstPage + page), [cfg.sizeParam]: String(cfg.pageSize) });
      if (cfg.pagination === 'cursor' && cursor !== undefined) query[cfg.cursorParam] = cursor;
      const url = link ?? buildUrl(ctx.baseUrl, cfg.path, query);
      const origin = redactUrl(url);
      const response = await ctx.http.get(url, { signal: ctx.signal });
      const body = bodyRecords(response, cfg, origin);
      const count = body.count;
      const field = cfg.cursorField;
      // The page's records, a slice at a time; the cursor filter and the watermark follow them as they are read.
      const slices = function* (): Iterable<Record<string, unknown>[]> {
        for (let records of body.slices()) {
          if (field) {
            if (watermark !== undefined) records = records.filter((r) => (cursorMs(r?.[field]) ?? Infinity) > watermark);
            for (const r of records) {
              const t = cursorMs(r?.[field]);
              if (t !== undefined) best = Math.max(best ?? t, t);
            }
          }
          yield records;
        }
      };
      let all: Record<string, unknown>[] | undefined;
      yield {
        raw: response.body,
        rawGzip: response.gzipped,
        origin,
        slices,
        get records() {
          all ??= [...slices()].flat();
          return all;
        },
        get nextState() {
          return best === undefined ? undefined : { watermark: best };
        },
      };
      if (cfg.pagination === 'none' || count === 0) return;
      if ((cfg.pagination === 'offset' || cfg.pagination === 'page') && count < cfg.pageSize) return;
      if (cfg.pagination === 'cursor') {
        const next = valueAtPath(body.envelope, cfg.cursorPath);
        if (!next.found || next.value === null || next.value === '' || next.value === false) return;
        cursor = String(next.value);
      }
      if (cfg.pagination === 'link') {
        link = nextPageUrl(response, origin);
        if (!link) return;
      }
    }
    // max_pages reached: a cap (e.g. the top 1000 coins), not an error.
  },
};

/** The declarative REST source; its only stream, `rest.records`, is configured by the catalog entry. */
export const restSource: Source = {
  name: 'rest',
  defaultBaseUrl: 'http://127.0.0.1',
  rateLimitPerMinute: 60,
  variables: { baseUrl: 'COINLAKE_REST_URL' },
  // The replay server serves one REST API, CoinGecko's; a REST connection elsewhere needs COINLAKE_REST_URL.
  replay: { baseUrl: (serverUrl) => `${serverUrl}/coingecko/api/v3` },
  streams: [recordsStream],
};
