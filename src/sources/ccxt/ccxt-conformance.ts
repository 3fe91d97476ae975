// ccxt in the source conformance suite (src/sources/conformance/): Coinbase's recorded pages (the replay server's
// /ccxt/coinbase routes, read by ccxt's coinbase through this source, markets first) and what they must give.
import { emptyFirstArray, type Skips, type SourceConformance } from '../conformance/conformance-spec.ts';
import type { Rewrite } from '../conformance/exchange-server.ts';
import { ccxtSource } from './ccxt-source.ts';

const basePath = '/ccxt/{exchange}';
const coinbase = { exchange: 'coinbase' };
const btc = { ...coinbase, symbol: 'BTC/USD' };
const D = (iso: string) => new Date(iso);

/** Empties only the answers of `path` (the markets answers stay: without them the symbol is not listed). */
const emptyOnly =
  (path: string): Rewrite =>
  (response, exchange) =>
    exchange.url.includes(path) ? emptyFirstArray(response, exchange) : response;

/** What every ccxt stream skips. */
const skip: Skips = {
  terminalStatus: 'ccxt loads Coinbase\'s currencies with three requests at once (Promise.all): a 401 or 404 on the first fails the read at once with a TerminalError naming the URL, but the other two are already on their way (3 requests, not 1)',
  drift: 'records are ccxt\'s unified structures (ccxt parses the answer; an exchange\'s new field stays in the raw lake), so a field the exchange adds never reaches a record',
};

/** The snapshot streams come from the same answers as the markets ccxt loads first. */
const snapshotSkips: Skips = {
  emptyPage: 'Coinbase\'s tickers and markets are the products answer ccxt also loads its markets from: emptied, the exchange lists no markets, a TerminalError by design (not an empty page)',
};

export const conformance: SourceConformance = {
  source: ccxtSource,
  skip,
  streams: [
    {
      stream: 'ohlcv',
      // 310 one-minute candles (5 known missing): a full page of 300, then the rest; the rerun adds 10 minutes.
      record: { basePath, params: { ...btc, interval: '1m' }, window: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T05:10:00Z' }, rerunWindow: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T05:20:00Z' } },
      rows: 305,
      pages: 2,
      values: [
        { exchange: 'coinbase', symbol: 'BTC-USD', ts: D('2024-06-10T00:00:00Z'), open: 93550.76, high: 93683.35, low: 93423.79, close: 93502.61, volume_base: 0.06291149, volume_quote: null, trade_count: null },
        { exchange: 'coinbase', symbol: 'BTC-USD', ts: D('2024-06-10T05:09:00Z'), close: 93596.02, volume_base: 0.44374699 },
      ],
      state: { watermark: Date.parse('2024-06-10T05:09:00Z'), job: 'ccxt.ohlcv', params: { exchange: 'coinbase', symbol: 'BTC/USD', interval: '1m' } },
      rerunRequests: ['/ccxt/coinbase/api/v3/brokerage/market/products/BTC-USD/candles?granularity=ONE_MINUTE&start=1717996200&end=1718014200'],
      empty: emptyOnly('/candles'),
    },
    {
      stream: 'trades',
      cursor: 'ts',
      // Two hours of trades, read backward (Coinbase answers with the newest of [start, end)).
      record: { basePath, params: btc, window: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T02:00:00Z' }, rerunWindow: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T02:10:00Z' } },
      rows: 182,
      pages: 3,
      values: [
        { exchange: 'coinbase', symbol: 'BTC-USD', trade_id: '1855192', ts: D('2024-06-10T00:59:22.648Z'), side: 'buy', price: 93248.94, amount: 0.01915672, cost: 1786.3438338768, taker_or_maker: null },
        { exchange: 'coinbase', symbol: 'BTC-USD', trade_id: '1854720', ts: D('2024-06-10T00:00:22.991Z'), side: 'sell', price: 93682.24 },
      ],
      state: { watermark: Date.parse('2024-06-10T01:59:42.892Z'), job: 'ccxt.trades', params: { exchange: 'coinbase', symbol: 'BTC/USD' } },
      // Backward from the rerun's end to the watermark: the newest trades, then the ones before the earliest of them.
      rerunRequests: [
        '/ccxt/coinbase/api/v3/brokerage/market/products/BTC-USD/ticker?start=1717984782&end=1717985400',
        '/ccxt/coinbase/api/v3/brokerage/market/products/BTC-USD/ticker?start=1717984782&end=1717984878',
      ],
      empty: emptyOnly('/ticker'),
    },
    {
      stream: 'tickers',
      record: { basePath, params: coinbase },
      rows: 4,
      pages: 1,
      // Coinbase stamps no ticker: the answer's Date header (fixed in the recording). Prices depend on when the replay
      // answered (its clock), so only the key is compared.
      values: [{ exchange: 'coinbase', symbol: 'BTC-USD', ts: D('2024-06-10T00:10:00Z') }, { exchange: 'coinbase', symbol: 'ETH-BTC', ts: D('2024-06-10T00:10:00Z') }],
      skip: {
        ...snapshotSkips,
        paging: 'one fetchTickers is one answer',
        retryAfter: 'the products answer is asked twice (markets, then tickers) and recorded once; the case counts the requests against the recording',
        serverError: 'the products answer is asked twice (markets, then tickers) and recorded once; the case counts the requests against the recording',
      },
    },
    {
      stream: 'markets',
      // ccxt's loadMarkets takes six answers (currencies, rates, spot and futures products): one page each.
      record: { basePath, params: coinbase },
      rows: 4,
      pages: 6,
      values: [
        { exchange: 'coinbase', market_id: 'BTC-USD', symbol: 'BTC-USD', unified_symbol: 'BTC/USD', base: 'BTC', quote: 'USD', base_id: 'BTC', quote_id: 'USD', type: 'spot', active: true, price_precision: 0.01 },
        { exchange: 'coinbase', market_id: 'ETH-BTC', unified_symbol: 'ETH/BTC', price_precision: 0.00001, amount_precision: 1e-8 },
      ],
      skip: snapshotSkips,
    },
  ],
};
