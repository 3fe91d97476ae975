// End to end: CoinLore through the replay server → lake → warehouse, on DuckDB and PostgreSQL: paging by start/limit,
// CoinLore's mixed types, "" and 0000-00-00 as NULL, both /ticker/ shapes, per-coin streams, clear shape errors.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCoinloreData, type CoinloreData } from '../src/replay/index.ts';
import { buildJob } from '../src/runner/job-builder.ts';
import { RunFailedError, runJob } from '../src/runner/run-job.ts';
import { loopbackApi } from './helpers/loopback-api.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const format = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/formats/${name}`, import.meta.url), 'utf8'));
const TICKERS_TIME = new Date(1717978200 * 1000);

let env: SpineEnv;
let data: CoinloreData;
afterEach(async () => {
  const done = env;
  env = undefined as unknown as SpineEnv;
  await done?.close();
});

const rows = (sql: string) => env.session.query<Record<string, unknown>>(sql);
const coinloreRequests = () => env.replay.requests.filter((r) => r.path.startsWith('/coinlore/')).map((r) => `${r.path}${Object.keys(r.query).length ? `?${new URLSearchParams(r.query)}` : ''}`);
const num = (v: unknown) => (v === '' ? null : Number(v));
const lineage = ({ _run_id: _r, _loaded_at: _l, ...rest }: Record<string, unknown>) => rest;

/** The row a /tickers/ item must become. */
function tickerRow(t: Record<string, unknown>, snapshot: Date | null = TICKERS_TIME): Record<string, unknown> {
  return {
    id: t.id, symbol: t.symbol, name: t.name, nameid: t.nameid, rank: t.rank,
    price_usd: num(t.price_usd), percent_change_24h: num(t.percent_change_24h), percent_change_1h: num(t.percent_change_1h),
    percent_change_7d: num(t.percent_change_7d), price_btc: num(t.price_btc), market_cap_usd: num(t.market_cap_usd),
    volume24: num(t.volume24), volume24a: t.volume24a === undefined ? null : num(t.volume24a),
    csupply: num(t.csupply), tsupply: num(t.tsupply), msupply: num(t.msupply), snapshot_time: snapshot,
  };
}

