// The dashboard's read-only JSON endpoints and its event stream. Each endpoint declares its parameters (anything
// else is a 400: no endpoint takes SQL) and runs the fixed queries of the *-queries.ts files on a pooled reader session.
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { CANDLE_INTERVALS } from '../core/candle-interval.ts';
import type { Session } from '../core/destination.ts';
import type { EventHub } from './events.ts';
import { CANDLES_COMMAND, overview } from './overview-queries.ts';
import { candleCatalog, candles } from './candle-queries.ts';
import { DEFAULT_CONSECUTIVE, DEFAULT_MAX_BPS, DEFAULT_TIMES, DIVERGENCE_GRAINS, DIVERGENCE_MISSING, divergence, divergencePairs, hasDivergenceTable, holdsPair } from './divergence-queries.ts';
import { freshness, latestQuality, recentRunItems } from './health-queries.ts';
import { HISTORY_INTERVALS, assetList, assetTrends, exchangeList, exchangeTrends } from './market-queries.ts';
import { ApiError, checkRange, decimal, idList, instant, integer, matching, oneOf, readParams, type ParamSpec, type ParsedParams } from './request-params.ts';
import type { SessionPool } from './session-pool.ts';
import { readWarehouseTables, type WarehouseTables } from './warehouse-tables.ts';
import { EXAMPLES } from '../sources/registry.ts';

/** What the API routes read from. */
export interface ApiDeps {
  pool: SessionPool;
  hub: EventHub;
  /** Aborted when the server shuts down: open event streams end. */
  shutdown: AbortSignal;
  /** How often an open event stream gets a keep-alive comment. Default 15 s. */
  keepAliveMs?: number;
}

