// Bybit v5's market objects for the replayed spot markets: the envelope every answer wears, the instrument of
// /v5/market/instruments-info and the spot ticker of /v5/market/tickers, from each market's decimals and the
// generated ticker.
import { jsonResponse, type ReplayResponse } from '../../../replay/replay-response.ts';
import { decimalText, tickText } from './ccxt-replay-decimal.ts';
import { REPLAY_MARKETS, replayTicker, type ReplayMarket } from './ccxt-replay-series.ts';

/** Bybit's symbol of a replayed market: `BTCUSDT`. */
export const bybitSymbol = (m: ReplayMarket): string => `${m.base}${m.quote}`;

/** The replayed spot market with Bybit symbol `symbol`, or undefined. */
export function bybitMarket(symbol: string): ReplayMarket | undefined {
  return REPLAY_MARKETS.bybit.find((m) => bybitSymbol(m) === symbol);
}

/** A v5 answer: `{"retCode":0,"retMsg":"OK","result":…,"retExtInfo":{},"time":…}` (HTTP 200). */
export function bybitOk(result: unknown, nowMs: number): ReplayResponse {
  return jsonResponse(200, { retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: nowMs });
}

/** A v5 error: Bybit answers HTTP 200 (unless `status` says otherwise) with a non-zero retCode and an empty result. */
export function bybitError(retCode: number, retMsg: string, nowMs: number, status = 200): ReplayResponse {
  return jsonResponse(status, { retCode, retMsg, result: {}, retExtInfo: {}, time: nowMs });
}

/** The spot instrument of `m` as /v5/market/instruments-info?category=spot lists it (order-size bounds are constants). */
export function bybitSpotInstrument(m: ReplayMarket): Record<string, unknown> {
  return {
    symbol: bybitSymbol(m),
    baseCoin: m.base,
    quoteCoin: m.quote,
    innovation: '0',
    status: 'Trading',
    marginTrading: 'utaOnly',
    stTag: '0',
    lotSizeFilter: {
      basePrecision: tickText(m.amountDecimals),
      quotePrecision: tickText(8),
      minOrderQty: tickText(m.amountDecimals),
      maxOrderQty: '100000',
      minOrderAmt: '1',
      maxOrderAmt: '2000000',
    },
    priceFilter: { tickSize: tickText(m.priceDecimals) },
    riskParameters: { priceLimitRatioX: '0.05', priceLimitRatioY: '0.05' },
  };
}

/**
 * The spot ticker of `m` at `nowMs` (/v5/market/tickers?category=spot) from replayTicker: last, 24-hour open
 * (`prevPrice24h`), high, low, base volume, the change as a fraction, best bid and ask one tick around the last
 * price; the sizes at bid and ask are one average minute's volume of the day.
 */
export function bybitSpotTicker(m: ReplayMarket, nowMs: number): Record<string, unknown> | undefined {
  const t = replayTicker('bybit', m.symbol, nowMs);
  if (!t) return undefined;
  const d = m.priceDecimals;
  const size = decimalText(Math.max(t.baseVolume / 1440, 10 ** -m.amountDecimals), m.amountDecimals);
  return {
    symbol: bybitSymbol(m),
    bid1Price: decimalText(t.bid, d),
    bid1Size: size,
    ask1Price: decimalText(t.ask, d),
    ask1Size: size,
    lastPrice: decimalText(t.last, d),
    prevPrice24h: decimalText(t.open, d),
    price24hPcnt: ((t.last - t.open) / t.open).toFixed(4),
    highPrice24h: decimalText(t.high, d),
    lowPrice24h: decimalText(t.low, d),
    turnover24h: (t.baseVolume * t.last).toFixed(8),
    volume24h: decimalText(t.baseVolume, m.amountDecimals),
  };
}