describe.each(WAREHOUSES)('CoinLore on %s', (kind) => {
  it('tickers: 250 coins in pages of 100 until info.coins_num; strings and numbers typed, msupply "" → NULL', async () => {
    env = await spineEnv(kind);
    data = await loadCoinloreData();
    const s = await env.run('coinlore.tickers');
    expect(coinloreRequests()).toEqual(['/coinlore/api/tickers/?start=0&limit=100', '/coinlore/api/tickers/?start=100&limit=100', '/coinlore/api/tickers/?start=200&limit=100']);
    expect(s.pages).toBe(3);
    expect(s.load).toEqual({ inserted: 250, updated: 0, deleted: 0 });
    expect(s.rowsQuarantined).toBe(0);
    const loaded = await rows('SELECT * FROM coinlake.coinlore_tickers ORDER BY rank');
    expect(loaded.map(lineage)).toEqual(data.tickers.map((t) => tickerRow(t)));
    // The three format examples, as CoinLore sent them.
    expect(lineage(loaded[0])).toEqual({
      id: '90', symbol: 'BTC', name: 'Bitcoin', nameid: 'bitcoin', rank: 1, price_usd: 69649.73, percent_change_24h: 0.32,
      percent_change_1h: 0.05, percent_change_7d: -1.07, price_btc: 1, market_cap_usd: 1372853184637.19, volume24: 26551212429.49,
      volume24a: 24063575479.22, csupply: 19711043, tsupply: 19711043, msupply: 21000000, snapshot_time: TICKERS_TIME,
    });
    const uncapped = await rows(`SELECT id FROM coinlake.coinlore_tickers WHERE msupply IS NULL ORDER BY rank`);
    expect(uncapped.map((r) => r.id)).toEqual(data.tickers.filter((t) => t.msupply === '').map((t) => t.id));
    expect(uncapped.slice(0, 2).map((r) => r.id)).toEqual(['80', '518']);
    expect(uncapped).toHaveLength(2 + 62); // ETH, USDT and every 4th generated coin (ranks 4, 8, …, 248)
    const raw = JSON.parse(gunzipSync(readFileSync(path.join(env.lake.root, s.lakePaths[0]))).toString());
    expect(raw.data.slice(0, 3)).toEqual(format('coinlore-tickers-start0-limit3.json').data);
  });

  it('tickers: limit and max bound the pages; a rerun changes nothing', async () => {
    env = await spineEnv(kind);
    const s = await env.run('coinlore.tickers', { params: { limit: 60, max: 150 } });
    expect(coinloreRequests()).toEqual(['/coinlore/api/tickers/?start=0&limit=60', '/coinlore/api/tickers/?start=60&limit=60', '/coinlore/api/tickers/?start=120&limit=30']);
    expect(s.rowsLoaded).toBe(150);
    const again = await env.run('coinlore.tickers', { params: { limit: 500, max: 150 } });
    expect(again.pages).toBe(2); // limit is capped at 100
    expect(again.load).toEqual({ inserted: 0, updated: 0, deleted: 0 });
  });

  it('global: the array of one object becomes one row of the snapshot', async () => {
    env = await spineEnv(kind);
    const before = Math.floor(Date.now() / 1000) * 1000;
    const s = await env.run('coinlore.global');
    expect(s.load).toEqual({ inserted: 1, updated: 0, deleted: 0 });
    const [row] = await rows('SELECT * FROM coinlake.coinlore_global');
    const { snapshot_time, ...values } = lineage(row);
    expect(values).toEqual({
      coins_count: 14993, active_markets: 28840, total_mcap: 2589177854944.69, total_volume: 120828883081.005, btc_d: 59.5, eth_d: 11.3,
      mcap_change: -1.12, volume_change: 10.84, avg_change_percent: -0.17, volume_ath: 344187126190825200, mcap_ath: 33248067879029.688,
    });
    expect((snapshot_time as Date).getTime()).toBeGreaterThanOrEqual(before); // the response's Date header
  });

  it('exchanges: the object keyed by id becomes rows; both shapes; 0000-00-00 and "" dates → NULL', async () => {
    env = await spineEnv(kind);
    const s = await env.run('coinlore.exchanges');
    expect(s.rowsLoaded).toBe(6);
    const loaded = (await rows('SELECT * FROM coinlake.coinlore_exchanges ORDER BY id')).map(lineage).map(({ snapshot_time, ...r }) => {
      expect(snapshot_time).toBeInstanceOf(Date);
      return r;
    });
    expect(loaded).toEqual([
      { id: '113', name: 'Crex24', name_id: 'crex24', volume_usd: 2507461.65856224, active_pairs: null, url: 'https://crex24.com', country: 'Cyprus', date_live: '2017-01-01', date_added: new Date('2018-05-03T00:00:00Z') },
      { id: '187', name: 'Coinbase Pro', name_id: 'coinbase', volume_usd: 1705060864.9436858, active_pairs: null, url: 'https://www.coinbase.com/', country: 'San Francisco, California, United States', date_live: '2012-06-20', date_added: new Date('2018-07-14T00:00:00Z') },
      { id: '21', name: 'BTCExchange', name_id: 'btcexchange', volume_usd: 0, active_pairs: null, url: 'https://www.btcxchange.com', country: 'Philippines', date_live: null, date_added: null },
      { id: '5', name: 'Binance', name_id: 'binance', volume_usd: 7216670230.51, active_pairs: 914, url: 'https://www.binance.com', country: 'Japan', date_live: null, date_added: null },
      { id: '56', name: 'Kraken', name_id: 'kraken', volume_usd: 831383044.2069333, active_pairs: null, url: 'https://www.kraken.com', country: 'San Francisco, California, United States', date_live: null, date_added: null },
      { id: '9', name: 'Bitfinex', name_id: 'bitfinex2', volume_usd: 444695.18, active_pairs: 159, url: 'https://www.bitfinex.com', country: 'Hong Kong', date_live: null, date_added: null },
    ]);
    // Kraken's "2011-00-00" is no date: NULL, and quarantined with the reason (never silently dropped).
    expect(s.rowsQuarantined).toBe(1);
    const q = s.lakePaths.find((p) => p.startsWith('quarantine/'))!;
    const [entry] = readFileSync(path.join(env.lake.root, q), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entry).toMatchObject({ field: 'date_live', value: '2011-00-00' });
    expect(s.missingFields.sort()).toEqual(['active_pairs', 'date_added', 'date_live']);
    expect(s.unknownFields.sort()).toEqual(['auto', 'fiat', 'udate', 'usdt', 'volume_usd_adj']);
  });

  it('"0?" (CoinLore\'s unknown supply or market cap) loads NULL and quarantines nothing, even under on_invalid strict', async () => {
    env = await spineEnv(kind);
    // /tickers/ as documented (api-reference §3): prices and supplies as strings, volumes as numbers; "0?" where
    // CoinLore does not know a coin's supply or market cap.
    const ticker = (id: string, rank: number, over: Record<string, unknown>) => ({
      id, symbol: `C${id}`, name: `Coin ${id}`, nameid: `coin-${id}`, rank, price_usd: '1.50', percent_change_24h: '0.10', percent_change_1h: '-0.02',
      percent_change_7d: '3.00', price_btc: '0.00002', market_cap_usd: '1500.00', volume24: 120.5, volume24a: 110.25, csupply: '1000', tsupply: '2000', msupply: '',
      ...over,
    });
    const tickers = [
      ticker('101', 1, {}),
      ticker('102', 2, { csupply: '0?', market_cap_usd: '0?' }),
      ticker('103', 3, { tsupply: '0?', msupply: '0?' }),
    ];
    const api = await loopbackApi(() => ({ body: { data: tickers, info: { coins_num: 3, time: 1717978200 } } }));
    try {
      const job = { ...buildJob('coinlore.tickers', {}, { baseUrls: { coinlore: api.url }, rateLimitPerMinute: 0 }), onInvalid: 'strict' as const };
      const s = await runJob(job, { session: env.session, lake: env.lake, progress: false });
      expect(api.paths).toEqual(['/tickers/?start=0&limit=100']);
      expect(s.rowsQuarantined).toBe(0);
      expect(s.lakePaths.filter((p) => p.startsWith('quarantine/'))).toEqual([]);
      const loaded = await rows('SELECT id, market_cap_usd, csupply, tsupply, msupply FROM coinlake.coinlore_tickers ORDER BY rank');
      expect(loaded).toEqual([
        { id: '101', market_cap_usd: 1500, csupply: 1000, tsupply: 2000, msupply: null },
        { id: '102', market_cap_usd: null, csupply: null, tsupply: 2000, msupply: null },
        { id: '103', market_cap_usd: 1500, csupply: 1000, tsupply: null, msupply: null },
      ]);
    } finally {
      await api.close();
    }
  });

  it('exchange: the pairs of one exchange land in coinlore_markets with the exchange name and a canonical pair', async () => {
    env = await spineEnv(kind);
    const s = await env.run('coinlore.exchange', { params: { id: 5 } });
    expect(coinloreRequests()).toEqual(['/coinlore/api/exchange/?id=5']);
    expect(s.rowsLoaded).toBe(3);
    const loaded = (await rows('SELECT * FROM coinlake.coinlore_markets ORDER BY volume')).map(lineage);
    expect(loaded).toEqual([
      { exchange_name: 'Binance', base: 'BTC', quote: 'USDT', pair: 'BTC-USDT', price: 69627.41, price_usd: 69627.41, volume: 25915.3391, volume_usd: null, time: new Date(1717978141000) },
      { exchange_name: 'Binance', base: 'ETH', quote: 'USDT', pair: 'ETH-USDT', price: 3680.77, price_usd: 3680.77, volume: 188769.12, volume_usd: null, time: new Date(1717978141000) },
      { exchange_name: 'Binance', base: 'BNB', quote: 'USDT', pair: 'BNB-USDT', price: 709.4, price_usd: 709.4, volume: 391368.29, volume_usd: null, time: new Date(1717978139000) },
    ]);
  });

  it('coin_markets: the top N coins by rank (here 3), one request each', async () => {
    env = await spineEnv(kind);
    const s = await env.run('coinlore.coin_markets', { params: { top: 3 } });
    expect(coinloreRequests()).toEqual([
      '/coinlore/api/tickers/?start=0&limit=3',
      '/coinlore/api/coin/markets/?id=90',
      '/coinlore/api/coin/markets/?id=80',
      '/coinlore/api/coin/markets/?id=518',
    ]);
    expect(s.pages).toBe(3);
    expect(s.rowsLoaded).toBe(7);
    const btc = (await rows(`SELECT * FROM coinlake.coinlore_markets WHERE base = 'BTC' ORDER BY exchange_name`)).map(lineage);
    expect(btc).toEqual([
      { exchange_name: 'Binance', base: 'BTC', quote: 'USDT', pair: 'BTC-USDT', price: 69627.41, price_usd: 69627.41, volume: 25915.3391, volume_usd: 1804417398.385, time: new Date(1717978141000) },
      { exchange_name: 'Coinbase', base: 'BTC', quote: 'USD', pair: 'BTC-USD', price: 69648.01, price_usd: 69648.01, volume: 5920.2, volume_usd: 412331902.44, time: new Date(1717978134000) },
      { exchange_name: 'Coinone', base: 'BTC', quote: 'KRW', pair: 'BTC-KRW', price: 96011000, price_usd: 69822.9, volume: 115.03, volume_usd: 8031738.21, time: new Date(1717978098000) },
    ]);
    const [{ n }] = await rows('SELECT count(*) AS n FROM coinlake.coinlore_markets');
    expect(Number(n)).toBe(7);
  });

  it('coin_markets: the default N is 25', async () => {
    env = await spineEnv(kind);
    const s = await env.run('coinlore.coin_markets');
    const reqs = coinloreRequests();
    expect(reqs[0]).toBe('/coinlore/api/tickers/?start=0&limit=25');
    expect(reqs.filter((r) => r.startsWith('/coinlore/api/coin/markets/'))).toHaveLength(25);
    expect(s.rowsLoaded).toBe(3 + 24 * 2);
  });

  it('social_stats: flattened per coin; a null reddit figure stays NULL', async () => {
    env = await spineEnv(kind);
    await env.run('coinlore.social_stats', { params: { ids: '90,518' } });
    const loaded = (await rows('SELECT * FROM coinlake.coinlore_social_stats ORDER BY coin_id')).map(lineage).map(({ snapshot_time: _s, ...r }) => r);
    expect(loaded[0]).toMatchObject({ coin_id: '518', reddit_avg_active_users: null });
    expect(loaded[1]).toEqual({ coin_id: '90', reddit_avg_active_users: 4409.25, reddit_subscribers: 373581, twitter_followers_count: 414355, twitter_status_count: 1919 });
  });

  it('ticker: both /ticker/ shapes load into coinlore_tickers (legacy: volume24 as a string, no volume24a)', async () => {
    env = await spineEnv(kind, { coinloreTickerShape: 'legacy' });
    const legacy = await env.run('coinlore.ticker', { params: { id: '90,80' } });
    expect(coinloreRequests()).toEqual(['/coinlore/api/ticker/?id=90%2C80']);
    expect(legacy.missingFields).toEqual([]);
    expect(legacy.unknownFields).toEqual(['volume24_native']);
    const [btc] = (await rows(`SELECT * FROM coinlake.coinlore_tickers WHERE id = '90'`)).map(lineage);
    expect(btc).toMatchObject({ price_usd: 23864.25, volume24: 28850217961.42, volume24a: null, market_cap_usd: 460296162080.63, csupply: 19288102, msupply: 21000000 });
    await env.close();
    env = await spineEnv(kind);
    const current = await env.run('coinlore.ticker', { params: { id: '90' } });
    expect(current.unknownFields).toEqual([]);
    const [now] = (await rows(`SELECT * FROM coinlake.coinlore_tickers WHERE id = '90'`)).map(lineage);
    const { snapshot_time, ...values } = now;
    expect(snapshot_time).toBeInstanceOf(Date);
    const { snapshot_time: _t, ...expected } = tickerRow(format('coinlore-ticker-90.json')[0]);
    expect(values).toEqual(expected);
  });

  it('an unexpected shape fails the run with the URL and the path that did not match', async () => {
    env = await spineEnv(kind);
    const err = await env.run('coinlore.exchange', { params: { id: 999 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    const message = (err as Error).message;
    expect(message).toContain(`unexpected response from ${env.replay.coinloreUrl}/exchange/?id=999`);
    expect(message).toContain('at (the body)');
    expect(message).toContain('got an array of 0');
    const [run] = await rows(`SELECT execution_status, error_message FROM coinlake_meta.workflow_action_history`);
    expect(run.execution_status).toBe(-1);
  });

  it('an HTML error page that does not go away fails with the URL and the page', async () => {
    env = await spineEnv(kind);
    env.replay.inject({ kind: 'html', path: '/coinlore/api/global/', times: Infinity });
    const err = await env.run('coinlore.global').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(new RegExp(`^HTTP 502 from ${env.replay.coinloreUrl}/global/: <html>.*502 Bad Gateway`));
  });
});