const RANGE = { from: instant, to: instant };
const SYMBOL = matching(/^[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?$/, 'a symbol (BASE-QUOTE, e.g. BTC-USDT)');
const EXCHANGE = matching(/^[a-z0-9][a-z0-9_.-]{0,39}$/, `an exchange id (e.g. ${EXAMPLES.exchange})`);

/** Parses the request's query string against `spec`. */
function params<S extends ParamSpec>(c: Context, spec: S): ParsedParams<S> {
  return readParams(new URL(c.req.url).searchParams, spec);
}

/** The read-only API under /api. */
export function apiRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  const read = <T>(fn: (s: Session, t: WarehouseTables) => Promise<T>): Promise<T> =>
    deps.pool.use(async (s) => fn(s, await readWarehouseTables(s)));

  app.use('*', async (c, next) => {
    await next();
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
  });

  app.get('/overview', async (c) => {
    params(c, {});
    return c.json(await read(overview));
  });

  app.get('/assets', async (c) => {
    params(c, {});
    return c.json(await read(assetList));
  });

  app.get('/assets/trends', async (c) => {
    const p = params(c, { ids: idList(10), interval: oneOf(HISTORY_INTERVALS), ...RANGE });
    if (!p.ids) throw new ApiError('ids is required', 'e.g. /api/assets/trends?ids=bitcoin,ethereum');
    checkRange(p);
    const series = await read((s, t) => assetTrends(s, t, p.ids!, p));
    return c.json({ ids: p.ids, from: p.from?.toISOString() ?? null, to: p.to?.toISOString() ?? null, series });
  });

  app.get('/exchanges', async (c) => {
    params(c, {});
    return c.json(await read(exchangeList));
  });

  app.get('/exchanges/trends', async (c) => {
    const p = params(c, { ids: idList(10), ...RANGE });
    if (!p.ids) throw new ApiError('ids is required', `e.g. /api/exchanges/trends?ids=${EXAMPLES.exchange}`);
    checkRange(p);
    const series = await read((s, t) => exchangeTrends(s, t, p.ids!, p));
    return c.json({ ids: p.ids, series });
  });

  app.get('/candles/catalog', async (c) => {
    params(c, {});
    return c.json({ series: await read(candleCatalog) });
  });

  app.get('/candles', async (c) => {
    const p = params(c, { symbol: SYMBOL, interval: oneOf(CANDLE_INTERVALS), exchange: EXCHANGE, limit: integer(1, 10_000), ...RANGE });
    if (!p.symbol || !p.interval) throw new ApiError('symbol and interval are required', 'e.g. /api/candles?symbol=BTC-USDT&interval=1h');
    checkRange(p);
    const symbol = p.symbol.toUpperCase();
    const interval = p.interval;
    const data = await read(async (s, t) => {
      const held = await candleCatalog(s, t);
      const exchange = p.exchange ?? held.find((h) => h.symbol === symbol && h.interval === interval)?.exchange;
      if (!exchange || !held.some((h) => h.exchange === exchange && h.symbol === symbol && h.interval === interval)) {
        const list = held.map((h) => `${h.exchange} ${h.symbol} ${h.interval}`).join(', ');
        throw new ApiError(
          `no candles for ${symbol} at ${interval}${p.exchange ? ` on ${p.exchange}` : ''}`,
          list ? `held: ${list}` : `no candles are loaded yet: run \`${CANDLES_COMMAND}\``,
          404,
        );
      }
      return candles(s, t, { exchange, symbol, interval, limit: p.limit ?? 1000, from: p.from, to: p.to });
    });
    return c.json(data);
  });

  app.get('/divergence/pairs', async (c) => {
    params(c, {});
    return c.json(await read(divergencePairs));
  });

  app.get('/divergence', async (c) => {
    const p = params(c, { symbol: SYMBOL, grain: oneOf(DIVERGENCE_GRAINS), max_bps: decimal(0, 100_000), consecutive: integer(1, 10_000), limit: integer(1, 10_000), ...RANGE });
    if (!p.symbol) throw new ApiError('symbol is required', 'e.g. /api/divergence?symbol=BTC-USDT&grain=1m (the pairs: /api/divergence/pairs)');
    checkRange(p);
    const symbol = p.symbol.toUpperCase();
    const grain = p.grain ?? '1m';
    const data = await read(async (s, t) => {
      if (!hasDivergenceTable(t)) throw new ApiError(`no divergence for ${symbol}: the model table does not exist`, DIVERGENCE_MISSING, 404);
      if (!(await holdsPair(s, symbol, grain))) {
        const held = await divergencePairs(s, t);
        const list = held.available ? held.pairs.map((x) => `${x.symbol} ${x.grain}`).join(', ') : '';
        throw new ApiError(`no divergence for ${symbol} at ${grain}`, list ? `held: ${list}` : 'coinlake.fact_price_divergence holds no rows yet: load candles of a pair on two or more venues, then run `coinlake models run`', 404);
      }
      return divergence(s, { symbol, grain, maxBps: p.max_bps ?? DEFAULT_MAX_BPS, consecutive: p.consecutive ?? DEFAULT_CONSECUTIVE, limit: p.limit ?? DEFAULT_TIMES, from: p.from, to: p.to });
    });
    return c.json(data);
  });

  app.get('/runs', async (c) => {
    const p = params(c, { limit: integer(1, 500) });
    return c.json({ runs: await read((s, t) => recentRunItems(s, t, p.limit ?? 50)) });
  });

  app.get('/freshness', async (c) => {
    params(c, {});
    const now = new Date();
    return c.json({ now: now.toISOString(), tables: await read((s, t) => freshness(s, t, now)) });
  });

  app.get('/quality', async (c) => {
    params(c, {});
    const results = await read(latestQuality);
    if (!results) return c.json({ available: false, reason: 'coinlake_meta.quality_result does not exist yet (no run or `coinlake check` has written results)', results: [] });
    const failed = results.filter((r) => r.status !== 'pass').length;
    return c.json({ available: true, passed: results.length - failed, failed, results });
  });

  app.get('/events', (c) => {
    params(c, {});
    return streamSSE(c, async (stream) => {
      const unsubscribe = deps.hub.subscribe((e) => {
        void stream.writeSSE({ id: String(e.id), event: e.type, data: JSON.stringify(e.data) }).catch(() => {});
      });
      const ping = setInterval(() => void stream.write(': keep-alive\n\n').catch(() => {}), deps.keepAliveMs ?? 15_000);
      try {
        await stream.writeSSE({ event: 'hello', data: JSON.stringify({ subscribers: deps.hub.subscribers }), retry: 3000 });
        await new Promise<void>((resolve) => {
          if (deps.shutdown.aborted) return resolve();
          stream.onAbort(resolve);
          deps.shutdown.addEventListener('abort', () => resolve(), { once: true });
        });
      } finally {
        clearInterval(ping);
        unsubscribe();
      }
    });
  });

  app.all('*', (c) => {
    throw new ApiError(`no endpoint ${c.req.method} ${new URL(c.req.url).pathname}`, 'GET /api/overview, /api/assets, /api/assets/trends, /api/exchanges, /api/exchanges/trends, /api/candles/catalog, /api/candles, /api/divergence/pairs, /api/divergence, /api/runs, /api/freshness, /api/quality, /api/events', 404);
  });

  return app;
}
