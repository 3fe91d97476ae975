// End to end: the declarative REST source — jobs defined wholly in the catalog — through the replay server, on DuckDB
// and PostgreSQL: CoinGecko /coins/markets from examples/coingecko.yaml, every pagination style, incremental loads on
// a cursor field, a secret in a named header, and clear errors for an HTML page or a changed shape.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogJob, loadCatalogJob, validateCatalog } from '../src/catalog/catalog-job.ts';
import { catalogOf, parseCatalogObject, readCatalogFile } from '../src/catalog/config-file.ts';
import { readCatalog } from '../src/catalog/catalog-read.ts';
import { catalogToYaml } from '../src/catalog/catalog-yaml.ts';
import { sealSecret } from '../src/catalog/secret-box.ts';
import { loadGeckoMarkets } from '../src/replay/index.ts';
import { runJob } from '../src/runner/run-job.ts';
import { loopbackApi } from './helpers/loopback-api.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

let env: SpineEnv;
afterEach(async () => {
  const done = env;
  env = undefined as unknown as SpineEnv;
  await done?.close();
});

const lineage = ({ _run_id: _r, _loaded_at: _l, ...rest }: Record<string, unknown>) => rest;
const restRequests = () => env.replay.requests.filter((r) => r.path.startsWith('/rest/') || r.path.startsWith('/coingecko/')).map((r) => `${r.path}?${new URLSearchParams(r.query)}`);

/** The columns every style's test job maps. */
const COLUMNS = [
  { column_name: 'id', mapping_column: 'id', datatype: 'VARCHAR' },
  { column_name: 'symbol', mapping_column: 'symbol', datatype: 'VARCHAR' },
  { column_name: 'current_price', mapping_column: 'current_price', datatype: 'DOUBLE' },
  { column_name: 'market_cap_rank', mapping_column: 'market_cap_rank', datatype: 'INTEGER' },
  { column_name: 'max_supply', mapping_column: 'max_supply', datatype: 'DOUBLE' },
  { column_name: 'last_updated', mapping_column: 'last_updated', datatype: 'TIMESTAMPTZ' },
];

/** A one-entry catalog with a rest.records job on the replay server, run through the runner. */
function restJob(params: Record<string, string | number>, extra: Record<string, unknown> = {}, connection: Record<string, unknown> = {}) {
  const catalog = catalogOf(
    parseCatalogObject(
      {
        connections: [{ name: 'REPLAY_REST', url: env.replay.url, ...connection }],
        ingestions: [{ connection: 'REPLAY_REST', asset: 'MARKETS', target_table: 'rest_markets', source: 'rest.records', params, primary_key: ['id'], columns: COLUMNS, ...extra }],
      },
      'test catalog',
    ),
  );
  return catalog;
}

async function run(catalog: ReturnType<typeof restJob>, opts: { env?: NodeJS.ProcessEnv } = {}) {
  const job = catalogJob(catalog.connections[0], catalog.ingestions[0], opts, { rateLimitPerMinute: 0, http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 2 } });
  return runJob(job, { session: env.session, lake: env.lake, progress: false });
}

const expectedRows = async (count: number) =>
  (await loadGeckoMarkets(count)).map((m) => ({
    id: m.id,
    symbol: m.symbol,
    current_price: m.current_price,
    market_cap_rank: m.market_cap_rank,
    max_supply: m.max_supply,
    last_updated: new Date(String(m.last_updated)),
  }));

const loaded = async () => (await env.session.query<Record<string, unknown>>('SELECT * FROM coinlake.rest_markets ORDER BY market_cap_rank')).map(lineage);

