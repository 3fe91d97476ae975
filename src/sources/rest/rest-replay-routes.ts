// Generic JSON APIs for the declarative REST source, served by the replay server: CoinGecko's /coins/markets
// (page-number paging, bare array) under /coingecko/api/v3, and the same records under /rest/<style>/markets with the
// other pagination styles — offset/limit, a cursor in the body, a Link header — plus an HTML page and a changed shape.
import { readFile } from 'node:fs/promises';
import { unitFraction } from '../../replay/deterministic-numbers.ts';
import { fixturesRoot, type ApiRecord } from '../../replay/recorded-fixtures.ts';
import { jsonResponse, type ReplayResponse } from '../../replay/replay-response.ts';

const HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body><h1>Checking your browser</h1></body></html>\n';

/** The generated CoinGecko market at 1-based rank (> 2), in the fixture's shape; every 3rd has no max supply. */
export function generatedGeckoMarket(rank: number): ApiRecord {
  const id = `coin-${rank}`;
  const price = Math.round(10 ** (unitFraction(id, 'exp') * 4) * 100) / 100;
  const supply = Math.round(1e6 + unitFraction(id, 'supply') * 1e9);
  const minute = String(rank % 60).padStart(2, '0');
  return {
    id,
    symbol: `c${rank}`,
    name: `Coin ${rank}`,
    image: `https://coin-images.example/${id}.png`,
    current_price: price,
    market_cap: Math.round(price * supply),
    market_cap_rank: rank,
    fully_diluted_valuation: null,
    total_volume: Math.round(price * supply * 0.05),
    high_24h: Math.round(price * 105) / 100,
    low_24h: Math.round(price * 95) / 100,
    price_change_24h: Math.round(price * (unitFraction(id, 'ch') - 0.5) * 10) / 100,
    price_change_percentage_24h: Math.round((unitFraction(id, 'ch') - 0.5) * 1000) / 100,
    market_cap_change_24h: 0,
    market_cap_change_percentage_24h: 0,
    circulating_supply: supply,
    total_supply: supply,
    max_supply: rank % 3 === 0 ? null : supply * 2,
    ath: price * 2,
    ath_change_percentage: -50,
    ath_date: '2021-11-10T14:24:19.604Z',
    atl: price / 10,
    atl_change_percentage: 900,
    atl_date: '2015-10-20T00:00:00.000Z',
    roi: null,
    last_updated: `2024-06-10T00:${minute}:00.000Z`,
  };
}

/** The two fixture markets (bitcoin, ethereum) then generated ones, `count` in all. */
export async function loadGeckoMarkets(count = 7): Promise<ApiRecord[]> {
  const fixture = JSON.parse(await readFile(new URL('formats/coingecko-coins-markets-usd.json', fixturesRoot), 'utf8')) as ApiRecord[];
  const all = fixture.slice(0, count);
  for (let rank = all.length + 1; rank <= count; rank++) all.push(generatedGeckoMarket(rank));
  return all;
}

function int(query: URLSearchParams, name: string, fallback: number, min = 0): number {
  const raw = query.get(name);
  const n = Number(raw);
  return raw === null || raw === '' || !Number.isInteger(n) || n < min ? fallback : n;
}

/** Records updated after `since` (ISO) when given: what an incremental REST job asks for. */
function since(records: ApiRecord[], query: URLSearchParams): ApiRecord[] {
  const after = query.get('updated_since');
  if (!after) return records;
  const t = Date.parse(after);
  return records.filter((r) => Date.parse(String(r.last_updated)) > t);
}

/** Answers `/coingecko/api/v3/…` (path without that prefix). */
export function routeCoingecko(markets: ApiRecord[], path: string, query: URLSearchParams): ReplayResponse {
  if (path.replace(/\/+$/, '') !== '/coins/markets') return jsonResponse(404, { error: 'Not Found' });
  if (!query.get('vs_currency')) return jsonResponse(400, { error: 'Missing parameter vs_currency' });
  const perPage = Math.min(int(query, 'per_page', 100, 1), 250);
  const page = int(query, 'page', 1, 1);
  return jsonResponse(200, markets.slice((page - 1) * perPage, page * perPage));
}

/** Answers `/rest/<style>/markets` (path without `/rest`); `origin` is the server's URL, for Link headers. */
export function routeRest(markets: ApiRecord[], path: string, query: URLSearchParams, origin: string): ReplayResponse {
  const records = since(markets, query);
  switch (path.replace(/\/+$/, '')) {
    case '/offset/markets': {
      const limit = Math.min(int(query, 'limit', 3, 1), 100);
      const offset = int(query, 'offset', 0);
      return jsonResponse(200, { result: { items: records.slice(offset, offset + limit) }, total: records.length });
    }
    case '/cursor/markets': {
      const size = 3;
      const start = query.get('cursor') ? Number(Buffer.from(String(query.get('cursor')), 'base64url').toString()) : 0;
      const next = start + size < records.length ? Buffer.from(String(start + size)).toString('base64url') : null;
      return jsonResponse(200, { data: records.slice(start, start + size), meta: { next_cursor: next } });
    }
    case '/link/markets': {
      const perPage = Math.min(int(query, 'per_page', 3, 1), 100);
      const page = int(query, 'page', 1, 1);
      const response = jsonResponse(200, records.slice((page - 1) * perPage, page * perPage));
      if (page * perPage < records.length) {
        const next = new URL('/rest/link/markets', origin);
        for (const [k, v] of query) next.searchParams.set(k, v);
        next.searchParams.set('page', String(page + 1));
        next.searchParams.set('per_page', String(perPage));
        response.headers = { link: `<${next.toString()}>; rel="next", <${origin}/rest/link/markets?page=1>; rel="first"` };
      }
      return response;
    }
    case '/html/markets':
      return { status: 200, contentType: 'text/html; charset=UTF-8', body: Buffer.from(HTML_PAGE) };
    case '/shape/markets':
      return jsonResponse(200, { data: { message: 'this endpoint moved' } });
  }
  return jsonResponse(404, { error: 'not found' });
}
