// CoinCap v3 serves the v2 shapes plus `"tokens": {}` on every asset (2025 capture), which the v3 routes add here.
import type { CoincapData } from './coincap-replay-routes.ts';

/** The data as /v3 serves it: each asset carries `tokens` (an empty object unless the record has one). */
export function v3View(data: CoincapData): CoincapData {
  return {
    ...data,
    collections: { ...data.collections, assets: data.collections.assets.map((a) => ('tokens' in a ? a : { ...a, tokens: {} })) },
  };
}
