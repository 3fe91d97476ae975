// CoinCap in the source conformance suite (src/sources/conformance/): the recorded pages of every stream and what
// they must give. Pages recorded from the replay server, which serves the CoinCap captures of test/fixtures/coincap-v2.
import type { SourceConformance } from '../conformance/conformance-spec.ts';
import { coincapSource } from './coincap-source.ts';

const ONE_REQUEST = 'one request answers the whole stream: there is no next page to follow';

export const conformance: SourceConformance = {
  source: coincapSource,
  streams: [
    {
      stream: 'assets',
      record: { basePath: '/v2', params: { limit: 40 } },
      rows: 100,
      pages: 3,
      values: [
        { id: 'bitcoin', rank: 1, symbol: 'BTC', supply: 19788162, max_supply: 21000000, price_usd: 96415.26587651047, tokens: null },
        { id: 'dash', rank: 100, name: 'Dash', market_cap_usd: 452668181.0526275, explorer: 'https://explorer.dash.org' },
      ],
    },
    {
      stream: 'exchanges',
      record: { basePath: '/v2' },
      rows: 100,
      pages: 1,
      values: [
        { exchange_id: 'binance', rank: 1, volume_usd: 19293190371.10408, trading_pairs: 549, socket: true, updated: new Date('2024-11-27T18:44:46.907Z') },
        { exchange_id: 'smardex-1-univ2', rank: 84, percent_total_volume: null, socket: null },
      ],
      skip: { paging: ONE_REQUEST },
    },
    {
      stream: 'rates',
      record: { basePath: '/v2' },
      rows: 192,
      pages: 1,
      values: [
        { id: 'lesotho-loti', symbol: 'LSL', currency_symbol: null, type: 'fiat', rate_usd: 0.0550902358782103 },
        { id: 'east-caribbean-dollar', currency_symbol: '$', rate_usd: 0.3700209061811993 },
      ],
      skip: { paging: ONE_REQUEST },
    },
    {
      stream: 'markets',
      record: { basePath: '/v2', params: { limit: 40 } },
      rows: 100,
      pages: 3,
      values: [
        { exchange_id: 'alterdice', base_id: 'bitcoin', quote_id: 'tether', pair: 'BTC-USDT', price_quote: 96146.87, trades_count_24hr: 7, updated: new Date('2024-11-27T22:56:09.172Z') },
        { exchange_id: 'bibox', base_id: 'orbs', quote_id: 'tether', pair: 'ORBS-USDT', rank: 99, trades_count_24hr: null },
      ],
    },
    {
      stream: 'asset_history',
      record: {
        basePath: '/v2',
        params: { asset: 'bitcoin', interval: 'h1' },
        window: { start: '2024-11-25T00:00:00Z', end: '2024-11-26T00:00:00Z' },
        rerunWindow: { start: '2024-11-25T00:00:00Z', end: '2024-11-27T00:00:00Z' },
      },
      rows: 24,
      pages: 1,
      values: [
        { asset_id: 'bitcoin', interval: 'h1', time: new Date('2024-11-25T00:00:00Z'), price_usd: 96691.8222369691, circulating_supply: 19770305 },
        { asset_id: 'bitcoin', interval: 'h1', time: new Date('2024-11-25T23:00:00Z'), price_usd: 98572.96842451094 },
      ],
      // The largest `time` read: 2024-11-25T23:00Z; the rerun asks from the next millisecond on.
      state: { watermark: 1732575600000 },
      rerunRequests: ['/v2/assets/bitcoin/history?interval=h1&start=1732575600001&end=1732665600000'],
      skip: { paging: 'a window is read in chunks of 2,000 points: a multi-chunk recording would hold 2,001+ points (hundreds of KB); the rerun case reads a second window' },
    },
  ],
};
