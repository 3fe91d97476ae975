// Local HTTP server replaying recorded CoinCap payloads (and generated Binance klines under /binance, CoinLore under
// /coinlore/api, an EVM JSON-RPC node at /evm, CoinGecko and generic REST paging under /coingecko and /rest) on
// loopback, for tests and the offline demo: real sockets, real status codes, injectable faults, and a log of every request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../core/errors.ts';
import { BinanceWeightWindow, routeBinance, type BinanceUsage } from '../sources/binance/binance-replay-routes.ts';
import { routeCoincap, type CoincapData } from '../sources/coincap/coincap-replay-routes.ts';
import { v3View } from '../sources/coincap/coincap-replay-v3.ts';
import { loadCoinloreData } from '../sources/coinlore/coinlore-replay-data.ts';
import { routeCoinlore } from '../sources/coinlore/coinlore-replay-routes.ts';
import { EvmChain } from '../sources/evm/evm-replay-chain.ts';
import { EvmRpcNode } from '../sources/evm/evm-replay-rpc.ts';
import { loadGeckoMarkets, routeCoingecko, routeRest } from '../sources/rest/rest-replay-routes.ts';
import { FaultQueue, faultResponse, reshapeResponse, type Fault } from './faults.ts';
import { assetsOfCount } from '../sources/coincap/coincap-replay-assets.ts';
import { REPLAY_BINANCE_SYMBOLS } from '../sources/binance/binance-replay-klines.ts';
import { loadRecordedFixtures, type CollectionName } from './recorded-fixtures.ts';
import { RateWindow } from './rate-window.ts';
import { errorResponse, writeResponse, writeTruncated, type ReplayResponse } from './replay-response.ts';

export type { Fault, FaultKind } from './faults.ts';

export interface ReplayOptions {
  /** Port to listen on. Default 0: a free port. The server always binds 127.0.0.1. */
  port?: number;
  /** Requests allowed per sliding 60 s window; beyond it 429 with Retry-After. Default: unlimited. */
  rateLimitPerMinute?: number;
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
  /** Binance request weight allowed per window; beyond it 429 (then 418). Default 6000, Binance's limit. */
  binanceWeightPerMinute?: number;
  /** Length of Binance's weight window in ms. Default 60 000; tests shrink it to scale time. */
  binanceWindowMs?: number;
  /** Binance symbols served. Default REPLAY_BINANCE_SYMBOLS. */
  binanceSymbols?: string[];
  /** ISO time of the first Binance candle. Default '2017-07-14T00:00:00Z' (Binance's launch). */
  binanceHistoryStart?: string;
  /** CoinLore coins served by /coinlore/api/tickers/ (the three format examples first). Default 250. */
  coinloreCoinCount?: number;
  /** Shape of CoinLore's /ticker/ items: 'current' (default) or 'legacy' (pre-2024). */
  coinloreTickerShape?: 'current' | 'legacy';
  /** Latest block of the /evm JSON-RPC node. Default 20 000 (blocks every 12 s from 2024-06-10T00:00Z). */
  evmHead?: number;
  /** Widest eth_getLogs block range the /evm node accepts. Default 1000. */
  evmMaxBlockRange?: number;
  /** Markets served by /coingecko/api/v3/coins/markets and /rest/<style>/markets. Default 7. */
  geckoMarketCount?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Request headers, names lower-cased. */
  headers: Record<string, string | undefined>;
  /** Status sent; 0 while the answer is pending and for `reset` faults (no response). */
  status: number;
  /** Arrival time, ms since epoch. */
  at: number;
}

export interface ReplayServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + '/v2' */
  coincapV2Url: string;
  /** url + '/v3' */
  coincapV3Url: string;
  /** url + '/binance' (klines at `${binanceUrl}/api/v3/klines`). */
  binanceUrl: string;
  /** Weight the Binance routes accepted and refused so far. */
  binanceUsage(): BinanceUsage;
  /** url + '/coinlore/api' (CoinLore's paths follow, e.g. `/tickers/`). */
  coinloreUrl: string;
  /** url + '/evm': the JSON-RPC node (POST). */
  evmUrl: string;
  /** The JSON-RPC node: its chain and per-method call counts. */
  evm: EvmRpcNode;
  /** url + '/coingecko/api/v3'. */
  coingeckoUrl: string;
  /** Every request in arrival order. */
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Replace the records a collection serves: 'assets' | 'exchanges' | 'rates' | 'markets' (for tests that change data between runs). */
  setData(collection: CollectionName, records: Record<string, unknown>[]): void;
  getData(collection: CollectionName): Record<string, unknown>[];
  close(): Promise<void>;
}

const DEFAULT_HISTORY_START = '2023-01-01T00:00:00Z';
const DEFAULT_HISTORY_END = '2025-01-01T00:00:00Z';
const DEFAULT_SLOW_MS = 1000;

function parseIso(name: string, value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ConfigError(`${name} is not an ISO date: ${value}`, { field: name, hint: `give ${name} as an ISO-8601 date, e.g. 2024-01-01T00:00:00Z` });
  return ms;
}

function recordedHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function firstValues(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in values)) values[name] = value;
  return values;
}

function isAuthorized(req: IncomingMessage, query: URLSearchParams, apiKey: string): boolean {
  return req.headers.authorization === `Bearer ${apiKey}` || query.get('apiKey') === apiKey;
}

