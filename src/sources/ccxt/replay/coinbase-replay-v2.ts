// Coinbase's public v2 (Coinbase App) endpoints ccxt's coinbase reads while loading markets: GET /v2/currencies
// (fiat), /v2/currencies/crypto and /v2/exchange-rates, for the replayed assets only. Errors are v2's
// `{"errors":[{"id","message"}]}`.
import { hashString } from '../../../replay/deterministic-numbers.ts';
import { jsonResponse, type ReplayResponse } from '../../../replay/replay-response.ts';
import { COINBASE_ASSET_NAMES } from './coinbase-replay-products.ts';
import { REPLAY_MARKETS, replayTicker } from './ccxt-replay-series.ts';

const FIAT = new Set(['USD', 'EUR', 'GBP']);

/** A Coinbase v2 error body with its status (`not_found`, `invalid_request`, `rate_limit_exceeded`, …). */
export function coinbaseV2Error(status: number, id: string, message: string): ReplayResponse {
  return jsonResponse(status, { errors: [{ id, message }] });
}

/** Every asset the replayed Coinbase markets use, fiat and crypto apart. */
function assets(): { fiat: string[]; crypto: string[] } {
  const all = [...new Set(REPLAY_MARKETS.coinbase.flatMap((m) => [m.base, m.quote]))].sort();
  return { fiat: all.filter((a) => FIAT.has(a)), crypto: all.filter((a) => !FIAT.has(a)) };
}

/** A stable UUID-shaped asset id per code (Coinbase's `asset_id`). */
function assetId(code: string): string {
  const hex = [0, 1, 2, 3].map((i) => hashString(`${code}:${i}`).toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** USD per one unit of `asset` at `nowMs`, from the replayed `asset/USD` ticker (or via BTC), or undefined. */
function usdPrice(asset: string, nowMs: number): number | undefined {
  if (asset === 'USD') return 1;
  const direct = replayTicker('coinbase', `${asset}/USD`, nowMs);
  if (direct) return direct.last;
  const viaBtc = replayTicker('coinbase', `${asset}/BTC`, nowMs);
  const btc = replayTicker('coinbase', 'BTC/USD', nowMs);
  return viaBtc && btc ? viaBtc.last * btc.last : undefined;
}

/** Answers a path below `/v2`, or undefined when it is not one of the public v2 endpoints served. */
export function coinbaseV2Answer(path: string, query: URLSearchParams, nowMs: number): ReplayResponse | undefined {
  const { fiat, crypto } = assets();
  if (path === '/v2/currencies') {
    return jsonResponse(200, { data: fiat.map((id) => ({ id, name: COINBASE_ASSET_NAMES[id] ?? id, min_size: '0.01' })) });
  }
  if (path === '/v2/currencies/crypto') {
    return jsonResponse(200, {
      data: crypto.map((code, i) => ({
        asset_id: assetId(code), code, name: COINBASE_ASSET_NAMES[code] ?? code, color: '#0052FF', sort_index: String(i + 1),
        exponent: 8, type: 'crypto', address_regex: '^.+$',
      })),
    });
  }
  if (path === '/v2/exchange-rates') {
    const currency = (query.get('currency') ?? 'USD').toUpperCase();
    const base = usdPrice(currency, nowMs);
    if (base === undefined) return coinbaseV2Error(400, 'invalid_request', `Invalid currency (${currency})`);
    const rates: Record<string, string> = {};
    for (const asset of [...fiat, ...crypto]) {
      const price = usdPrice(asset, nowMs);
      if (price !== undefined) rates[asset] = String(Number((base / price).toPrecision(12)));
    }
    return jsonResponse(200, { data: { currency, rates } });
  }
  return undefined;
}
