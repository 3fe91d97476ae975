// `coinlake models run`: OHLCV rollups and fact_indicators on DuckDB and PostgreSQL — indicator values against the
// plain-TS reference (models-reference.ts) and against the acceptance reference for the real BNBUSDT sample, rollups against
// aggregates computed here, incremental reruns, dependency order and --select; the same numbers on both engines.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams, type Model } from '../src/models/model.ts';
import { orderModels, selectModels } from '../src/models/model-graph.ts';
import { MODELS } from '../src/models/registry.ts';
import { runModels } from '../src/models/run-models.ts';
import { importFiles } from '../src/runner/file-import.ts';
import { cddFileFormat } from '../src/sources/cryptodatadownload/cdd-file-format.ts';
import { spineEnv, WAREHOUSES, type SpineEnv } from './helpers/spine-env.ts';
import { candleRows, expectClose, IND_COLUMNS, indicatorRows, indicatorsReference, insertCandles, rollupReference, STATE_COLUMNS, synthetic, type Ind } from './models-reference.ts';

const ACCEPTANCE = '/work/shared/acceptance';
const BNB_CSV = path.join(ACCEPTANCE, 'Binance_BNBUSDT_minute.csv');
const REFERENCE = JSON.parse(readFileSync(path.join(ACCEPTANCE, 'bnbusdt-indicators-reference.json'), 'utf8')) as { rows: Record<string, number | null>[] };

/** Every fact_indicators row per engine, compared across engines at the end. */
const byEngine = new Map<string, Ind[]>();