/** Start a replay server on 127.0.0.1; call close() when done. Defaults are listed on ReplayOptions. */
export async function startReplayServer(opts: ReplayOptions = {}): Promise<ReplayServer> {
  const fixtures = await loadRecordedFixtures();
  const data: CoincapData = {
    collections: {
      ...fixtures.collections,
      assets: assetsOfCount(fixtures.collections.assets, opts.assetCount ?? fixtures.collections.assets.length),
    },
    bitcoinHistory: fixtures.bitcoinHistory,
    range: {
      startMs: parseIso('historyStart', opts.historyStart ?? DEFAULT_HISTORY_START),
      endMs: parseIso('historyEnd', opts.historyEnd ?? DEFAULT_HISTORY_END),
    },
  };
  const faults = new FaultQueue();
  const rateWindow = opts.rateLimitPerMinute === undefined ? undefined : new RateWindow(opts.rateLimitPerMinute);
  const binanceWeight = new BinanceWeightWindow(opts.binanceWeightPerMinute, opts.binanceWindowMs);
  const binance = {
    symbols: new Set<string>(opts.binanceSymbols ?? REPLAY_BINANCE_SYMBOLS),
    historyStartMs: parseIso('binanceHistoryStart', opts.binanceHistoryStart ?? '2017-07-14T00:00:00Z'),
  };
  const coinlore = await loadCoinloreData(opts.coinloreCoinCount);
  const geckoMarkets = await loadGeckoMarkets(opts.geckoMarketCount);
  const evm = new EvmRpcNode(new EvmChain({ head: opts.evmHead }), { maxBlockRange: opts.evmMaxBlockRange });
  const closing = new AbortController();
  const sockets = new Set<Socket>();

  /** Everything but transport-level faults: rate limit, deprecation, auth, then the routes. */
  function answer(req: IncomingMessage, path: string, query: URLSearchParams): ReplayResponse {
    if (path.startsWith('/binance/')) return routeBinance(path.slice('/binance'.length), query, binance, binanceWeight, Date.now());
    if (path.startsWith('/coinlore/api/')) return routeCoinlore(coinlore, path.slice('/coinlore/api'.length), query, { tickerShape: opts.coinloreTickerShape });
    if (path.startsWith('/coingecko/api/v3/')) return routeCoingecko(geckoMarkets, path.slice('/coingecko/api/v3'.length), query);
    if (path.startsWith('/rest/')) return routeRest(geckoMarkets, path.slice('/rest'.length), query, replay.url);
    const version = /^\/(v2|v3)(\/.*)?$/.exec(path);
    if (!version) return errorResponse(404, 'not found');
    if (version[1] === 'v2' && opts.deprecatedV2) {
      return { status: 200, contentType: 'application/json', body: fixtures.deprecatedV2Body };
    }
    if (version[1] === 'v3' && opts.apiKey !== undefined && !isAuthorized(req, query, opts.apiKey)) {
      return errorResponse(401, 'Unauthorized');
    }
    return routeCoincap(version[1] === 'v3' ? v3View(data) : data, version[2] ?? '/', query);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: RecordedRequest, url: URL): Promise<void> {
    const send = async (response: ReplayResponse): Promise<void> => {
      entry.status = response.status;
      await writeResponse(req, res, response);
    };
    const retryAfter = rateWindow?.admit(entry.at);
    if (retryAfter !== undefined) {
      return send({ ...errorResponse(429, 'rate limit exceeded'), headers: { 'retry-after': String(retryAfter) } });
    }
    const rpc = url.pathname === '/evm';
    if (rpc ? req.method !== 'POST' : req.method !== 'GET') {
      return send({ ...errorResponse(405, 'method not allowed'), headers: { allow: rpc ? 'POST' : 'GET' } });
    }
    const fault = faults.take(url.pathname);
    const fixed = fault && faultResponse(fault);
    if (fixed) return send(fixed);
    if (fault?.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'slow') await sleep(fault.delayMs ?? DEFAULT_SLOW_MS, undefined, { signal: closing.signal });
    const response = reshapeResponse(fault, rpc ? await evm.answer(req) : answer(req, url.pathname, url.searchParams));
    if (fault?.kind === 'truncate') {
      entry.status = response.status;
      return writeTruncated(req, res, response);
    }
    return send(response);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: firstValues(url.searchParams),
      headers: recordedHeaders(req),
      status: 0,
      at: Date.now(),
    };
    replay.requests.push(entry);
    handle(req, res, entry, url).catch(() => {
      // A client that went away, or a server closing mid-delay: nothing left to answer.
      if (!res.headersSent && !res.destroyed) {
        entry.status = 500;
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"replay server error"}');
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const replay: ReplayServer = {
    url,
    coincapV2Url: `${url}/v2`,
    coincapV3Url: `${url}/v3`,
    binanceUrl: `${url}/binance`,
    binanceUsage: () => ({ ...binanceWeight.usage }),
    coinloreUrl: `${url}/coinlore/api`,
    evmUrl: `${url}/evm`,
    evm,
    coingeckoUrl: `${url}/coingecko/api/v3`,
    requests: [],
    inject: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    setData(collection, records) {
      data.collections[collection] = records.map((record) => ({ ...record }));
    },
    getData: (collection) => data.collections[collection].map((record) => ({ ...record })),
    close() {
      closing.abort();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return replay;
}
