// CoinLore's API as the replay server answers it under /coinlore/api/…: bare arrays and id-keyed objects with
// CoinLore's mixed types, `/tickers/` paged by start/limit (limit silently capped at 100) with `info.coins_num`.
import type { CoinloreData } from './coinlore-replay-data.ts';
import { generatedMarkets, generatedSocial, legacyTicker } from './coinlore-replay-data.ts';
import type { ApiRecord } from '../../replay/recorded-fixtures.ts';
import { jsonResponse, type ReplayResponse } from '../../replay/replay-response.ts';

/** Largest page `/tickers/` serves. */
export const COINLORE_PAGE_LIMIT = 100;

export interface CoinloreSettings {
  /** Shape of `/ticker/` items: `current` (since 2024, default) or `legacy` (volume24 as a string, volume24_native). */
  tickerShape?: 'current' | 'legacy';
}

function nonNegative(query: URLSearchParams, name: string, fallback: number): number {
  const n = Number(query.get(name) ?? '');
  return query.get(name) === null || !Number.isInteger(n) || n < 0 ? fallback : n;
}

function ids(query: URLSearchParams, name = 'id'): string[] {
  return (query.get(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Answers one GET; `path` is what follows `/coinlore/api` (e.g. `/tickers/`). Unknown ids answer `[]`, as CoinLore does for an empty result. */
export function routeCoinlore(data: CoinloreData, path: string, query: URLSearchParams, settings: CoinloreSettings = {}): ReplayResponse {
  const route = path.replace(/\/+$/, '') || '/';
  const ticker = (id: string) => data.tickers.find((t) => String(t.id) === id);
  switch (route) {
    case '/global':
      return jsonResponse(200, [data.global]);
    case '/tickers': {
      const start = nonNegative(query, 'start', 0);
      const limit = Math.min(nonNegative(query, 'limit', COINLORE_PAGE_LIMIT), COINLORE_PAGE_LIMIT);
      return jsonResponse(200, { data: data.tickers.slice(start, start + limit), info: { coins_num: data.tickers.length, time: data.tickersTime } });
    }
    case '/ticker': {
      const items = ids(query).map(ticker).filter((t): t is ApiRecord => t !== undefined);
      if (settings.tickerShape !== 'legacy') return jsonResponse(200, items);
      return jsonResponse(200, items.map((t) => (String(t.id) === '90' ? data.legacyBitcoin : legacyTicker(t))));
    }
    case '/exchanges':
      return jsonResponse(200, data.exchanges);
    case '/exchange': {
      const [id] = ids(query);
      if (id === '5') return jsonResponse(200, data.binanceExchange);
      const e = id === undefined ? undefined : data.exchanges[id];
      if (!e) return jsonResponse(200, []);
      const pairs = data.tickers.slice(0, 3).map((t) => ({ base: t.symbol, quote: 'USD', volume: Number(t.volume24) / 1e6, price: Number(t.price_usd), price_usd: Number(t.price_usd), time: data.tickersTime }));
      return jsonResponse(200, { '0': { name: e.name, date_live: e.date_live ?? null, url: e.url }, pairs });
    }
    case '/coin/markets': {
      const [id] = ids(query);
      if (id === '90') return jsonResponse(200, data.bitcoinMarkets);
      const t = id === undefined ? undefined : ticker(id);
      return jsonResponse(200, t ? generatedMarkets(t, data.tickersTime) : []);
    }
    case '/coin/social_stats': {
      const [id] = ids(query);
      if (id === '90') return jsonResponse(200, data.bitcoinSocial);
      const t = id === undefined ? undefined : ticker(id);
      return jsonResponse(200, t ? generatedSocial(t) : []);
    }
  }
  return jsonResponse(404, { error: 'not found' });
}
