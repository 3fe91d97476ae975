// GET /api/v3/exchangeInfo as the replay server answers it: Binance's documented shape (timezone, serverTime,
// rateLimits, symbols with baseAsset/quoteAsset, precisions, PRICE_FILTER/LOT_SIZE/NOTIONAL filters) for the symbols
// the replay serves, so a client that loads markets first (ccxt's binance) can use the replayed klines and trades.
import { jsonResponse, type ReplayResponse } from '../../replay/replay-response.ts';

/** Weight of GET /api/v3/exchangeInfo (Binance spot). */
export const EXCHANGE_INFO_WEIGHT = 20;

const QUOTES = ['USDT', 'BTC'];

/** `BTCUSDT` → [`BTC`, `USDT`], by the quote assets the replay lists. */
function splitSymbol(symbol: string): [string, string] | undefined {
  const quote = QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length);
  return quote ? [symbol.slice(0, -quote.length), quote] : undefined;
}

/** The exchangeInfo body for `symbols`, `symbol=`/`symbols=` filtering as Binance does (400 -1121 for an unknown one). */
export function exchangeInfoResponse(query: URLSearchParams, symbols: ReadonlySet<string>, weightPerMinute: number, now: number): ReplayResponse {
  let wanted = [...symbols];
  const one = query.get('symbol');
  const many = query.get('symbols');
  if (one !== null || many !== null) {
    let asked: string[];
    try {
      asked = one !== null ? [one] : (JSON.parse(many ?? '[]') as string[]);
    } catch {
      return jsonResponse(400, { code: -1100, msg: "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'." });
    }
    const unknown = asked.find((s) => !symbols.has(s));
    if (unknown !== undefined) return jsonResponse(400, { code: -1121, msg: 'Invalid symbol.' });
    wanted = asked;
  }
  return jsonResponse(200, {
    timezone: 'UTC',
    serverTime: now,
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: weightPerMinute },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
      { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
    ],
    exchangeFilters: [],
    symbols: wanted.flatMap((symbol) => {
      const pair = splitSymbol(symbol);
      if (!pair) return [];
      const [baseAsset, quoteAsset] = pair;
      return [{
        symbol,
        status: 'TRADING',
        baseAsset,
        baseAssetPrecision: 8,
        quoteAsset,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        baseCommissionPrecision: 8,
        quoteCommissionPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        icebergAllowed: true,
        ocoAllowed: true,
        otoAllowed: true,
        quoteOrderQtyMarketAllowed: true,
        allowTrailingStop: true,
        cancelReplaceAllowed: true,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: '0.00000001', maxPrice: '1000000.00000000', tickSize: '0.00000001' },
          { filterType: 'LOT_SIZE', minQty: '0.00001000', maxQty: '9000.00000000', stepSize: '0.00001000' },
          { filterType: 'NOTIONAL', minNotional: '5.00000000', applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
        ],
        permissions: [],
        permissionSets: [['SPOT']],
        defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
        allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
      }];
    }),
  });
}

/** The USDⓈ-M (/fapi/v1) and COIN-M (/dapi/v1) futures exchangeInfo paths: the replay lists no futures (empty symbols). */
export const FUTURES_EXCHANGE_INFO_PATHS = new Set(['/fapi/v1/exchangeInfo', '/dapi/v1/exchangeInfo']);

/** A futures exchangeInfo with no symbols, in Binance's shape, so a client that loads every market type (ccxt) goes on. */
export function futuresExchangeInfoResponse(now: number): ReplayResponse {
  return jsonResponse(200, {
    timezone: 'UTC',
    serverTime: now,
    futuresType: 'U_MARGINED',
    rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 }],
    exchangeFilters: [],
    assets: [],
    symbols: [],
  });
}