describe.each(WAREHOUSES)('models on %s', (kind) => {
  let e: SpineEnv;
  const SYN = synthetic(3000); // 50 hours over 3 UTC days
  beforeAll(async () => {
    e = await spineEnv(kind);
    await importFiles(cddFileFormat, [BNB_CSV], { session: e.session, lake: e.lake, progress: false });
    await insertCandles(e.session, SYN, 'test-load-1');
  });
  afterAll(() => e?.close());

  it('runs every model in dependency order and writes the rollups and indicators', async () => {
    const { runId, results } = await runModels(e.session, { select: ['+fact_indicators'] });
    expect(runId).toMatch(/^model-/);
    expect(results.map((r) => [r.model, r.rows])).toEqual([
      ['ohlcv_1h', 3 + 50],
      ['ohlcv_1d', 2 + 3],
      ['fact_indicators', 100 + 3000 + 3 + 50 + 2 + 3],
    ]);
  });

  it('fact_indicators matches the acceptance reference for the real BNBUSDT sample (1e-9 relative)', async () => {
    const got = await indicatorRows(e.session, `"interval" = '1m' AND symbol = 'BNB-USDT'`);
    expect(got.map((r) => r.ts.getTime())).toEqual(REFERENCE.rows.map((r) => r.ts));
    const want = REFERENCE.rows.map((r) => ({
      close: r.close, sma: r.sma_20, ema: r.ema_20, bb_upper: r.bb_upper_20_2, bb_lower: r.bb_lower_20_2,
      rsi_simple: r.rsi_14_simple, rsi_wilder: r.rsi_14_wilder, macd: r.macd, macd_signal: r.macd_signal, macd_hist: r.macd_hist,
    }));
    expectClose(got, want, Object.keys(want[0]), 'BNB reference');
  });

  it('every indicator of every series and interval matches the plain-TS reference (1e-9 relative)', async () => {
    const p = DEFAULT_INDICATOR_PARAMS;
    const series = [
      ['1m', 'BNB-USDT', 'ohlcv_1m'], ['1h', 'BNB-USDT', 'ohlcv_1h'], ['1d', 'BNB-USDT', 'ohlcv_1d'],
      ['1m', 'AAA-USDT', 'ohlcv_1m'], ['1h', 'AAA-USDT', 'ohlcv_1h'], ['1d', 'AAA-USDT', 'ohlcv_1d'],
    ];
    for (const [iv, sym, table] of series) {
      const candles = await candleRows(e.session, table, `symbol = '${sym}'`);
      const got = await indicatorRows(e.session, `"interval" = '${iv}' AND symbol = '${sym}'`, [...IND_COLUMNS, ...STATE_COLUMNS]);
      expect(got.map((r) => r.ts)).toEqual(candles.map((c) => c.ts));
      expectClose(got, indicatorsReference(candles, p), [...IND_COLUMNS, ...STATE_COLUMNS], `${iv} ${sym}`);
    }
    // The windows filled on the long series: every indicator has values.
    const [n] = await e.session.query<Record<string, number>>(
      `SELECT ${IND_COLUMNS.map((c) => `count(${c}) AS ${c}`).join(', ')} FROM coinlake.fact_indicators WHERE "interval" = '1m' AND symbol = 'AAA-USDT'`,
    );
    expect(n).toMatchObject({ sma: 2981, bb_upper: 2981, rsi_simple: 2986, rsi_wilder: 2986, log_return: 2999, volatility: 2970, ema: 3000, macd: 3000 });
    byEngine.set(kind, await e.session.query<Ind>(`SELECT "interval", exchange, symbol, ts, ${IND_COLUMNS.join(', ')} FROM coinlake.fact_indicators ORDER BY 1, 2, 3, 4`));
  });

  it('window sizes are parameters', async () => {
    const p: IndicatorParams = { window: 5, bollingerK: 1.5, rsi: 3, macdFast: 4, macdSlow: 8, macdSignal: 3, volatility: 6 };
    await runModels(e.session, { select: ['fact_indicators'], indicators: p });
    const candles = await candleRows(e.session, 'ohlcv_1h', `symbol = 'AAA-USDT'`);
    expectClose(await indicatorRows(e.session, `"interval" = '1h' AND symbol = 'AAA-USDT'`), indicatorsReference(candles, p), IND_COLUMNS, '1h small windows');
    await expect(runModels(e.session, { select: ['fact_indicators'], indicators: { rsi: 0 } })).rejects.toThrow(/rsi must be a positive integer/);
    await runModels(e.session, { select: ['fact_indicators'] });
  });

  it('rollups equal aggregates computed directly: counts, OHLC, volumes, trade counts', async () => {
    for (const [table, ms] of [['ohlcv_1h', 3_600_000], ['ohlcv_1d', 86_400_000]] as const) {
      const got = await candleRows(e.session, table, `symbol = 'AAA-USDT'`);
      expect(got).toEqual(rollupReference(SYN, ms)); // exact: the synthetic values are binary-exact
      const bnb = await candleRows(e.session, table, `symbol = 'BNB-USDT'`);
      const want = rollupReference(await candleRows(e.session, 'ohlcv_1m', `symbol = 'BNB-USDT'`), ms);
      expect(bnb.map(({ volume_base: _b, volume_quote: _q, ...r }) => r)).toEqual(want.map(({ volume_base: _b, volume_quote: _q, ...r }) => r));
      expectClose(bnb as unknown as Ind[], want as unknown as Ind[], ['volume_base', 'volume_quote'], `${table} BNB volumes`, 1e-12);
    }
    const [h] = await candleRows(e.session, 'ohlcv_1h', `symbol = 'BNB-USDT'`);
    expect(h).toMatchObject({ ts: new Date('2021-12-29T22:00:00Z'), open: 521.33, high: 522.33, low: 518.86, close: 519.95, trade_count: 6044 });
  });

  it('an incremental run after new candles changes only the new range', async () => {
    const before = await e.session.query<{ ts: Date; _run_id: string; _loaded_at: Date }>(`SELECT ts, _run_id, _loaded_at FROM coinlake.ohlcv_1h WHERE symbol = 'AAA-USDT' ORDER BY ts`);
    // 90 more minutes: the rest of the last (partial) hour plus a new hour and a half.
    const more = synthetic(90, 3000);
    await insertCandles(e.session, more, 'test-load-2');
    const { runId, results } = await runModels(e.session, { select: ['ohlcv_1h'] });
    expect(results).toEqual([{ model: 'ohlcv_1h', rows: 2, ms: expect.any(Number) }]);
    const after = await e.session.query<{ ts: Date; _run_id: string; _loaded_at: Date }>(`SELECT ts, _run_id, _loaded_at FROM coinlake.ohlcv_1h WHERE symbol = 'AAA-USDT' ORDER BY ts`);
    expect(after.slice(0, before.length)).toEqual(before); // untouched hours keep their lineage
    expect(after.slice(before.length).map((r) => r._run_id)).toEqual([runId, runId]);
    expect(await candleRows(e.session, 'ohlcv_1h', `symbol = 'AAA-USDT'`)).toEqual(rollupReference([...SYN, ...more], 3_600_000));
    // Nothing new: nothing rewritten. --full rebuilds everything.
    expect((await runModels(e.session, { select: ['ohlcv_1h'] })).results[0].rows).toBe(0);
    expect((await runModels(e.session, { select: ['ohlcv_1h'], full: true })).results[0].rows).toBe(3 + 52);
    await e.session.exec(`DELETE FROM coinlake.ohlcv_1m WHERE _run_id = 'test-load-2'`);
    await runModels(e.session, { full: true });
  });

  it('--select runs only the chosen models, in dependency order', async () => {
    await e.session.exec(`DELETE FROM coinlake.ohlcv_1d`);
    await e.session.exec(`DELETE FROM coinlake.fact_indicators`);
    const r = await runModels(e.session, { select: ['ohlcv_1d+'] });
    expect(r.results.map((x) => x.model)).toEqual(['ohlcv_1d', 'fact_indicators']);
    const [{ n }] = await e.session.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.ohlcv_1d`);
    expect(Number(n)).toBe(5);
  });
});

/** Star-schema dimensions per engine (without lineage), compared across engines at the end. */
const starByEngine = new Map<string, Record<string, unknown>[][]>();

describe.each(WAREHOUSES)('star schema on %s', (kind) => {
  let e: SpineEnv;
  const q = <T = Record<string, unknown>>(sql: string) => e.session.query<T>(sql);
  const count = async (table: string) => Number((await q<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${table}`))[0].n);
  beforeAll(async () => {
    e = await spineEnv(kind);
    for (const job of ['coincap.assets', 'coincap.exchanges', 'coincap.markets', 'coinlore.tickers', 'coinlore.exchanges']) await e.run(job);
    await e.run('coinlore.coin_markets', { params: { top: 3 } });
    await insertCandles(e.session, synthetic(5), 'test-load');
  });
  afterAll(() => e?.close());

  it('builds dimensions, bridge and facts from the CoinCap and CoinLore tables', async () => {
    const { results } = await runModels(e.session, { select: ['+fact_market', '+fact_asset_snapshot', '+fact_exchange_snapshot'] });
    expect(results.map((r) => r.model)).toEqual(['bridge_asset_source', 'dim_asset', 'dim_exchange', 'dim_date', 'fact_asset_snapshot', 'fact_exchange_snapshot', 'fact_market']);
    const [coincapAssets, coinloreTickers] = [await count('coincap_assets'), await count('coinlore_tickers')];
    expect(coincapAssets).toBeGreaterThan(0);
    expect(coinloreTickers).toBeGreaterThan(0);
    // The bridge: every source id once, plus the exchange symbol of the candles.
    expect(await count('bridge_asset_source')).toBe(coincapAssets + coinloreTickers + 1);
    expect(await q(`SELECT asset_symbol, source, source_id FROM coinlake.bridge_asset_source WHERE asset_symbol = 'BTC' ORDER BY source`)).toEqual([
      { asset_symbol: 'BTC', source: 'coincap', source_id: 'bitcoin' },
      { asset_symbol: 'BTC', source: 'coinlore', source_id: '90' },
    ]);
    expect(await q(`SELECT asset_symbol, source, source_id FROM coinlake.bridge_asset_source WHERE source LIKE 'exchange:%'`)).toEqual([
      { asset_symbol: 'AAA', source: 'exchange:testex', source_id: 'AAA-USDT' },
    ]);
    // dim_asset: one row per canonical asset, joining both sources.
    const [btc] = await q(`SELECT asset_id, asset_symbol, name, coincap_id, coinlore_id, source_ids, flagged FROM coinlake.dim_asset WHERE asset_symbol = 'BTC'`);
    expect(btc).toEqual({ asset_id: 'bitcoin', asset_symbol: 'BTC', name: 'Bitcoin', coincap_id: 'bitcoin', coinlore_id: '90', source_ids: 2, flagged: false });
    const [{ n: dup }] = await q<{ n: number }>(`SELECT count(*) - count(DISTINCT asset_id) AS n FROM coinlake.dim_asset`);
    expect(Number(dup)).toBe(0);
    expect(await count('dim_asset')).toBe(Number((await q<{ n: number }>(`SELECT count(DISTINCT asset_id) AS n FROM coinlake.bridge_asset_source`))[0].n));
    // fact_asset_snapshot carries the bridge's asset.
    expect(await q(`SELECT DISTINCT source, asset_id FROM coinlake.fact_asset_snapshot WHERE asset_symbol = 'BTC' ORDER BY source`)).toEqual([
      { source: 'coincap', asset_id: 'bitcoin' },
      { source: 'coinlore', asset_id: 'bitcoin' },
    ]);
    // fact_asset_snapshot: every source row, values as the source holds them.
    expect(await count('fact_asset_snapshot')).toBe(coincapAssets + coinloreTickers);
    const [src] = await q(`SELECT price_usd, market_cap_usd, supply, max_supply, rank, volume_usd_24hr, snapshot_time FROM coinlake.coincap_assets WHERE id = 'bitcoin'`);
    const [fact] = await q(`SELECT price_usd, market_cap_usd, supply, max_supply, rank, volume_usd_24hr, snapshot_time FROM coinlake.fact_asset_snapshot WHERE source = 'coincap' AND source_id = 'bitcoin'`);
    expect(fact).toEqual(src);
    const [lore] = await q(`SELECT price_usd, csupply, msupply, volume24 FROM coinlake.coinlore_tickers WHERE id = '90'`);
    const [loreFact] = await q(`SELECT price_usd, supply AS csupply, max_supply AS msupply, volume_usd_24hr AS volume24 FROM coinlake.fact_asset_snapshot WHERE source = 'coinlore' AND source_id = '90'`);
    expect(loreFact).toEqual(lore);
    // Exchanges: CoinCap figures as sent; CoinLore shares computed within the snapshot sum to 100.
    expect(await count('fact_exchange_snapshot')).toBe(await count('coincap_exchanges') + Number((await q<{ n: number }>(`SELECT count(*) AS n FROM coinlake.coinlore_exchanges WHERE name_id IS NOT NULL`))[0].n));
    const shares = await q<{ s: number }>(`SELECT sum(percent_total_volume) AS s FROM coinlake.fact_exchange_snapshot WHERE source = 'coinlore' GROUP BY snapshot_time`);
    for (const { s } of shares) expect(s).toBeCloseTo(100, 9);
    const [{ k }] = await q<{ k: number }>(`SELECT count(*) AS k FROM coinlake.dim_exchange WHERE exchange_key = 'testex' AND in_candles`);
    expect(Number(k)).toBe(1);
    // Markets: every row of both sources.
    expect(await count('fact_market')).toBe(await count('coincap_markets') + await count('coinlore_markets'));
    // dim_date: contiguous days covering every date key of the facts.
    const days = await q<{ date_key: unknown }>(`SELECT date_key FROM coinlake.dim_date ORDER BY date_key`);
    expect(days.length).toBeGreaterThan(0);
    const [{ missing }] = await q<{ missing: number }>(
      `SELECT count(*) AS missing FROM (SELECT date_key FROM coinlake.fact_asset_snapshot UNION SELECT date_key FROM coinlake.fact_market) f
        WHERE NOT EXISTS (SELECT 1 FROM coinlake.dim_date d WHERE d.date_key = f.date_key)`,
    );
    expect(Number(missing)).toBe(0);
    starByEngine.set(kind, [
      await q(`SELECT asset_symbol, source, source_id, source_symbol, source_name, is_primary, asset_id, match_score, match_status, match_evidence, candidate_asset_id FROM coinlake.bridge_asset_source ORDER BY source, source_id`),
      await q(`SELECT asset_id, asset_symbol, name, coincap_id, coincap_rank, coinlore_id, coinlore_rank, source_ids, flagged FROM coinlake.dim_asset ORDER BY asset_id`),
      await q(`SELECT exchange_key, name, coincap_id, coinlore_id, url, country, in_candles, aliases FROM coinlake.dim_exchange ORDER BY exchange_key`),
    ]);
  });

  it('snapshot facts are incremental: a rerun adds nothing; a new snapshot adds its rows and keeps the old ones', async () => {
    const again = await runModels(e.session);
    const rows = Object.fromEntries(again.results.map((r) => [r.model, r.rows]));
    expect(rows).toMatchObject({ fact_asset_snapshot: 0, fact_exchange_snapshot: 0, fact_market: 0 });
    const before = await count('fact_asset_snapshot');
    await e.session.exec(`UPDATE coinlake.coincap_assets SET snapshot_time = snapshot_time + INTERVAL '1 hour', price_usd = price_usd * 2`);
    const next = await runModels(e.session, { select: ['fact_asset_snapshot'] });
    expect(next.results[0].rows).toBe(await count('coincap_assets'));
    expect(await count('fact_asset_snapshot')).toBe(before + (await count('coincap_assets')));
    const prices = await q<{ price_usd: number }>(`SELECT price_usd FROM coinlake.fact_asset_snapshot WHERE source = 'coincap' AND source_id = 'bitcoin' ORDER BY snapshot_time`);
    expect(prices).toHaveLength(2);
    expect(prices[1].price_usd).toBe(prices[0].price_usd * 2);
  });
});

