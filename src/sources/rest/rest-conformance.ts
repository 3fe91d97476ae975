// The declarative REST source in the source conformance suite (src/sources/conformance/): an incremental job paged by
// offset/limit with records at `result.items`, recorded from the replay server's /rest/offset/markets (CoinGecko's
// /coins/markets records, src/replay/rest-routes.ts). Its table is what the catalog would build from column details.
import type { SourceConformance } from '../conformance/conformance-spec.ts';
import type { TableSpec } from '../../core/table.ts';
import { restSource } from './rest-source.ts';

/** The table a catalog entry with these column details and primary_key [id] gives (test/rest-source.test.ts's). */
const marketsTable: TableSpec = {
  schema: 'coinlake',
  name: 'rest_markets',
  primaryKey: ['id'],
  columns: [
    { name: 'id', type: 'varchar' },
    { name: 'symbol', type: 'varchar' },
    { name: 'current_price', type: 'double' },
    { name: 'market_cap_rank', type: 'integer' },
    { name: 'max_supply', type: 'double' },
    { name: 'last_updated', type: 'timestamptz' },
  ],
};

export const conformance: SourceConformance = {
  source: restSource,
  streams: [
    {
      stream: 'records',
      record: {
        basePath: '',
        params: { path: '/rest/offset/markets', pagination: 'offset', page_size: 3, records_path: 'result.items', cursor_field: 'last_updated', since_param: 'updated_since' },
        replay: { geckoMarketCount: 7 },
      },
      table: marketsTable,
      cursor: 'last_updated',
      rows: 7,
      pages: 3,
      values: [
        { id: 'bitcoin', symbol: 'btc', current_price: 69649, market_cap_rank: 1, max_supply: 21000000, last_updated: new Date('2024-06-10T00:09:31.736Z') },
        { id: 'coin-7', symbol: 'c7', current_price: 106.1, market_cap_rank: 7, max_supply: 114323478, last_updated: new Date('2024-06-10T00:07:00.000Z') },
      ],
      // The job maps six of CoinGecko's fields; the others reach the raw lake and are reported.
      unmappedFields: [
        'ath', 'ath_change_percentage', 'ath_date', 'atl', 'atl_change_percentage', 'atl_date', 'circulating_supply', 'fully_diluted_valuation',
        'high_24h', 'image', 'low_24h', 'market_cap', 'market_cap_change_24h', 'market_cap_change_percentage_24h', 'name',
        'price_change_24h', 'price_change_percentage_24h', 'roi', 'total_supply', 'total_volume',
      ],
      // The largest last_updated read (2024-06-10T00:09:35.057Z), sent back as updated_since.
      state: { watermark: 1717978175057 },
      rerunRequests: ['/rest/offset/markets?updated_since=2024-06-10T00%3A09%3A35.057Z&offset=0&limit=3'],
    },
  ],
};
