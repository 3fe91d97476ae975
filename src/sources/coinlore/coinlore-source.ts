// CoinLore (no key; about one request per second): tickers paged by start/limit, global, exchanges, one exchange's
// pairs, the markets and social stats of the top N coins, and single tickers (both /ticker/ shapes).
import { TerminalError } from '../../core/errors.ts';
import type { Page, ReadContext, Source, Stream, StreamParams } from '../../core/source.ts';
import type { HttpResponse } from '../../http/http-client.ts';
import { redactUrl } from '../../http/redact.ts';
import { pollFeed } from '../../streaming/poll-feeds.ts';
import { canonicalPair } from '../pair-symbol.ts';
import { withField } from '../response-shape.ts';
import {
  parseExchange,
  parseExchanges,
  parseGlobal,
  parseRecordArray,
  parseSocialStats,
  parseTickersPage,
  type CoinloreRecord,
} from './coinlore-responses.ts';
import { coinloreExchangesTable, coinloreGlobalTable, coinloreMarketsTable, coinloreSocialStatsTable, coinloreTickersTable } from './coinlore-tables.ts';

export const COINLORE_URL = 'https://api.coinlore.net/api';
/** Largest `limit` `/tickers/` serves. */
export const COINLORE_MAX_LIMIT = 100;
/** Coins whose markets / social stats are read when the job names none. */
export const COINLORE_DEFAULT_TOP = 25;

function buildUrl(base: string, path: string, query: Record<string, string | number | undefined> = {}): string {
  const u = new URL(base.replace(/\/+$/, '') + path);
  for (const [k, val] of Object.entries(query)) if (val !== undefined) u.searchParams.set(k, String(val));
  return u.toString();
}

async function getJson(ctx: ReadContext<unknown>, path: string, query?: Record<string, string | number | undefined>) {
  const url = buildUrl(ctx.baseUrl, path, query);
  const { response, json } = await ctx.http.getJson(url, { signal: ctx.signal });
  return { response, json, origin: redactUrl(url) };
}

/** Time of a response: its Date header (second resolution), else now. */
function responseTime(response: HttpResponse): Date {
  const at = Date.parse(response.headers.get('date') ?? '');
  return Number.isNaN(at) ? new Date() : new Date(at);
}

function asRecords(items: unknown[]): CoinloreRecord[] {
  return items as CoinloreRecord[];
}

