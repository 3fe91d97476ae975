// The `ccxt.trades` stream: one market's public trades from any ccxt exchange, fetchTrades paged by `since` (the
// exchange's default page), from the committed watermark (trades at the watermark's millisecond are fetched again and
// merge onto themselves by trade id).
import type { Trade } from 'ccxt';
import { TerminalError } from '../../core/errors.ts';
import type { Stream, StreamParams } from '../../core/source.ts';
import { ccxtCall } from './ccxt-call.ts';
import { requireListed } from './ccxt-listing.ts';
import { exchangeParam, symbolParam } from './ccxt-params.ts';
import { ccxtTradesTable } from './ccxt-tables.ts';
import { openVenue, type CapturedResponse } from './ccxt-venue.ts';

export const CCXT_TRADES_JOB = 'ccxt.trades';

/** State of one market's trades: the time of the last trade committed, and the job to resume. */
export interface CcxtTradesState {
  watermark: number;
  job: typeof CCXT_TRADES_JOB;
  params: { exchange: string; symbol: string };
}

function tradesParams(p: StreamParams): { exchange: string; symbol: string; canonical: string } {
  return { exchange: exchangeParam(p, CCXT_TRADES_JOB), ...symbolParam(p, CCXT_TRADES_JOB) };
}

const state = (watermark: number, p: { exchange: string; symbol: string }): CcxtTradesState => ({ watermark, job: CCXT_TRADES_JOB, params: { exchange: p.exchange, symbol: p.symbol } });

/** The fields of a ccxt unified Trade the table keeps (its `info`, the exchange's raw trade, stays in the raw lake). */
function tradeRecord(t: { id?: unknown; timestamp?: unknown; side?: unknown; price?: unknown; amount?: unknown; cost?: unknown; takerOrMaker?: unknown }, exchange: string, canonical: string): Record<string, unknown> {
  return {
    exchange,
    symbol: canonical,
    id: t.id ?? null,
    timestamp: t.timestamp ?? null,
    side: t.side ?? null,
    price: t.price ?? null,
    amount: t.amount ?? null,
    cost: t.cost ?? null,
    takerOrMaker: t.takerOrMaker ?? null,
  };
}

export const ccxtTradesStream: Stream<CcxtTradesState> = {
  name: 'trades',
  table: ccxtTradesTable,
  defaultWriteMode: 'merge',
  cursor: 'timestamp',
  stateAfter(p, window) {
    return state(window.end.getTime() - 1, tradesParams(p));
  },
  /**
   * Reads the trades with time in [start, end) (from the watermark on), one fetchTrades at a time, the next `since`
   * at the last trade's time (one millisecond on when a whole page shares it).
   */
  async *read(ctx) {
    const p = tradesParams(ctx.params);
    const venue = await openVenue(p.exchange, ctx.baseUrl);
    const call = { http: ctx.http, signal: ctx.signal };
    await requireListed(call, venue, p.symbol);
    if (!ctx.window) throw new TerminalError(`${CCXT_TRADES_JOB} needs a time window (--from, and optionally --to)`);
    let since = Math.max(ctx.window.start.getTime(), ctx.state?.watermark ?? -Infinity);
    const end = Math.min(ctx.window.end.getTime(), Date.now());
    let watermark = ctx.state?.watermark;
    while (since < end) {
      const from = since;
      const { value: trades, response }: { value: Trade[]; response?: CapturedResponse } = await ccxtCall(call, { venue, what: `trades ${p.symbol} since ${new Date(from).toISOString()}`, symbol: p.symbol }, (ex) => ex.fetchTrades(p.symbol, from));
      const kept = trades.filter((t) => typeof t.timestamp === 'number' && t.timestamp >= from && t.timestamp < end);
      for (const t of kept) watermark = Math.max(watermark ?? (t.timestamp as number), t.timestamp as number);
      yield {
        raw: response?.body ?? new Uint8Array(),
        rawGzip: response?.gzipped,
        records: kept.map((t) => tradeRecord(t, p.exchange, p.canonical)),
        origin: response?.url ?? venue.apiUrl,
        nextState: watermark === undefined ? undefined : state(watermark, p),
      };
      const last = trades.reduce((m, t) => Math.max(m, typeof t.timestamp === 'number' ? t.timestamp : -Infinity), -Infinity);
      // No trade at or after `since`: the exchange has none newer.
      if (kept.length === 0 || last >= end) return;
      since = last > from ? last : from + 1;
    }
  },
};
