// The snapshot streams of any ccxt exchange: `ccxt.tickers` (fetchTickers: every market's 24-hour ticker, or those of
// params.symbols) and `ccxt.markets` (loadMarkets: every market under the exchange's own ids and ccxt's unified symbol).
import type { Market, Ticker } from 'ccxt';
import { TerminalError } from '../../core/errors.ts';
import type { Page, Stream, StreamParams } from '../../core/source.ts';
import { ccxtCall } from './ccxt-call.ts';
import { loadVenueMarkets, requireListed, requireMarkets } from './ccxt-listing.ts';
import { canonicalSymbol, exchangeParam, unifiedSymbol } from './ccxt-params.ts';
import { ccxtMarketsTable, ccxtTickersTable } from './ccxt-tables.ts';
import { openVenue } from './ccxt-venue.ts';

/** The markets a tickers job asks for: params `symbols` (comma-separated) or `symbol`/`asset`; none = every market. */
function tickerSymbols(p: StreamParams): string[] | undefined {
  const raw = [p.symbols, p.symbol, p.asset].filter((v) => v !== undefined && String(v).trim() !== '').map(String).join(',');
  if (!raw) return undefined;
  return raw.split(',').map((s) => {
    const u = unifiedSymbol(s);
    if (!u) throw new TerminalError(`ccxt.tickers: "${s.trim()}" is not a market symbol such as BTC/USD or BTC-USD`);
    return u;
  });
}

function tickerRecord(t: Ticker, exchange: string, now: number): Record<string, unknown> {
  return {
    exchange,
    symbol: canonicalSymbol(t.symbol ?? ''),
    timestamp: t.timestamp ?? now,
    last: t.last ?? null,
    bid: t.bid ?? null,
    ask: t.ask ?? null,
    open: t.open ?? null,
    high: t.high ?? null,
    low: t.low ?? null,
    baseVolume: t.baseVolume ?? null,
    quoteVolume: t.quoteVolume ?? null,
    vwap: t.vwap ?? null,
    percentage: t.percentage ?? null,
  };
}

export const ccxtTickersStream: Stream = {
  name: 'tickers',
  table: ccxtTickersTable,
  defaultWriteMode: 'merge',
  /** One fetchTickers: every market's ticker, or those of the symbols asked for (each checked to be listed first). */
  async *read(ctx) {
    const exchange = exchangeParam(ctx.params, 'ccxt.tickers');
    const symbols = tickerSymbols(ctx.params);
    const venue = await openVenue(exchange, ctx.baseUrl, ctx.credentials);
    const call = { http: ctx.http, signal: ctx.signal };
    await loadVenueMarkets(call, venue);
    for (const s of symbols ?? []) await requireListed(call, venue, s);
    const { value, response } = await ccxtCall(call, { venue, what: `tickers${symbols ? ` ${symbols.join(',')}` : ''}` }, (ex) => ex.fetchTickers(symbols));
    // An exchange that stamps no ticker: the time its answer says it was sent (else now).
    const sent = Date.parse(response?.headers.get('date') ?? '');
    const now = Number.isNaN(sent) ? Date.now() : sent;
    yield {
      raw: response?.body ?? new Uint8Array(),
      rawGzip: response?.gzipped,
      records: Object.values(value).map((t) => tickerRecord(t, exchange, now)),
      origin: response?.url ?? venue.apiUrl,
    };
  },
};

function marketRecord(m: NonNullable<Market>, exchange: string): Record<string, unknown> {
  return {
    exchange,
    id: m.id,
    canonical: m.base && m.quote ? canonicalSymbol(m.symbol) : m.symbol,
    symbol: m.symbol,
    base: m.base,
    quote: m.quote,
    baseId: m.baseId ?? null,
    quoteId: m.quoteId ?? null,
    type: m.type ?? null,
    active: m.active ?? null,
    pricePrecision: m.precision?.price ?? null,
    amountPrecision: m.precision?.amount ?? null,
  };
}

export const ccxtMarketsStream: Stream = {
  name: 'markets',
  table: ccxtMarketsTable,
  defaultWriteMode: 'merge',
  /** loadMarkets afresh: each response it took is a page in the raw lake; the markets come with the last one. */
  async *read(ctx) {
    const exchange = exchangeParam(ctx.params, 'ccxt.markets');
    const venue = await openVenue(exchange, ctx.baseUrl, ctx.credentials);
    const { value, responses } = await ccxtCall({ http: ctx.http, signal: ctx.signal }, { venue, what: 'markets' }, (ex) => ex.loadMarkets(true));
    if (responses[0]) venue.marketsUrl = responses[0].url;
    requireMarkets(venue);
    const records = Object.values(value).flatMap((m) => (m ? [marketRecord(m, exchange)] : []));
    const pages: Page[] = responses.map((r, i) => ({ raw: r.body, rawGzip: r.gzipped, records: i === responses.length - 1 ? records : [], origin: r.url }));
    yield* pages.length ? pages : [{ raw: new Uint8Array(), records, origin: venue.apiUrl }];
  },
};
