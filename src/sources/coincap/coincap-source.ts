// CoinCap (v2 layout, v3 with an API key): assets, exchanges, rates, markets, asset history.
import { TerminalError } from '../../core/errors.ts';
import type { JsonRecordsLayout, Page, ReadContext, Source, Stream, StreamParams } from '../../core/source.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { chunkWindow } from '../../core/time.ts';
import { redactUrl } from '../../http/redact.ts';
import { pollFeed } from '../../streaming/poll-feeds.ts';
import { coincapPricesFeed, coincapTradesFeed } from './coincap-feeds.ts';
import { parseListEnvelope } from './coincap-envelope.ts';
import { assetHistoryTable, assetsTable, exchangesTable, marketsTable, ratesTable } from './coincap-tables.ts';

export const COINCAP_V2_URL = 'https://api.coincap.io/v2';
export const COINCAP_V3_URL = 'https://rest.coincap.io/v3';
/** Largest page CoinCap serves (`limit` above it is a 400). */
export const COINCAP_MAX_LIMIT = 2000;

/** Milliseconds per history interval. */
export const HISTORY_INTERVALS: Record<string, number> = {
  m1: 60_000, m5: 300_000, m15: 900_000, m30: 1_800_000,
  h1: 3_600_000, h2: 7_200_000, h6: 21_600_000, h12: 43_200_000, d1: 86_400_000,
};

/** State of an incremental history stream: the last `time` committed. */
export interface HistoryState {
  watermark: number;
}

function buildUrl(base: string, path: string, query: Record<string, string | number | undefined>): string {
  const u = new URL(base.replace(/\/+$/, '') + path);
  for (const [k, val] of Object.entries(query)) if (val !== undefined) u.searchParams.set(k, String(val));
  return u.toString();
}

/** Where the records sit in a CoinCap page: `data`, each with the envelope's `timestamp` (see fetchPage). */
const ENVELOPE_LAYOUT: JsonRecordsLayout = { recordsKey: 'data', envelopeFields: { timestamp: 'timestamp' } };

/** A plain object (not null, not an array): the only records that get the envelope timestamp. */
function isRecord(r: unknown): r is Record<string, unknown> {
  return typeof r === 'object' && r !== null && !Array.isArray(r);
}

/** True when the table maps the envelope's `timestamp` (its snapshot time); asset history's points carry their own time. */
function mapsEnvelopeTimestamp(table: TableSpec): boolean {
  return table.columns.some((c) => (c.source ?? c.name) === 'timestamp');
}

/**
 * Fetches one envelope page; when `table` maps it, adds the envelope timestamp to every record as `timestamp` — in
 * place, as pages hold thousands of records nothing else refers to. A table that does not map it gets records as
 * sent (the envelope's timestamp is no field of theirs, so no drift). A value that is not a JSON object passes
 * unchanged, for the normalizer to quarantine as a record (response-shape.ts withField, without the copy).
 */
async function fetchPage<S>(ctx: ReadContext<S>, path: string, query: Record<string, string | number | undefined>, table: TableSpec): Promise<Page<S> & { count: number }> {
  const url = buildUrl(ctx.baseUrl, path, query);
  const safe = redactUrl(url);
  const { response, json } = await ctx.http.getJson(url, { signal: ctx.signal });
  const env = parseListEnvelope(json, safe);
  const stamp = mapsEnvelopeTimestamp(table);
  if (stamp) {
    const timestamp = env.timestamp ?? null;
    for (const r of env.data) if (isRecord(r)) r.timestamp = timestamp;
  }
  return { raw: response.body, rawGzip: response.gzipped, records: env.data, origin: safe, count: env.data.length, json: stamp ? ENVELOPE_LAYOUT : { recordsKey: 'data' } };
}

/** A stream served whole by one request. `prepare` rewrites its records (so the raw JSON no longer describes them). */
function singlePage(name: string, path: string, table: Stream['table'], prepare?: (r: Record<string, unknown>) => void): Stream {
  return {
    name,
    table,
    defaultWriteMode: 'merge',
    async *read(ctx) {
      const page = await fetchPage(ctx, path, {}, table);
      if (prepare) {
        page.records.filter(isRecord).forEach(prepare);
        delete page.json;
      }
      yield page;
    },
  };
}

/** A stream paged with limit/offset until a short page. A derive() that depends on the row keeps the JSON layout off. */
function paged(name: string, path: string, table: Stream['table'], derive?: Stream['derive']): Stream {
  return {
    name,
    table,
    defaultWriteMode: 'merge',
    derive,
    async *read(ctx) {
      const limit = Math.min(Number(ctx.params.limit ?? COINCAP_MAX_LIMIT), COINCAP_MAX_LIMIT);
      for (let offset = 0; ; offset += limit) {
        const page = await fetchPage(ctx, path, { limit, offset }, table);
        if (derive) delete page.json;
        yield page;
        if (page.count < limit) return;
      }
    },
  };
}

/** History requests kept in flight at once. */
const HISTORY_PREFETCH = 4;

