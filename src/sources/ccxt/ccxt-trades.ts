// The `ccxt.trades` stream: one market's public trades from any ccxt exchange, fetchTrades paged by `since` (the
// exchange's default page; backward by `until` where the exchange answers with the newest trades), after the committed
// watermark; overlapping page edges give each trade once.
import type { Exchange, Trade } from 'ccxt';
import { TerminalError, errorMessage } from '../../core/errors.ts';
import type { Stream, StreamParams } from '../../core/source.ts';
import { ccxtCall } from './ccxt-call.ts';
import { requireListed } from './ccxt-listing.ts';
import { exchangeParam, symbolParam } from './ccxt-params.ts';
import { ccxtTradesTable } from './ccxt-tables.ts';
import { loadCcxt, openVenue, type CapturedResponse } from './ccxt-venue.ts';

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

/** Exchanges whose ccxt fetchTrades asked for `until` with `since` (Coinbase): they get it from then on. */
const needsUntil = new WeakSet<Exchange>();

/**
 * fetchTrades from `since`; an exchange that requires `until` with it (ccxt's ArgumentsRequired naming `until`) gets
 * the window's end, a param other exchanges would pass on to their API, so it is sent only where asked for.
 */
async function fetchTradesSince(ex: Exchange, symbol: string, since: number, until: number): Promise<Trade[]> {
  if (needsUntil.has(ex)) return ex.fetchTrades(symbol, since, undefined, { until: Number.isFinite(until) ? until : Date.now() });
  try {
    return await ex.fetchTrades(symbol, since);
  } catch (err) {
    const ccxt = await loadCcxt();
    if (!(err instanceof ccxt.ArgumentsRequired) || !/\buntil\b/.test(errorMessage(err))) throw err;
    needsUntil.add(ex);
    return fetchTradesSince(ex, symbol, since, until);
  }
}

export const ccxtTradesStream: Stream<CcxtTradesState> = {
  name: 'trades',
  table: ccxtTradesTable,
  defaultWriteMode: 'merge',
  cursor: 'ts',
  stateAfter(p, window) {
    return state(window.end.getTime() - 1, tradesParams(p));
  },
  /**
   * Reads the trades with time in [start, end) (after the watermark), one fetchTrades at a time. Forward, the next
   * `since` at the last trade's time (one millisecond on when a whole page shares it); every page carries the state.
   * An exchange that needs `until` (Coinbase) answers with the newest trades of [since, until): it is read backward,
   * `until` moving to the earliest trade received, and only its last page carries the state, so a read cut short
   * commits no watermark past what it did not read.
   */
  async *read(ctx) {
    const p = tradesParams(ctx.params);
    const venue = await openVenue(p.exchange, ctx.baseUrl, ctx.credentials);
    const call = { http: ctx.http, signal: ctx.signal };
    await requireListed(call, venue, p.symbol);
    if (!ctx.window) throw new TerminalError(`${CCXT_TRADES_JOB} needs a time window (--from, and optionally --to)`);
    // After the watermark: a run ends only once every trade up to it was read (its window's end, or no newer trade).
    let since = Math.max(ctx.window.start.getTime(), (ctx.state?.watermark ?? -Infinity) + 1);
    const end = Math.min(ctx.window.end.getTime(), Date.now());
    let until = end;
    let watermark = ctx.state?.watermark;
    let newest: number | undefined;
    const seen = new Set<string>();
    while (since < until) {
      const [from, to] = [since, until];
      const { value: trades, response }: { value: Trade[]; response?: CapturedResponse } = await ccxtCall(call, { venue, what: `trades ${p.symbol} since ${new Date(from).toISOString()}`, symbol: p.symbol }, (ex) =>
        fetchTradesSince(ex, p.symbol, from, to),
      );
      const times = trades.map((t) => t.timestamp).filter((t): t is number => typeof t === 'number');
      // Pages overlap at their edges (the same millisecond forward, the same second backward): each trade once.
      const kept = trades.filter((t) => typeof t.timestamp === 'number' && t.timestamp >= from && t.timestamp < end && !seen.has(String(t.id)));
      for (const t of kept) seen.add(String(t.id));
      const page = { raw: response?.body ?? new Uint8Array(), rawGzip: response?.gzipped, records: kept.map((t) => tradeRecord(t, p.exchange, p.canonical)), origin: response?.url ?? venue.apiUrl };
      for (const t of kept) newest = Math.max(newest ?? (t.timestamp as number), t.timestamp as number);
      if (needsUntil.has(venue.exchange)) {
        const earliest = Math.min(...times);
        // Done when nothing older is left in the window, or the exchange cannot go further back (the same page again).
        const done = times.length === 0 || earliest <= from || earliest >= to;
        if (done && newest !== undefined) watermark = Math.max(watermark ?? newest, newest);
        yield { ...page, nextState: done && watermark !== undefined ? state(watermark, p) : undefined };
        if (done) return;
        until = earliest;
        continue;
      }
      if (newest !== undefined) watermark = Math.max(watermark ?? newest, newest);
      yield { ...page, nextState: watermark === undefined ? undefined : state(watermark, p) };
      const last = Math.max(...times);
      // No trade at or after `since`: the exchange has none newer.
      if (kept.length === 0 || last >= end) return;
      since = last > from ? last : from + 1;
    }
  },
};
