// The `ccxt.ohlcv` stream: one market's candles from any ccxt exchange, fetchOHLCV paged by `since` with the exchange's
// own page limit, into the same ohlcv_<interval> tables as Binance (exchange = ccxt id, symbol `BASE-QUOTE`, ts), from
// after the committed watermark.
import { nextOpenTime, openTimeAtOrAfter, openTimeAtOrBefore, type CandleInterval } from '../../core/candle-interval.ts';
import { TerminalError } from '../../core/errors.ts';
import type { Stream, StreamParams } from '../../core/source.ts';
import { ohlcv1mTable, ohlcvTable } from '../ohlcv-table.ts';
import { ccxtCall } from './ccxt-call.ts';
import { requireListed } from './ccxt-listing.ts';
import { CCXT_EXCHANGE_IDS } from './ccxt-exchange-ids.ts';
import { ohlcvParams, unifiedSymbol, type OhlcvParams } from './ccxt-params.ts';
import { openVenue, type CcxtVenue } from './ccxt-venue.ts';

export const CCXT_OHLCV_JOB = 'ccxt.ohlcv';

/** Page size when the exchange declares none (ccxt's `features`). */
const DEFAULT_PAGE_LIMIT = 500;

/** State of one market's candles: the open time of the last candle committed, and the job to resume (`coinlake daily`). */
export interface CcxtOhlcvState {
  watermark: number;
  job: typeof CCXT_OHLCV_JOB;
  params: { exchange: string; symbol: string; interval: CandleInterval };
}

function ohlcvState(watermark: number, p: OhlcvParams): CcxtOhlcvState {
  return { watermark, job: CCXT_OHLCV_JOB, params: { exchange: p.exchange, symbol: p.symbol, interval: p.interval } };
}

/** The largest page of candles the exchange serves (ccxt's `features.spot.fetchOHLCV.limit`). */
export function ohlcvPageLimit(venue: CcxtVenue): number {
  const features = venue.exchange.features as { spot?: { fetchOHLCV?: { limit?: unknown } } } | undefined;
  const limit = Number(features?.spot?.fetchOHLCV?.limit);
  return Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_PAGE_LIMIT;
}

/** A ccxt candle `[ts, open, high, low, close, volume]` as a record with the candle table's column names. */
function candleRecord(c: (number | undefined)[], p: OhlcvParams): Record<string, unknown> {
  return {
    exchange: p.exchange,
    symbol: p.canonical,
    ts: c[0],
    open: c[1] ?? null,
    high: c[2] ?? null,
    low: c[3] ?? null,
    close: c[4] ?? null,
    volume_base: c[5] ?? null,
    // ccxt's unified candle has neither.
    volume_quote: null,
    trade_count: null,
  };
}

const params = (p: StreamParams) => ohlcvParams(p, CCXT_OHLCV_JOB);

export const ccxtOhlcvStream: Stream<CcxtOhlcvState> = {
  name: 'ohlcv',
  table: ohlcv1mTable,
  tableFor: (p) => ohlcvTable(params(p).interval),
  defaultWriteMode: 'merge',
  cursor: 'ts',
  stateAfter(p, window) {
    const op = params(p);
    return ohlcvState(openTimeAtOrBefore(window.end.getTime() - 1, op.interval), op);
  },
  series(p) {
    const op = params(p);
    return { filter: { exchange: op.exchange, symbol: op.canonical }, timeColumn: 'ts', interval: op.interval };
  },
  // `coinlake repair`: any exchange ccxt knows (Binance's own stream comes first in the registry for `binance`); the
  // series' `BASE-QUOTE` is a symbol this stream reads as it is.
  refetch: {
    exchanges: () => CCXT_EXCHANGE_IDS,
    params: ({ exchange, symbol, interval }) => (CCXT_EXCHANGE_IDS.includes(exchange) && unifiedSymbol(symbol) ? { exchange, symbol, interval } : undefined),
  },
  /**
   * Reads the closed candles with open time in [start, end) from after the watermark: one fetchOHLCV of up to the
   * exchange's page limit at a time, the next `since` after the last candle received, until a candle at or after the
   * end or a page without a newer candle; every page carries the new state. A symbol the exchange does not list fails
   * before any candle request.
   */
  async *read(ctx) {
    const p = params(ctx.params);
    if (!ctx.window) throw new TerminalError(`${CCXT_OHLCV_JOB} needs a time window (--from, and optionally --to)`);
    const venue = await openVenue(p.exchange, ctx.baseUrl, ctx.credentials);
    const call = { http: ctx.http, signal: ctx.signal };
    await requireListed(call, venue, p.symbol);
    const timeframes = venue.exchange.timeframes as Record<string, unknown> | undefined;
    if (timeframes && !(p.interval in timeframes)) {
      throw new TerminalError(`${p.exchange} has no ${p.interval} candles`, { hint: `its intervals: ${Object.keys(timeframes).join(' ')}` });
    }
    const limit = ohlcvPageLimit(venue);
    let since = openTimeAtOrAfter(ctx.window.start.getTime(), p.interval);
    if (ctx.state?.watermark !== undefined) since = Math.max(since, nextOpenTime(ctx.state.watermark, p.interval));
    // Nothing after now can have closed: the window ends there at the latest.
    const end = Math.min(ctx.window.end.getTime(), Date.now());
    let watermark = ctx.state?.watermark;
    const what = `OHLCV ${p.symbol} ${p.interval}`;
    while (since < end) {
      const from = since;
      const { value: candles, response } = await ccxtCall(call, { venue, what: `${what} since ${new Date(from).toISOString()}`, symbol: p.symbol }, (ex) =>
        ex.fetchOHLCV(p.symbol, p.interval, from, limit),
      );
      const now = Date.now();
      // Only closed candles inside the window: the one still open would change after it was loaded.
      const kept = candles.filter((c) => typeof c[0] === 'number' && c[0] >= from && c[0] < end && nextOpenTime(c[0], p.interval) <= now);
      for (const c of kept) watermark = Math.max(watermark ?? (c[0] as number), c[0] as number);
      yield {
        raw: response?.body ?? new Uint8Array(),
        rawGzip: response?.gzipped,
        records: kept.map((c) => candleRecord(c, p)),
        origin: response?.url ?? venue.apiUrl,
        nextState: watermark === undefined ? undefined : ohlcvState(watermark, p),
      };
      const last = candles.reduce((m, c) => Math.max(m, typeof c[0] === 'number' ? c[0] : -Infinity), -Infinity);
      // No candle at or after `since`: the exchange has none newer (ccxt's own paging ends there too).
      if (last >= end || last < from) return;
      since = nextOpenTime(last, p.interval);
    }
  },
};