/** Runs fn over items with up to `ahead` calls in flight, yielding results in item order. */
async function* orderedPrefetch<I, O>(items: I[], fn: (item: I) => Promise<O>, ahead: number): AsyncGenerator<O> {
  const inflight: Promise<O>[] = [];
  let next = 0;
  const fill = () => {
    while (inflight.length < ahead && next < items.length) {
      const p = fn(items[next++]);
      p.catch(() => {}); // observed when its turn comes; avoids an unhandled rejection meanwhile
      inflight.push(p);
    }
  };
  fill();
  while (inflight.length > 0) {
    const result = await inflight.shift()!;
    fill();
    yield result;
  }
}

/** Canonical `BASE-QUOTE` pair. */
function canonicalPair(base: unknown, quote: unknown): string | null {
  return typeof base === 'string' && typeof quote === 'string' ? `${base.toUpperCase()}-${quote.toUpperCase()}` : null;
}

const historyStream: Stream<HistoryState> = {
  name: 'asset_history',
  table: assetHistoryTable,
  defaultWriteMode: 'merge',
  cursor: 'time',
  stateNameDefaults: { asset: 'bitcoin', interval: 'h1' },
  // Its pages say the same in their JSON layout (`derived`), for warehouses that type them themselves.
  derive(row: Row, params: StreamParams) {
    row.asset_id = String(params.asset ?? 'bitcoin');
    row.interval = String(params.interval ?? 'h1');
  },
  async *read(ctx) {
    const asset = String(ctx.params.asset ?? 'bitcoin');
    const interval = String(ctx.params.interval ?? 'h1');
    const step = HISTORY_INTERVALS[interval];
    if (!step) throw new TerminalError(`unknown interval "${interval}": expected one of ${Object.keys(HISTORY_INTERVALS).join(', ')}`);
    if (!ctx.window) throw new TerminalError('asset_history needs a time window (--from, and optionally --to)');
    let start = ctx.window.start.getTime();
    if (ctx.state?.watermark !== undefined) start = Math.max(start, ctx.state.watermark + 1);
    const end = ctx.window.end.getTime();
    if (start >= end) return;
    // About 2,000 points per request keeps each response small at every interval.
    const chunk = step * 2000;
    let watermark = ctx.state?.watermark;
    const derived = { asset_id: asset, interval };
    const fetchWindow = async (w: { start: Date; end: Date }) => {
      const page = await fetchPage(ctx, `/assets/${encodeURIComponent(asset)}/history`, {
        interval,
        start: w.start.getTime(),
        end: w.end.getTime(),
      }, assetHistoryTable);
      // Points outside the window (a server that rounds it) are dropped; the layout says which elements those were.
      const kept: Record<string, unknown>[] = [];
      const skipped: number[] = [];
      page.records.forEach((r, i) => {
        if (isRecord(r) && typeof r.time === 'number' && (r.time < w.start.getTime() || r.time >= w.end.getTime())) skipped.push(i);
        else kept.push(r);
      });
      page.records = kept;
      page.json = { ...page.json!, skipped, derived };
      return page;
    };
    // Windows are independent: keep a few requests in flight (the client's rate limit still applies)
    // and hand pages on in window order, so the watermark only moves forward.
    for await (const page of orderedPrefetch(chunkWindow(new Date(start), new Date(end), chunk), fetchWindow, HISTORY_PREFETCH)) {
      for (const r of page.records) if (isRecord(r) && typeof r.time === 'number') watermark = Math.max(watermark ?? r.time, r.time);
      page.nextState = watermark === undefined ? undefined : { watermark };
      yield page;
    }
  },
};

/** The CoinCap source; the v3 base URL needs `Authorization: Bearer <COINCAP_API_KEY>`. */
export const coincapSource: Source = {
  name: 'coincap',
  defaultBaseUrl: COINCAP_V2_URL,
  keyedBaseUrl: COINCAP_V3_URL,
  rateLimitPerMinute: 200,
  examples: {
    job: 'coincap.assets',
    jobWithParams: 'coincap.asset_history --asset bitcoin --interval h1 --from 2024-01-01',
    connection: 'COINCAP_ASSET',
    catalogAsset: 'EXTERNAL_COINCAP_ASSETS',
    table: 'coincap_assets',
  },
  variables: { baseUrl: 'COINLAKE_COINCAP_URL', apiKey: 'COINCAP_API_KEY', wsUrl: 'COINLAKE_COINCAP_WS_URL' },
  // The replay server serves v2 at /v2 and, with the key it requires, v3 at /v3.
  replay: {
    baseUrl: (serverUrl, env) => (env.COINCAP_API_KEY ? `${serverUrl}/v3` : `${serverUrl}/v2`),
    serverOptions: (env) => ({ apiKey: env.COINCAP_API_KEY || undefined }),
  },
  // Websocket prices and trades; the assets and exchanges snapshots polled (every 60 s by default).
  feeds: () => [coincapPricesFeed, coincapTradesFeed, pollFeed(coincapSource, 'assets'), pollFeed(coincapSource, 'exchanges')],
  streams: [
    paged('assets', '/assets', assetsTable),
    singlePage('exchanges', '/exchanges', exchangesTable, (r) => {
      // The 2018 docs name the key `id`; captures since 2024 send `exchangeId`.
      if (r.exchangeId === undefined && r.id !== undefined) {
        r.exchangeId = r.id;
        delete r.id;
      }
    }),
    singlePage('rates', '/rates', ratesTable),
    paged('markets', '/markets', marketsTable, (row) => {
      row.pair = canonicalPair(row.base_symbol, row.quote_symbol);
    }),
    historyStream,
  ],
};
