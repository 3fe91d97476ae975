// The URL override on every exchange's urls.api shape (strings, nested objects, {hostname} templates), checked on
// ccxt's real exchange classes; how a job's symbols are read; and the exchange list repair knows without loading ccxt.
import { describe, expect, it } from 'vitest';
import { exchangeOrigin, overrideApiUrls } from './ccxt-url-override.ts';
import { canonicalSymbol, unifiedSymbol } from './ccxt-params.ts';
import { loadCcxt } from './ccxt-venue.ts';

const ORIGIN = 'http://127.0.0.1:9000/ccxt/x';

/** Every string in a nested urls.api value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

describe('overrideApiUrls', () => {
  it('replaces the origin of every entry, keeping the path ccxt appends', () => {
    const api = { public: 'https://api.kraken.com', v3: { rest: 'https://api.{hostname}/api/v3', list: ['https://x.io/a?b=1'] }, n: 3 };
    expect(overrideApiUrls(api, `${ORIGIN}/`)).toEqual({ public: ORIGIN, v3: { rest: `${ORIGIN}/api/v3`, list: [`${ORIGIN}/a?b=1`] }, n: 3 });
    expect(overrideApiUrls('https://api.kraken.com/0', ORIGIN)).toBe(`${ORIGIN}/0`);
  });

  it.each(['kraken', 'okx', 'coinbase', 'bybit', 'binance'])('leaves no URL of ccxt %s at its own host', async (id) => {
    const ccxt = await loadCcxt();
    const Ctor = (ccxt as unknown as Record<string, new () => { urls: { api: unknown } }>)[id];
    const own = strings(new Ctor().urls.api).filter((u) => /^https?:/.test(u));
    const moved = strings(overrideApiUrls(new Ctor().urls.api, ORIGIN)).filter((u) => /^https?:/.test(u));
    expect(moved.length).toBe(own.length);
    expect(moved.length).toBeGreaterThan(0);
    for (const u of moved) expect(u.startsWith(ORIGIN)).toBe(true);
  });
});

describe('exchangeOrigin', () => {
  it('takes the exchange\'s own variable, else the job URL with {exchange} filled in, else none', () => {
    expect(exchangeOrigin('kraken', 'http://r/ccxt/{exchange}', { COINLAKE_CCXT_KRAKEN_URL: 'http://k' })).toBe('http://k');
    expect(exchangeOrigin('okx', 'http://r/ccxt/{exchange}', { COINLAKE_CCXT_KRAKEN_URL: 'http://k' })).toBe('http://r/ccxt/okx');
    expect(exchangeOrigin('okx', '', {})).toBeUndefined();
  });
});

describe('symbols', () => {
  it('accepts BTC/USD and BTC-USD as the same market', () => {
    expect(unifiedSymbol('BTC/USD')).toBe('BTC/USD');
    expect(unifiedSymbol('btc-usd')).toBe('BTC/USD');
    expect(unifiedSymbol('BTC/USDT:USDT')).toBe('BTC/USDT:USDT');
    expect(unifiedSymbol('BTCUSD')).toBeUndefined();
    expect(canonicalSymbol('ETH/BTC')).toBe('ETH-BTC');
  });
});

describe('CCXT_EXCHANGE_IDS', () => {
  it('is the pinned ccxt\'s exchange list (refresh ccxt-exchange-ids.ts after upgrading ccxt)', async () => {
    const { CCXT_EXCHANGE_IDS } = await import('./ccxt-exchange-ids.ts');
    expect([...CCXT_EXCHANGE_IDS]).toEqual((await loadCcxt()).exchanges);
  });
});
