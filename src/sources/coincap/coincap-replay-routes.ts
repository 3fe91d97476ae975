// The CoinCap REST routes the replay server answers, shared by /v2 and /v3: paths are given
// here without the version prefix, e.g. '/assets/bitcoin/history'.
import { historyResponse, type HistorySettings } from './coincap-replay-history-route.ts';
import { page, parsePaging } from '../../replay/paging.ts';
import type { ApiRecord } from '../../replay/recorded-fixtures.ts';
import type { CollectionName } from './coincap-replay-fixtures.ts';
import { dataResponse, errorResponse, type ReplayResponse } from '../../replay/replay-response.ts';

export interface CoincapData extends HistorySettings {
  collections: Record<CollectionName, ApiRecord[]>;
}

const MARKET_FILTERS = ['exchangeId', 'baseId', 'quoteId', 'baseSymbol', 'quoteSymbol'] as const;

function findBy(records: ApiRecord[], id: string, ...keys: string[]): ApiRecord | undefined {
  return records.find((record) => keys.some((key) => record[key] === id));
}

/** Percent-decode a path segment; a malformed escape is kept as written (and will simply not match). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function notFound(id: string): ReplayResponse {
  return errorResponse(404, `${id} not found`);
}

function pagedResponse(records: ApiRecord[], query: URLSearchParams): ReplayResponse {
  const paging = parsePaging(query);
  return 'status' in paging ? paging : dataResponse(page(records, paging));
}

function listAssets(assets: ApiRecord[], query: URLSearchParams): ReplayResponse {
  let selected = assets;
  const ids = query.get('ids');
  if (ids) {
    const wanted = new Set(ids.split(',').map((id) => id.trim()));
    selected = selected.filter((asset) => wanted.has(String(asset.id)));
  }
  const search = query.get('search')?.toLowerCase();
  if (search) {
    selected = selected.filter(
      (asset) => String(asset.id).toLowerCase().includes(search) || String(asset.symbol).toLowerCase().includes(search),
    );
  }
  return pagedResponse(selected, query);
}

function listMarkets(markets: ApiRecord[], query: URLSearchParams): ReplayResponse {
  let selected = markets;
  for (const field of MARKET_FILTERS) {
    const wanted = query.get(field);
    if (wanted) selected = selected.filter((market) => market[field] === wanted);
  }
  const assetId = query.get('assetId');
  if (assetId) selected = selected.filter((m) => m.baseId === assetId || m.quoteId === assetId);
  const assetSymbol = query.get('assetSymbol');
  if (assetSymbol) selected = selected.filter((m) => m.baseSymbol === assetSymbol || m.quoteSymbol === assetSymbol);
  return pagedResponse(selected, query);
}

function assetRoute(data: CoincapData, id: string, rest: string[], query: URLSearchParams): ReplayResponse {
  const asset = findBy(data.collections.assets, id, 'id');
  if (!asset) return notFound(id);
  if (rest.length === 0) return dataResponse(asset);
  if (rest.length === 1 && rest[0] === 'markets') {
    return pagedResponse(data.collections.markets.filter((market) => market.baseId === id), query);
  }
  if (rest.length === 1 && rest[0] === 'history') return historyResponse(asset, query, data);
  return errorResponse(404, 'not found');
}

/** Answer one GET request; `path` excludes the /v2 or /v3 prefix. */
export function routeCoincap(data: CoincapData, path: string, query: URLSearchParams): ReplayResponse {
  const segments = path.split('/').filter((segment) => segment !== '').map(decodeSegment);
  const [collection, id, ...rest] = segments;
  const { assets, exchanges, rates, markets } = data.collections;
  switch (collection) {
    case 'assets':
      return id === undefined ? listAssets(assets, query) : assetRoute(data, id, rest, query);
    case 'exchanges':
      if (id === undefined) return dataResponse(exchanges);
      if (rest.length > 0) break;
      return dataOrNotFound(findBy(exchanges, id, 'exchangeId', 'id'), id);
    case 'rates':
      if (id === undefined) return dataResponse(rates);
      if (rest.length > 0) break;
      return dataOrNotFound(findBy(rates, id, 'id'), id);
    case 'markets':
      if (id === undefined) return listMarkets(markets, query);
      break;
  }
  return errorResponse(404, 'not found');
}

function dataOrNotFound(record: ApiRecord | undefined, id: string): ReplayResponse {
  return record ? dataResponse(record) : notFound(id);
}
