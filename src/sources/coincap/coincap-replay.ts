// CoinCap on the replay server: the recorded v2 payloads at /v2 and their v3 view at /v3 (which, given a key, requires
// `Authorization: Bearer <key>` or `?apiKey=`), generated assets beyond the recorded 100, generated history series.
import { parseIsoOption, type SourceReplayRoutes } from '../../replay/replay-mount.ts';
import { errorResponse, type ReplayResponse } from '../../replay/replay-response.ts';
import type { IncomingMessage } from 'node:http';
import { assetsOfCount } from './coincap-replay-assets.ts';
import { loadRecordedFixtures, type CollectionName } from './coincap-replay-fixtures.ts';
import { routeCoincap, type CoincapData } from './coincap-replay-routes.ts';
import { v3View } from './coincap-replay-v3.ts';

export interface CoincapReplayOptions {
  /** Assets served. Default 100 (the recorded ones); more appends generated `asset-101`… */
  assetCount?: number;
  /** When true every /v2 path answers 200 with the captured 2025 deprecation body. */
  deprecatedV2?: boolean;
  /** When set, /v3 requires `Authorization: Bearer <apiKey>` or `?apiKey=`; else 401. */
  apiKey?: string;
  /** ISO start of generated history series. Default '2023-01-01T00:00:00Z'. */
  historyStart?: string;
  /** ISO end (exclusive) of generated history series. Default '2025-01-01T00:00:00Z'. */
  historyEnd?: string;
}

export interface CoincapReplayApi {
  /** url + '/v2' */
  coincapV2Url: string;
  /** url + '/v3' */
  coincapV3Url: string;
  /** Replace the records a collection serves: 'assets' | 'exchanges' | 'rates' | 'markets' (for tests that change data between runs). */
  setData(collection: CollectionName, records: Record<string, unknown>[]): void;
  getData(collection: CollectionName): Record<string, unknown>[];
}

const DEFAULT_HISTORY_START = '2023-01-01T00:00:00Z';
const DEFAULT_HISTORY_END = '2025-01-01T00:00:00Z';

function isAuthorized(req: IncomingMessage, query: URLSearchParams, apiKey: string): boolean {
  return req.headers.authorization === `Bearer ${apiKey}` || query.get('apiKey') === apiKey;
}

/** CoinCap's replay routes for one server start. */
export async function coincapReplay(opts: CoincapReplayOptions): Promise<SourceReplayRoutes<CoincapReplayApi>> {
  const fixtures = await loadRecordedFixtures();
  const data: CoincapData = {
    collections: {
      ...fixtures.collections,
      assets: assetsOfCount(fixtures.collections.assets, opts.assetCount ?? fixtures.collections.assets.length),
    },
    bitcoinHistory: fixtures.bitcoinHistory,
    range: {
      startMs: parseIsoOption('historyStart', opts.historyStart ?? DEFAULT_HISTORY_START),
      endMs: parseIsoOption('historyEnd', opts.historyEnd ?? DEFAULT_HISTORY_END),
    },
  };
  const v2 = ({ path, query }: { path: string; query: URLSearchParams }): ReplayResponse =>
    opts.deprecatedV2 ? { status: 200, contentType: 'application/json', body: fixtures.deprecatedV2Body } : routeCoincap(data, path, query);
  return {
    mounts: [
      { prefix: '/v2', bare: 'also', answer: v2 },
      {
        prefix: '/v3',
        bare: 'also',
        answer: ({ req, path, query }) =>
          opts.apiKey !== undefined && !isAuthorized(req, query, opts.apiKey) ? errorResponse(401, 'Unauthorized') : routeCoincap(v3View(data), path, query),
      },
    ],
    api: (url) => ({
      coincapV2Url: `${url}/v2`,
      coincapV3Url: `${url}/v3`,
      setData(collection, records) {
        data.collections[collection] = records.map((record) => ({ ...record }));
      },
      getData: (collection) => data.collections[collection].map((record) => ({ ...record })),
    }),
  };
}