describe('models across engines', () => {
  it('DuckDB and PostgreSQL build the same dimensions and bridge', () => {
    expect(starByEngine.get('postgres')).toEqual(starByEngine.get('duckdb'));
    expect(starByEngine.get('duckdb')?.[0].length).toBeGreaterThan(0);
  });

  it('DuckDB and PostgreSQL produce the same indicator values', () => {
    const [duck, pg] = [byEngine.get('duckdb'), byEngine.get('postgres')];
    expect(duck?.length).toBe(3158);
    expect(pg?.length).toBe(duck?.length);
    expect(pg!.map((r) => [r.interval, r.exchange, r.symbol, r.ts])).toEqual(duck!.map((r) => [r.interval, r.exchange, r.symbol, r.ts]));
    // Not bit-identical: the engines sum in different orders (DuckDB's window sums are trees), so last bits differ;
    // MACD, a difference of two EMAs of ~500, shows them as ~1e-13 absolute. Everything is within the tolerance.
    expectClose(pg!, duck!, IND_COLUMNS, 'postgres vs duckdb', 1e-9);
  });
});

describe('model graph', () => {
  const m = (name: string, dependsOn: string[] = []): Model => ({ name, dependsOn, description: '', run: async () => 0 });
  it('orders models after their dependencies and rejects cycles and unknown dependencies', () => {
    expect(orderModels(MODELS).map((x) => x.name)).toEqual([
      'ohlcv_1h', 'ohlcv_1d', 'fact_indicators',
      'bridge_asset_source', 'dim_asset', 'dim_exchange', 'dim_date', 'fact_asset_snapshot', 'fact_exchange_snapshot', 'fact_market', 'fact_price_divergence',
    ]);
    expect(orderModels([m('c', ['b']), m('b', ['a']), m('a')]).map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(() => orderModels([m('a', ['b']), m('b', ['a'])])).toThrow(/cycle: a → b → a/);
    expect(() => orderModels([m('a', ['zz'])])).toThrow(/unknown model zz/);
  });
  it('selects NAME, NAME+ (downstream), +NAME (upstream), comma lists; unknown names fail', () => {
    const names = (sel: string[]) => selectModels(MODELS, sel).map((x) => x.name);
    expect(names([])).toHaveLength(11);
    expect(names(['dim_asset+'])).toEqual(['dim_asset', 'fact_asset_snapshot', 'fact_market', 'fact_price_divergence']);
    expect(names(['+fact_asset_snapshot'])).toEqual(['bridge_asset_source', 'dim_asset', 'dim_date', 'fact_asset_snapshot']);
    expect(names(['ohlcv_1h'])).toEqual(['ohlcv_1h']);
    expect(names(['ohlcv_1h+'])).toEqual(['ohlcv_1h', 'fact_indicators', 'fact_price_divergence']);
    expect(names(['+fact_indicators'])).toEqual(['ohlcv_1h', 'ohlcv_1d', 'fact_indicators']);
    expect(names(['fact_indicators,ohlcv_1d'])).toEqual(['ohlcv_1d', 'fact_indicators']);
    expect(() => names(['nope+'])).toThrow(/unknown model "nope"/);
  });
});