describe.each(WAREHOUSES)('declarative REST source on %s', (kind) => {
  it('CoinGecko /coins/markets from examples/coingecko.yaml: page-number paging of 250, exact rows, NULL max_supply, roi as JSON', async () => {
    env = await spineEnv(kind, { geckoMarketCount: 600 });
    const catalog = await readCatalogFile('examples/coingecko.yaml');
    const job = catalogJob(catalog.connections[0], catalog.ingestions[0], {}, { baseUrls: { rest: env.replay.coingeckoUrl }, rateLimitPerMinute: 0 });
    const s = await runJob(job, { session: env.session, lake: env.lake, progress: false });
    expect(restRequests()).toEqual([1, 2, 3].map((p) => `/coingecko/api/v3/coins/markets?vs_currency=usd&order=market_cap_desc&page=${p}&per_page=250`));
    expect(s.pages).toBe(3);
    expect(s.load).toEqual({ inserted: 600, updated: 0, deleted: 0 });
    const rows = await env.session.query<Record<string, unknown>>('SELECT * FROM coinlake.coingecko_markets ORDER BY market_cap_rank LIMIT 2');
    expect(rows.map(lineage)).toEqual([
      {
        id: 'bitcoin', symbol: 'btc', name: 'Bitcoin', current_price: 69649, market_cap: 1372853184637, market_cap_rank: 1, fully_diluted_valuation: 1462617360014,
        total_volume: 20154184933, high_24h: 70215, low_24h: 69068, price_change_percentage_24h: 0.31745, circulating_supply: 19711043, total_supply: 21000000,
        max_supply: 21000000, ath: 73738, ath_date: new Date('2024-03-14T07:10:36.635Z'), roi: null, last_updated: new Date('2024-06-10T00:09:31.736Z'),
      },
      {
        id: 'ethereum', symbol: 'eth', name: 'Ethereum', current_price: 3682.18, market_cap: 442409512739, market_cap_rank: 2, fully_diluted_valuation: 442409512739,
        total_volume: 9711183174, high_24h: 3718.3, low_24h: 3665.01, price_change_percentage_24h: -0.51198, circulating_supply: 120148770.243751, total_supply: 120148770.243751,
        max_supply: null, ath: 4878.26, ath_date: new Date('2021-11-10T14:24:19.604Z'), roi: { times: 52.98514, currency: 'btc', percentage: 5298.514 }, last_updated: new Date('2024-06-10T00:09:35.057Z'),
      },
    ]);
    const [{ n }] = await env.session.query<{ n: number }>('SELECT count(*) AS n FROM coinlake.coingecko_markets WHERE max_supply IS NULL');
    expect(Number(n)).toBe(1 + 200); // ethereum and every 3rd generated coin (ranks 3, 6, …, 600)
  });

  it('offset/limit paging with a nested records path', async () => {
    env = await spineEnv(kind);
    const s = await run(restJob({ path: '/rest/offset/markets', pagination: 'offset', page_size: 3, records_path: 'result.items' }));
    expect(restRequests()).toEqual(['/rest/offset/markets?offset=0&limit=3', '/rest/offset/markets?offset=3&limit=3', '/rest/offset/markets?offset=6&limit=3']);
    expect(s.pages).toBe(3);
    expect(await loaded()).toEqual(await expectedRows(7));
  });

  it('cursor paging: the next cursor from a field of the body until it is null', async () => {
    env = await spineEnv(kind);
    await run(restJob({ path: '/rest/cursor/markets', pagination: 'cursor', records_path: 'data', cursor_path: 'meta.next_cursor', cursor_param: 'cursor' }));
    expect(restRequests()).toEqual(['/rest/cursor/markets?', '/rest/cursor/markets?cursor=Mw', '/rest/cursor/markets?cursor=Ng']);
    expect(await loaded()).toEqual(await expectedRows(7));
  });

  it('Link header paging: rel="next" until there is none', async () => {
    env = await spineEnv(kind);
    await run(restJob({ path: '/rest/link/markets', pagination: 'link', 'query.per_page': 3 }));
    expect(restRequests()).toEqual(['/rest/link/markets?per_page=3', '/rest/link/markets?per_page=3&page=2', '/rest/link/markets?per_page=3&page=3']);
    expect(await loaded()).toEqual(await expectedRows(7));
  });

  it('Link header paging with relative URLs (RFC 8288 form </v1/items?page=2>) resolved against the request URL', async () => {
    env = await spineEnv(kind);
    const items = (await expectedRows(5)).map((r) => ({ ...r, last_updated: r.last_updated.toISOString() }));
    // Page 1 links with a path-absolute reference, page 2 with a query-only one (`<?page=3>`), page 3 has no next.
    const links: Record<string, string | undefined> = { '1': '</v1/items?page=2>; rel="next"', '2': '<?page=3>; rel="next", </v1/items?page=1>; rel="first"', '3': undefined };
    const site = await loopbackApi((url) => {
      const page = url.searchParams.get('page') ?? '1';
      return { headers: links[page] ? { link: links[page] } : undefined, body: items.slice((Number(page) - 1) * 2, Number(page) * 2) };
    });
    try {
      await run(restJob({ path: '/v1/items', pagination: 'link' }, {}, { url: site.url }));
      expect(site.paths).toEqual(['/v1/items', '/v1/items?page=2', '/v1/items?page=3']);
      expect(await loaded()).toEqual(await expectedRows(5));
    } finally {
      await site.close();
    }
  });

  it('params.rate_limit_per_minute sets the request rate, from YAML and from the meta tables (extra_parameters): 24 per minute is 2 per 5 s', async () => {
    env = await spineEnv(kind);
    const items = (await expectedRows(5)).map((r) => ({ ...r, last_updated: r.last_updated.toISOString() }));
    const api = await loopbackApi((url) => {
      const page = Number(url.searchParams.get('page'));
      return { body: items.slice((page - 1) * 2, page * 2) };
    });
    try {
      const catalog = restJob({ path: '/v1/items', pagination: 'page', page_size: 2, rate_limit_per_minute: 24 }, {}, { url: api.url });
      expect(catalogJob(catalog.connections[0], catalog.ingestions[0]).rateLimitPerMinute).toBe(24);
      // Through the meta tables, as `coinlake run -s -a` reads it; the rate is no stream parameter.
      const job = await loadCatalogJob(env.session, { connection: 'REPLAY_REST', asset: 'MARKETS', seed: catalog, seedLabel: 'test catalog' });
      const [cfg] = await env.session.query<{ extra_parameters: string }>(`SELECT extra_parameters FROM coinlake_meta.ingestion_config WHERE table_name = 'MARKETS'`);
      expect(JSON.parse(cfg.extra_parameters)).toMatchObject({ rate_limit_per_minute: 24 });
      expect(job.rateLimitPerMinute).toBe(24);
      expect(job.params.rate_limit_per_minute).toBeUndefined();
      await runJob(job, { session: env.session, lake: env.lake, progress: false });
      expect(api.paths).toEqual([1, 2, 3].map((p) => `/v1/items?page=${p}&per_page=2`));
      const at = api.requests.map((r) => r.at - api.requests[0].at);
      expect(at[1]).toBeLessThan(2_000);
      expect(at[2]).toBeGreaterThanOrEqual(4_900); // the third request waits for the next 5 s window
      expect(await loaded()).toEqual(await expectedRows(5));
      // An endpoint override (--rate, or --replay's 0) wins over the catalog.
      expect(catalogJob(catalog.connections[0], catalog.ingestions[0], {}, { rateLimitPerMinute: 600 }).rateLimitPerMinute).toBe(600);
      const bad = restJob({ path: '/v1/items', rate_limit_per_minute: 'fast' }, {}, { url: api.url });
      expect(() => catalogJob(bad.connections[0], bad.ingestions[0])).toThrow('MARKETS: params.rate_limit_per_minute must be a whole number of requests per minute (0 = unlimited), got "fast"');
      expect(validateCatalog(bad)).toEqual(['ingestions[0] (REPLAY_REST/MARKETS): params.rate_limit_per_minute must be a whole number of requests per minute (0 = unlimited), got "fast"']);
    } finally {
      await api.close();
    }
  });

  it('a connection\'s rate_limit_per_minute applies to its ingestions (meta tables and YAML export keep it); params.rate_limit_per_minute overrides it', async () => {
    env = await spineEnv(kind);
    const catalog = restJob({ path: '/v1/items' }, {}, { url: 'http://127.0.0.1:9', rate_limit_per_minute: 24 });
    const job = await loadCatalogJob(env.session, { connection: 'REPLAY_REST', asset: 'MARKETS', seed: catalog, seedLabel: 'test catalog' });
    expect(job.rateLimitPerMinute).toBe(24);
    const [conn] = await env.session.query<{ rate_limit_per_minute: number }>(`SELECT rate_limit_per_minute FROM coinlake_meta.ingestion_connection_info WHERE connection_name = 'REPLAY_REST'`);
    expect(Number(conn.rate_limit_per_minute)).toBe(24);
    const stored = await readCatalog(env.session);
    expect(stored.connections[0].rate_limit_per_minute).toBe(24);
    expect(catalogToYaml(stored)).toContain('rate_limit_per_minute: 24');
    const own = restJob({ path: '/v1/items', rate_limit_per_minute: 30 }, {}, { url: 'http://127.0.0.1:9', rate_limit_per_minute: 24 });
    expect(catalogJob(own.connections[0], own.ingestions[0]).rateLimitPerMinute).toBe(30);
    expect(() => restJob({ path: '/v1/items' }, {}, { rate_limit_per_minute: -1 })).toThrow('rate_limit_per_minute');
  });

  it('a Link header naming an invalid URL fails at once, naming the URL, without retries', async () => {
    env = await spineEnv(kind);
    const items = (await expectedRows(2)).map((r) => ({ ...r, last_updated: r.last_updated.toISOString() }));
    const site = await loopbackApi(() => ({ headers: { link: '<http://bad host:99999/v1/items?page=2>; rel="next"' }, body: items }));
    try {
      const t0 = Date.now();
      const err = await run(restJob({ path: '/v1/items', pagination: 'link' }, {}, { url: site.url })).catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(((err as Error).cause as Error).name).toBe('TerminalError');
      expect((err as Error).message).toBe(`the Link header of ${site.url}/v1/items names an invalid next URL: "http://bad host:99999/v1/items?page=2"`);
      expect(site.paths).toEqual(['/v1/items']);
    } finally {
      await site.close();
    }
  });

  it('page-number paging stops on a short page; a URL template takes params', async () => {
    env = await spineEnv(kind, { geckoMarketCount: 5 });
    await run(restJob({ path: '/coingecko/api/v3/{what}/markets', what: 'coins', 'query.vs_currency': 'usd', pagination: 'page', page_size: 2, size_param: 'per_page' }));
    expect(restRequests()).toEqual([1, 2, 3].map((p) => `/coingecko/api/v3/coins/markets?vs_currency=usd&page=${p}&per_page=2`));
    expect(await loaded()).toEqual(await expectedRows(5));
  });

  it('incremental on a cursor field: the watermark is committed and sent back as updated_since', async () => {
    env = await spineEnv(kind);
    const catalog = restJob(
      { path: '/rest/offset/markets', pagination: 'offset', page_size: 10, records_path: 'result.items', cursor_field: 'last_updated', since_param: 'updated_since' },
      { load_type: 'INCR', incremental_date_column: 'last_updated' },
    );
    const first = await run(catalog);
    const newest = Math.max(...(await expectedRows(7)).map((r) => r.last_updated.getTime()));
    expect(first.state).toEqual({ watermark: newest });
    expect(first.rowsLoaded).toBe(7);
    const second = await run(catalog);
    expect(restRequests()[1]).toBe(`/rest/offset/markets?updated_since=${encodeURIComponent(new Date(newest).toISOString())}&offset=0&limit=10`);
    expect(second.rowsLoaded).toBe(0);
    const [state] = await env.session.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state WHERE table_name = 'MARKETS'`);
    expect(JSON.parse(state.state)).toEqual({ watermark: newest });
  });

  it('a connection secret goes in the header params.auth_header names, and never in Authorization', async () => {
    env = await spineEnv(kind);
    const hex = randomBytes(32).toString('hex');
    const secret = `cg-${randomBytes(8).toString('hex')}`;
    const catalog = restJob(
      { path: '/rest/link/markets', pagination: 'none', auth_header: 'x-cg-demo-api-key' },
      {},
      { auth_type: 'bearer', secret_encrypted: sealSecret(secret, 'REPLAY_REST', Buffer.from(hex, 'hex')) },
    );
    await run(catalog, { env: { COINLAKE_SECRET_KEY: hex } });
    const [req] = env.replay.requests;
    expect(req.headers['x-cg-demo-api-key']).toBe(secret);
    expect(req.headers.authorization).toBeUndefined();
  });

  it('an HTML page instead of JSON fails with the URL and what came back', async () => {
    env = await spineEnv(kind);
    const err = await run(restJob({ path: '/rest/html/markets' })).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`${env.replay.url}/rest/html/markets answered an HTML page (content-type text/html; charset=UTF-8), not JSON: <!DOCTYPE html> <html><head><title>Just a moment...</title></head><body><h1>Checking your browser</h1></body></html>`);
  });

  it('a records path that does not match fails with the URL and the path', async () => {
    env = await spineEnv(kind);
    const err = await run(restJob({ path: '/rest/shape/markets', records_path: 'data' })).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`unexpected response from ${env.replay.url}/rest/shape/markets: expected an array of records at records_path "data", got an object with keys message`);
    const missing = await run(restJob({ path: '/rest/shape/markets', records_path: 'result.items' })).catch((e: unknown) => e);
    expect((missing as Error).message).toBe(`unexpected response from ${env.replay.url}/rest/shape/markets: records_path "result.items" does not match — the body is an object with keys data`);
  });
});

