// OKX's names for the replayed markets and its reference-data shapes (API v5): the SPOT instruments of
// GET /api/v5/public/instruments and the tickers of /api/v5/market/tickers, rendered from ccxt-replay-series.ts.
// OKX sends every number as a string without trailing zeros ("42000.1", "0.00001").
import { MINUTE_MS, REPLAY_HISTORY_START_MS, REPLAY_MARKETS, replayCandle, replayTicker, replayTrades, type ReplayMarket } from './ccxt-replay-series.ts';

/** A replayed market under OKX's name (`instId`, e.g. BTC-USDT). */
export interface OkxInstrument {
  market: ReplayMarket;
  instId: string;
}

/** The replayed OKX spot instruments, in REPLAY_MARKETS order. */
export const OKX_INSTRUMENTS: OkxInstrument[] = REPLAY_MARKETS.okx.map((market) => ({ market, instId: `${market.base}-${market.quote}` }));

/** The instrument an `instId` names (OKX ids are upper case and exact), or undefined. */
export function findOkxInstrument(instId: string | null): OkxInstrument | undefined {
  return OKX_INSTRUMENTS.find((i) => i.instId === instId);
}

/** `value` with at most `decimals` decimals as OKX prints it: no exponent, no trailing zeros. */
export function okxNumber(value: number, decimals: number): string {
  const fixed = value.toFixed(decimals);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

export const okxPrice = (i: OkxInstrument, value: number): string => okxNumber(value, i.market.priceDecimals);
export const okxSize = (i: OkxInstrument, value: number): string => okxNumber(value, i.market.amountDecimals);
/** A quote-currency amount (price × size) to the precision both carry. */
export const okxQuote = (i: OkxInstrument, value: number): string => okxNumber(value, i.market.priceDecimals + i.market.amountDecimals);

/**
 * One SPOT instrument as /api/v5/public/instruments lists it. The size limits are OKX's usual spot values; the
 * minimum order size is one lot here (OKX's real minimums differ per instrument).
 */
export function okxInstrument(i: OkxInstrument): object {
  const lot = okxSize(i, 10 ** -i.market.amountDecimals);
  return {
    alias: '',
    auctionEndTime: '',
    baseCcy: i.market.base,
    category: '1',
    ctMult: '',
    ctType: '',
    ctVal: '',
    ctValCcy: '',
    expTime: '',
    instFamily: '',
    instId: i.instId,
    instType: 'SPOT',
    lever: '',
    listTime: String(REPLAY_HISTORY_START_MS),
    lotSz: lot,
    maxIcebergSz: '9999999999',
    maxLmtAmt: '20000000',
    maxLmtSz: '9999999999',
    maxMktAmt: '1000000',
    maxMktSz: '1000000',
    maxStopSz: '1000000',
    maxTriggerSz: '9999999999',
    maxTwapSz: '9999999999',
    minSz: lot,
    optType: '',
    quoteCcy: i.market.quote,
    ruleType: 'normal',
    settleCcy: '',
    state: 'live',
    stk: '',
    tickSz: okxPrice(i, 10 ** -i.market.priceDecimals),
    uly: '',
  };
}

/** Open of the first candle at or after `ms` (for OKX's start-of-day opens), or `fallback`. */
function openAt(i: OkxInstrument, ms: number, fallback: number): number {
  for (let t = ms; t < ms + 10 * MINUTE_MS; t += MINUTE_MS) {
    const c = replayCandle('okx', i.market.symbol, t);
    if (c) return c.open;
  }
  return fallback;
}

/**
 * One /api/v5/market/tickers entry at `nowMs` from replayTicker. The last trade's size comes from the replayed trades
 * of the last hour; volCcy24h (quote volume) is vol24h × the typical price (high + low + last) / 3; sodUtc0 and
 * sodUtc8 are the opens at 00:00 UTC and 00:00 UTC+8 of the current day.
 */
export function okxTicker(i: OkxInstrument, nowMs: number): object | undefined {
  const t = replayTicker('okx', i.market.symbol, nowMs);
  if (!t) return undefined;
  const lastTrade = replayTrades('okx', i.market.symbol, t.timestamp - 60 * MINUTE_MS, t.timestamp).at(-1);
  const dayUtc0 = Math.floor(t.timestamp / 86_400_000) * 86_400_000;
  const dayUtc8 = Math.floor((t.timestamp + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  return {
    instType: 'SPOT',
    instId: i.instId,
    last: okxPrice(i, t.last),
    lastSz: okxSize(i, lastTrade?.amount ?? 0),
    askPx: okxPrice(i, t.ask),
    askSz: '1',
    bidPx: okxPrice(i, t.bid),
    bidSz: '1',
    open24h: okxPrice(i, t.open),
    high24h: okxPrice(i, t.high),
    low24h: okxPrice(i, t.low),
    volCcy24h: okxQuote(i, t.baseVolume * ((t.high + t.low + t.last) / 3)),
    vol24h: okxSize(i, t.baseVolume),
    ts: String(t.timestamp),
    sodUtc0: okxPrice(i, openAt(i, dayUtc0, t.open)),
    sodUtc8: okxPrice(i, openAt(i, dayUtc8, t.open)),
  };
}