/** Positive integer param, or the fallback. */
function intParam(params: StreamParams, name: string, fallback: number): number {
  const raw = params[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new TerminalError(`coinlore: ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Comma-separated ids param (`90,80`), or undefined. */
function idList(params: StreamParams, name: string): string[] | undefined {
  const raw = params[name];
  if (raw === undefined || raw === '') return undefined;
  const ids = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  if (!ids.every((id) => /^\d+$/.test(id))) throw new TerminalError(`coinlore: ${name} must be CoinLore coin ids such as 90,80, got ${JSON.stringify(raw)}`);
  return ids;
}

/**
 * The `/ticker/` shapes: items since 2024 equal `/tickers/` items; older ones send `volume24` as a string plus
 * `volume24_native` and no `volume24a`, which is then NULL (volume24_native stays in the raw lake).
 */
function currentTickerShape(r: CoinloreRecord): CoinloreRecord {
  if (r !== null && typeof r === 'object' && !('volume24a' in r) && 'volume24_native' in r) return { ...r, volume24a: null };
  return r;
}

/** CoinLore's marker for a number it does not know (a coin's supply or market cap): the source's NULL. */
export const COINLORE_UNKNOWN = '0?';
/** The numeric fields of a ticker, where CoinLore may write its unknown marker. */
const TICKER_NUMBERS = coinloreTickersTable.columns.filter((c) => c.type === 'double' || c.type === 'integer').map((c) => c.source ?? c.name);

/** A ticker with CoinLore's `"0?"` in a numeric field as null: the value is unknown, not invalid (nothing quarantined). */
function withoutUnknownMarkers(r: CoinloreRecord): CoinloreRecord {
  if (r === null || typeof r !== 'object') return r;
  let out: CoinloreRecord | undefined;
  for (const f of TICKER_NUMBERS) {
    if (r[f] === COINLORE_UNKNOWN) {
      out ??= { ...r };
      out[f] = null;
    }
  }
  return out ?? r;
}

/** Ids of the first `top` coins by rank, from `/tickers/` (paged by 100). */
async function topCoinIds(ctx: ReadContext<unknown>, top: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; ids.length < top; start += COINLORE_MAX_LIMIT) {
    const limit = Math.min(COINLORE_MAX_LIMIT, top - ids.length);
    const { json, origin } = await getJson(ctx, '/tickers/', { start, limit });
    const page = parseTickersPage(json, origin);
    for (const t of asRecords(page.data)) if (t && (typeof t.id === 'string' || typeof t.id === 'number')) ids.push(String(t.id));
    if (page.data.length < limit || start + limit >= page.coinsNum) break;
  }
  return ids.slice(0, top);
}

/** Coins a per-coin stream reads: `ids` (or the CLI's `--asset 90,80`) when given, else the top `top` (default 25) by rank. */
async function coinsOf(ctx: ReadContext<unknown>): Promise<string[]> {
  return idList(ctx.params, 'ids') ?? idList(ctx.params, 'asset') ?? (await topCoinIds(ctx, intParam(ctx.params, 'top', COINLORE_DEFAULT_TOP)));
}

const tickersStream: Stream = {
  name: 'tickers',
  table: coinloreTickersTable,
  defaultWriteMode: 'merge',
  /** Pages of `limit` (≤ 100) from start 0 until `info.coins_num` (or `max` coins) are read. */
  async *read(ctx) {
    const limit = Math.min(intParam(ctx.params, 'limit', COINLORE_MAX_LIMIT), COINLORE_MAX_LIMIT);
    const max = intParam(ctx.params, 'max', Number.MAX_SAFE_INTEGER);
    for (let start = 0; start < max; start += limit) {
      const { response, json, origin } = await getJson(ctx, '/tickers/', { start, limit: Math.min(limit, max - start) });
      const page = parseTickersPage(json, origin);
      const time = page.time ?? responseTime(response).getTime();
      yield { raw: response.body, rawGzip: response.gzipped, origin, records: asRecords(page.data).map((r) => withField(withoutUnknownMarkers(r), 'snapshot_time', time)) };
      if (page.data.length === 0 || start + limit >= page.coinsNum) return;
    }
  },
};

const tickerStream: Stream = {
  name: 'ticker',
  table: coinloreTickersTable,
  defaultWriteMode: 'merge',
  /** `/ticker/?id=90,80` (param `id`, `ids` or `asset`, default 90): either shape of the response. */
  async *read(ctx) {
    const ids = idList(ctx.params, 'id') ?? idList(ctx.params, 'ids') ?? idList(ctx.params, 'asset') ?? ['90'];
    const { response, json, origin } = await getJson(ctx, '/ticker/', { id: ids.join(',') });
    const items = parseRecordArray(json, origin, '[ {ticker}… ]');
    const time = responseTime(response).getTime();
    yield { raw: response.body, rawGzip: response.gzipped, origin, records: asRecords(items).map((r) => withField(withoutUnknownMarkers(currentTickerShape(r)), 'snapshot_time', time)) };
  },
};

const globalStream: Stream = {
  name: 'global',
  table: coinloreGlobalTable,
  defaultWriteMode: 'merge',
  async *read(ctx) {
    const { response, json, origin } = await getJson(ctx, '/global/');
    const global = parseGlobal(json, origin);
    yield { raw: response.body, rawGzip: response.gzipped, origin, records: [{ ...global, snapshot_time: responseTime(response).getTime() }] };
  },
};

const exchangesStream: Stream = {
  name: 'exchanges',
  table: coinloreExchangesTable,
  defaultWriteMode: 'merge',
  async *read(ctx) {
    const { response, json, origin } = await getJson(ctx, '/exchanges/');
    const time = responseTime(response).getTime();
    yield { raw: response.body, rawGzip: response.gzipped, origin, records: parseExchanges(json, origin).map((e) => ({ ...e, snapshot_time: time })) };
  },
};

const derivePair: Stream['derive'] = (row) => {
  row.pair = typeof row.base === 'string' && typeof row.quote === 'string' ? (canonicalPair(`${row.base}/${row.quote}`) ?? null) : null;
};

const exchangeStream: Stream = {
  name: 'exchange',
  table: coinloreMarketsTable,
  defaultWriteMode: 'merge',
  derive: derivePair,
  /** `/exchange/?id=` (param `id` or `asset`, default 5): the exchange's top pairs; they carry no USD volume (NULL). */
  async *read(ctx) {
    const id = String(ctx.params.id ?? ctx.params.asset ?? '5');
    if (!/^\d+$/.test(id)) throw new TerminalError(`coinlore.exchange: id must be a CoinLore exchange id such as 5, got ${JSON.stringify(id)}`);
    const { response, json, origin } = await getJson(ctx, '/exchange/', { id });
    const exchange = parseExchange(json, origin);
    const records = asRecords(exchange.pairs).map((p) => (p && typeof p === 'object' ? { volume_usd: null, ...p, name: exchange.name } : p));
    yield { raw: response.body, rawGzip: response.gzipped, origin, records };
  },
};

/** A stream that reads one request per coin. */
function perCoin(name: string, table: Stream['table'], path: string, toRecords: (json: unknown, origin: string, coinId: string) => CoinloreRecord[], derive?: Stream['derive'], snapshot = false): Stream {
  return {
    name,
    table,
    defaultWriteMode: 'merge',
    derive,
    async *read(ctx): AsyncGenerator<Page> {
      for (const id of await coinsOf(ctx)) {
        const { response, json, origin } = await getJson(ctx, path, { id });
        const time = responseTime(response).getTime();
        const records = toRecords(json, origin, id).map((r) => (snapshot ? withField(r, 'snapshot_time', time) : r));
        yield { raw: response.body, rawGzip: response.gzipped, origin, records };
      }
    },
  };
}

/** The CoinLore source: no key, 60 requests per minute by default (CoinLore asks for about one per second). */
export const coinloreSource: Source = {
  name: 'coinlore',
  defaultBaseUrl: COINLORE_URL,
  rateLimitPerMinute: 60,
  variables: { baseUrl: 'COINLAKE_COINLORE_URL' },
  replay: { baseUrl: (serverUrl) => `${serverUrl}/coinlore/api` },
  // The tickers and exchanges snapshots polled (every 60 s by default).
  feeds: () => [pollFeed(coinloreSource, 'tickers'), pollFeed(coinloreSource, 'exchanges')],
  streams: [
    tickersStream,
    tickerStream,
    globalStream,
    exchangesStream,
    exchangeStream,
    perCoin('coin_markets', coinloreMarketsTable, '/coin/markets/', (json, origin) => asRecords(parseRecordArray(json, origin, '[ {"name", "base", "quote", "price", …}… ]')), derivePair),
    perCoin('social_stats', coinloreSocialStatsTable, '/coin/social_stats/', (json, origin, id) => [parseSocialStats(json, origin, id)], undefined, true),
  ],
};
