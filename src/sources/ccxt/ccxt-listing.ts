// Before a symbol is asked for: the exchange's markets (loaded once per exchange and process, through the job's
// HttpClient), and one clear error when it does not list the symbol, so nothing is requested or loaded for it.
import { TerminalError } from '../../core/errors.ts';
import { ccxtCall, type CallContext } from './ccxt-call.ts';
import type { CcxtVenue } from './ccxt-venue.ts';

/**
 * The exchange's markets, loaded once (ccxt keeps them on the exchange). Until they are loaded every call asks again
 * (`reload`): ccxt keeps a failed load's promise, so a load refused once would otherwise fail every retry.
 */
export async function loadVenueMarkets(ctx: CallContext, venue: CcxtVenue): Promise<void> {
  const { responses } = await ccxtCall(ctx, { venue, what: 'markets' }, (ex) => ex.loadMarkets(!ex.markets));
  if (responses[0]) venue.marketsUrl = responses[0].url;
  requireMarkets(venue);
}

/** Throws a TerminalError naming the markets URL when the exchange's markets loaded empty (an answer ccxt could not read). */
export function requireMarkets(venue: CcxtVenue): void {
  if (Object.keys(venue.exchange.markets ?? {}).length > 0) return;
  const url = venue.marketsUrl ?? venue.apiUrl;
  throw new TerminalError(`${venue.id} listed no markets at ${url}`, { url, hint: 'the answer may not have the shape ccxt expects of this exchange' });
}

/** Throws a TerminalError naming exchange and symbol when the exchange does not list `symbol` (unified, `BTC/USD`). */
export async function requireListed(ctx: CallContext, venue: CcxtVenue, symbol: string): Promise<void> {
  await loadVenueMarkets(ctx, venue);
  const markets = venue.exchange.markets ?? {};
  if (markets[symbol]) return;
  const listed = Object.keys(markets);
  const some = listed.slice(0, 6).join(', ');
  throw new TerminalError(`${venue.id} does not list ${symbol}`, {
    url: venue.apiUrl,
    hint: `${venue.id} lists ${listed.length} market(s)${some ? `, e.g. ${some}` : ''}; \`coinlake run ccxt.markets --exchange ${venue.id}\` loads them all`,
  });
}
