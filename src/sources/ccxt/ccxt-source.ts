// Every exchange ccxt knows as one source: `ccxt.ohlcv` (candles into ohlcv_<interval>, like Binance's), `ccxt.trades`,
// `ccxt.tickers` and `ccxt.markets`, for the exchange a job names (`--exchange kraken`, or params.exchange). Its rate
// limit is each exchange's own (ccxt's throttler), within coinlake's --rate; its URL each exchange's own unless
// overridden (ccxt-url-override.ts).
import type { Source, StreamParams } from '../../core/source.ts';
import { ccxtOhlcvStream } from './ccxt-ohlcv.ts';
import { ccxtMarketsStream, ccxtTickersStream } from './ccxt-snapshots.ts';
import { ccxtTradesStream } from './ccxt-trades.ts';
import { EXCHANGE_PLACEHOLDER } from './ccxt-url-override.ts';

/** The connection of a job of this source: one per exchange (`CCXT_KRAKEN`), so state and run history never mix venues. */
function connectionName(params: StreamParams): string {
  const exchange = typeof params.exchange === 'string' ? params.exchange.trim().toUpperCase() : '';
  return exchange ? `CCXT_${exchange}` : 'CCXT';
}

export const ccxtSource: Source = {
  name: 'ccxt',
  // Empty: each exchange's own URLs (a connection URL, COINLAKE_CCXT_URL or COINLAKE_CCXT_<EXCHANGE>_URL overrides them).
  defaultBaseUrl: '',
  // Unlimited here: each exchange's own rateLimit paces it (ccxt's throttler); --rate slows every exchange further.
  rateLimitPerMinute: 0,
  variables: { baseUrl: 'COINLAKE_CCXT_URL' },
  // A connection's secret is the exchange's keys, which ccxt signs with: never an Authorization header.
  credentialsInRead: true,
  // Each replayed exchange at <replay url>/ccxt/<id>.
  replay: { baseUrl: (serverUrl) => `${serverUrl}/ccxt/${EXCHANGE_PLACEHOLDER}` },
  connectionName,
  streams: [ccxtOhlcvStream, ccxtTradesStream, ccxtTickersStream, ccxtMarketsStream],
};
