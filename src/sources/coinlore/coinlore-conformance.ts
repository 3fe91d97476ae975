// CoinLore in the source conformance suite (src/sources/conformance/): the recorded pages of every stream and what
// they must give. Pages recorded from the replay server (src/replay/coinlore-data.ts: the format examples of
// test/fixtures/formats first, then generated coins). Snapshot times come from the recorded Date header.
import type { SourceConformance } from '../conformance/conformance-spec.ts';
import type { Rewrite } from '../conformance/exchange-server.ts';
import { NEW_FIELD } from '../conformance/conformance-spec.ts';
import { coinloreSource } from './coinlore-source.ts';

const ONE_REQUEST = 'one request answers the whole stream: there is no next page to follow';
const ONE_OBJECT = 'the endpoint answers one object, never a list: there is no empty page (an array instead is the malformedBody case)';
const REPLAY = { coinloreCoinCount: 100 };
const BASE = '/coinlore/api';
/** The Date header of the recorded responses (record-fixtures.ts): the snapshot time of the streams stamped with it. */
const RECORDED_AT = new Date('2024-06-10T00:10:00Z');

/** `/exchanges/` is an object keyed by exchange id: every exchange gets the new field. */
const driftExchanges: Rewrite = (response) => {
  for (const e of Object.values(response as Record<string, Record<string, unknown>>)) e[NEW_FIELD] = 'new';
  return response;
};

export const conformance: SourceConformance = {
  source: coinloreSource,
  streams: [
    {
      stream: 'tickers',
      record: { basePath: BASE, params: { limit: 40 }, replay: REPLAY },
      rows: 100,
      pages: 3,
      values: [
        { id: '90', symbol: 'BTC', rank: 1, price_usd: 69649.73, volume24a: 24063575479.22, msupply: 21000000, snapshot_time: new Date('2024-06-10T00:10:00Z') },
        { id: '1100', symbol: 'C100', rank: 100, price_usd: 4.28, msupply: null, csupply: 275438315 },
      ],
    },
    {
      stream: 'ticker',
      record: { basePath: BASE, params: { id: '90,80' }, replay: REPLAY },
      rows: 2,
      pages: 1,
      values: [
        { id: '90', symbol: 'BTC', price_usd: 69649.73, snapshot_time: RECORDED_AT },
        { id: '80', symbol: 'ETH', price_usd: 3682.18, msupply: null, tsupply: 120148770.2437505 },
      ],
      skip: { paging: ONE_REQUEST },
    },
    {
      stream: 'global',
      record: { basePath: BASE, replay: REPLAY },
      rows: 1,
      pages: 1,
      values: [{ snapshot_time: RECORDED_AT, coins_count: 14993, active_markets: 28840, total_mcap: 2589177854944.69, btc_d: 59.5, eth_d: 11.3 }],
      skip: { paging: ONE_REQUEST, emptyPage: ONE_OBJECT },
    },
    {
      stream: 'exchanges',
      record: { basePath: BASE, replay: REPLAY },
      rows: 6,
      pages: 1,
      values: [
        { id: '5', name: 'Binance', volume_usd: 7216670230.51, active_pairs: 914, date_live: null, date_added: null, snapshot_time: RECORDED_AT },
        { id: '187', name: 'Coinbase Pro', active_pairs: null, date_live: '2012-06-20', date_added: new Date('2018-07-14T00:00:00Z') },
      ],
      // The 2021 shape of some exchanges (replay's LEGACY_EXCHANGES): fields no column maps, the 2024 shape's
      // active_pairs missing, Kraken's date_live "2011-00-00" quarantined.
      unmappedFields: ['auto', 'fiat', 'udate', 'usdt', 'volume_usd_adj'],
      missingFields: ['active_pairs', 'date_added', 'date_live'],
      quarantined: 1,
      empty: () => ({}),
      drift: driftExchanges,
      skip: { paging: ONE_REQUEST },
    },
    {
      stream: 'exchange',
      record: { basePath: BASE, params: { id: '5' }, replay: REPLAY },
      rows: 3,
      pages: 1,
      values: [
        { exchange_name: 'Binance', base: 'BTC', quote: 'USDT', pair: 'BTC-USDT', price: 69627.41, volume_usd: null, time: new Date('2024-06-10T00:09:01Z') },
        { exchange_name: 'Binance', base: 'BNB', quote: 'USDT', volume: 391368.29 },
      ],
      skip: { paging: ONE_REQUEST },
    },
    {
      stream: 'coin_markets',
      record: { basePath: BASE, params: { ids: '90,80' }, replay: REPLAY },
      rows: 5,
      pages: 2,
      values: [
        { exchange_name: 'Binance', base: 'BTC', quote: 'USDT', pair: 'BTC-USDT', volume_usd: 1804417398.385 },
        { exchange_name: 'Coinbase', base: 'ETH', quote: 'USD', pair: 'ETH-USD', price: 3682.18, time: new Date('2024-06-10T00:10:00Z') },
      ],
    },
    {
      stream: 'social_stats',
      record: { basePath: BASE, params: { ids: '90,80' }, replay: REPLAY },
      rows: 2,
      pages: 2,
      values: [
        { coin_id: '90', reddit_avg_active_users: 4409.25, reddit_subscribers: 373581, twitter_followers_count: 414355, twitter_status_count: 1919, snapshot_time: RECORDED_AT },
        { coin_id: '80', twitter_status_count: 8046 },
      ],
      malformed: () => [],
      drift: (response) => ({ ...(response as object), [NEW_FIELD]: 'new' }),
      skip: { emptyPage: ONE_OBJECT },
    },
  ],
};
