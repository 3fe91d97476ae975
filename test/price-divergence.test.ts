// fact_price_divergence (#25 item 3, the candle venues) on DuckDB and PostgreSQL against an independent computation in
// plain loops here: three venues of BTC-USDT over 150 minutes — one missing ten minutes, one 80 bps rich for five —
// give per minute and per hour the venues' median, each venue's deviation and the spread in bps, and each venue's
// z-score over its deviations of the trailing 60 minutes (or hours); late minutes are taken in incrementally, the rows
// then equal a computation over everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIVERGENCE_WINDOW, MIN_SD_BPS } from '../src/models/fact-price-divergence.ts';
import { runModels } from '../src/models/run-models.ts';
import { spineEnv, WAREHOUSES, type SpineEnv } from './helpers/spine-env.ts';
import { insertCandles, MIN, type Candle } from './models-reference.ts';

const T0 = Date.UTC(2024, 2, 1, 10, 0);
const VENUES = { binance: 0, kraken: 3, okx: -2 } as const; // basis in bps
/** Minute i of a venue: a shared walk, the venue's basis, kraken 80 bps rich at minutes 100–104. */
function candle(venue: keyof typeof VENUES, i: number): Candle {
  const base = 60_000 + 25 * Math.sin(i / 7) + (i % 11) * 3.5;
  const bps = VENUES[venue] + (venue === 'kraken' && i >= 100 && i < 105 ? 80 : 0) + ((i * 7 + venue.length) % 5) - 2;
  const close = base * (1 + bps / 10_000);
  return { exchange: venue, symbol: 'BTC-USDT', ts: new Date(T0 + i * MIN), open: close, high: close + 5, low: close - 5, close, volume_base: 1, volume_quote: close, trade_count: 1 };
}
const minutes = (from: number, to: number, skip = (_v: string, _i: number) => false) =>
  (Object.keys(VENUES) as (keyof typeof VENUES)[]).flatMap((v) => Array.from({ length: to - from }, (_, k) => from + k).filter((i) => !skip(v, i)).map((i) => candle(v, i)));
/** okx misses minutes 30–39 at first; they arrive late, with minutes 150–179 of every venue. */
const missing = (v: string, i: number) => v === 'okx' && i >= 30 && i < 40;
const FIRST = minutes(0, 150, missing);
const LATER = [...minutes(30, 40).filter((c) => c.exchange === 'okx'), ...minutes(150, 180)];

type Row = [number, string, number, number, number, number, number, number | null];

/** The model's rows, computed here: [ts, venue, price, venues, median, deviation_bps, spread_bps, zscore]. */
function reference(candles: { exchange: string; ts: Date; close: number }[], stepMs: number): Row[] {
  const byTime = new Map<number, { exchange: string; close: number }[]>();
  for (const c of candles) byTime.set(c.ts.getTime(), [...(byTime.get(c.ts.getTime()) ?? []), c]);
  const out: Row[] = [];
  const devs = new Map<string, [number, number][]>();
  for (const t of [...byTime.keys()].sort((a, b) => a - b)) {
    const at = byTime.get(t)!;
    const closes = at.map((c) => c.close).sort((a, b) => a - b);
    const mid = closes.length / 2;
    const median = closes.length % 2 ? closes[Math.floor(mid)] : (closes[mid - 1] + closes[mid]) / 2;
    const spread = ((closes.at(-1)! - closes[0]) / median) * 10_000;
    for (const c of [...at].sort((a, b) => (a.exchange < b.exchange ? -1 : 1))) {
      const dev = ((c.close - median) / median) * 10_000;
      const mine = [...(devs.get(c.exchange) ?? []), [t, dev] as [number, number]];
      devs.set(c.exchange, mine);
      const win = mine.filter(([u]) => u > t - DIVERGENCE_WINDOW * stepMs).map(([, d]) => d);
      let z: number | null = null;
      if (win.length >= 2) {
        const mean = win.reduce((a, b) => a + b, 0) / win.length;
        const sd = Math.sqrt(win.reduce((a, b) => a + (b - mean) ** 2, 0) / (win.length - 1));
        if (sd > MIN_SD_BPS) z = (dev - mean) / sd;
      }
      out.push([t, c.exchange, c.close, at.length, median, dev, spread, z]);
    }
  }
  return out;
}

/** `got` equals `want`: times, venues and counts exactly, numbers to 1e-9 of their size (a z-score to 1e-7 of 1). */
function expectRows(got: Row[], want: Row[], label: string): void {
  expect(got.map((r) => [r[0], r[1], r[3]]), label).toEqual(want.map((r) => [r[0], r[1], r[3]]));
  got.forEach((g, i) => {
    for (const k of [2, 4, 5, 6, 7]) {
      const [a, b] = [g[k] as number | null, want[i][k] as number | null];
      if (a === null || b === null) expect(a, `${label} row ${i} column ${k}`).toBe(b);
      else expect(Math.abs(a - b), `${label} row ${i} column ${k}: ${a} vs ${b}`).toBeLessThanOrEqual((k === 7 ? 1e-7 : 1e-9) * Math.max(1, Math.abs(b)));
    }
  });
}

describe.each(WAREHOUSES)('fact_price_divergence on %s', (kind) => {
  let e: SpineEnv;
  beforeAll(async () => {
    e = await spineEnv(kind);
    await insertCandles(e.session, FIRST, 'test-load-1');
  });
  afterAll(() => e?.close());

  const rows = async (grain: string): Promise<Row[]> =>
    (
      await e.session.query<{ ts: Date; exchange: string; price: number; venues: number; median_price: number; deviation_bps: number; spread_bps: number; zscore: number | null }>(
        `SELECT ts, exchange, price, venues, median_price, deviation_bps, spread_bps, zscore FROM coinlake.fact_price_divergence WHERE grain = '${grain}' AND symbol = 'BTC-USDT' ORDER BY ts, exchange`,
      )
    ).map((r) => [new Date(r.ts).getTime(), r.exchange, Number(r.price), Number(r.venues), Number(r.median_price), Number(r.deviation_bps), Number(r.spread_bps), r.zscore === null ? null : Number(r.zscore)]);
  const hours = async () =>
    (await e.session.query<{ exchange: string; ts: Date; close: number }>(`SELECT exchange, ts, close FROM coinlake.ohlcv_1h WHERE symbol = 'BTC-USDT'`)).map((r) => ({ exchange: r.exchange, ts: new Date(r.ts), close: Number(r.close) }));

  it('per minute and per hour: median, deviation, spread and z-score equal a computation in plain loops', async () => {
    const { results } = await runModels(e.session, { select: ['+fact_price_divergence'] });
    expect(results.find((r) => r.model === 'fact_price_divergence')).toMatchObject({ rows: 3 * 150 - 10 + 3 * 3, detail: 'full (first run)' });
    const got = await rows('1m');
    expectRows(got, reference(FIRST, MIN), '1m');
    // The crafted episode: kraken 80 bps over the others, its z-score far out; okx's gap has two venues.
    const kraken = got.filter((r) => r[1] === 'kraken' && r[0] >= T0 + 100 * MIN && r[0] < T0 + 105 * MIN);
    expect(kraken.every((r) => r[5] > 40 && (r[7] ?? 0) > 3)).toBe(true);
    expect(got.filter((r) => r[0] === T0 + 35 * MIN).map((r) => [r[1], r[3]])).toEqual([['binance', 2], ['kraken', 2]]);
    expectRows(await rows('1h'), reference(await hours(), 60 * MIN), '1h');
  });

  it('late minutes are taken in incrementally: the rows then equal a computation over everything', async () => {
    await insertCandles(e.session, LATER, 'test-load-2');
    const { results } = await runModels(e.session, { select: ['+fact_price_divergence'] });
    expect(results.find((r) => r.model === 'fact_price_divergence')).toMatchObject({ detail: 'incremental: 2 symbol(s) with new prices (candles or snapshots)' });
    expectRows(await rows('1m'), reference([...FIRST, ...LATER], MIN), '1m after the late minutes');
    expectRows(await rows('1h'), reference(await hours(), 60 * MIN), '1h after the late minutes');
    const again = await runModels(e.session, { select: ['fact_price_divergence'] });
    expect(again.results[0]).toMatchObject({ rows: 0, detail: 'incremental: 0 symbol(s) with new prices (candles or snapshots)' });
  });

  it('the snapshot sources are venues at their minutes: CoinCap and CoinLore prices of the pair\'s asset beside the candles', async () => {
    // Bitcoin in both snapshot sources (the bridge links BTC-USDT to it); CoinCap twice, CoinLore once in minute 160, and
    // a snapshot at a minute without candles (200), which is no venue. CoinCap's first price is 120 bps rich.
    const snap = (i: number, sec: number) => new Date(T0 + i * MIN + sec * 1000);
    const btc = (i: number) => candle('binance', i).close;
    const insertCoincap = (at: Date, price: number) =>
      e.session.exec(`INSERT INTO coinlake.coincap_assets (id, rank, symbol, name, price_usd, snapshot_time) VALUES ('bitcoin', 1, 'BTC', 'Bitcoin', $1, CAST($2 AS TIMESTAMPTZ))`, [price, at.toISOString()]);
    await runModels(e.session, { select: ['bridge_asset_source'] }); // creates the source tables
    await insertCoincap(snap(160, 12), btc(160) * 1.012);
    await e.session.exec(
      `INSERT INTO coinlake.coinlore_tickers (id, symbol, name, nameid, rank, price_usd, snapshot_time) VALUES ('90', 'BTC', 'Bitcoin', 'bitcoin', 1, $1, CAST($2 AS TIMESTAMPTZ))`,
      [btc(160) * 0.999, snap(160, 48).toISOString()],
    );
    const first = await runModels(e.session, { select: ['+fact_price_divergence'] });
    // The first run with a bridge gives the pair an asset: rebuilt whole.
    expect(first.results.find((r) => r.model === 'fact_price_divergence')).toMatchObject({
      detail: 'incremental: 2 symbol(s) with new prices (candles or snapshots); 1 pair(s) of another asset since the last run, rebuilt',
    });
    // A later CoinCap snapshot (the source table keeps the latest; the fact keeps both), and one at a minute with no candle.
    await e.session.exec(`DELETE FROM coinlake.coincap_assets`);
    await insertCoincap(snap(170, 5), btc(170) * 0.9995);
    await runModels(e.session, { select: ['+fact_price_divergence'] });
    await e.session.exec(`DELETE FROM coinlake.coincap_assets`);
    await insertCoincap(snap(200, 5), btc(170));
    await runModels(e.session, { select: ['+fact_price_divergence'] });
    const venues = [
      { exchange: 'coincap', ts: new Date(T0 + 160 * MIN), close: btc(160) * 1.012 },
      { exchange: 'coinlore', ts: new Date(T0 + 160 * MIN), close: btc(160) * 0.999 },
      { exchange: 'coincap', ts: new Date(T0 + 170 * MIN), close: btc(170) * 0.9995 },
    ];
    const got = await rows('1m');
    expectRows(got, reference([...FIRST, ...LATER, ...venues], MIN), '1m with the snapshot venues');
    expect(got.filter((r) => r[0] === T0 + 160 * MIN).map((r) => [r[1], r[3]])).toEqual([['binance', 5], ['coincap', 5], ['coinlore', 5], ['kraken', 5], ['okx', 5]]);
    expect(got.filter((r) => r[0] === T0 + 200 * MIN)).toEqual([]);
    // Per hour, the latest snapshot of the hour per source: 10:00–12:59 has coincap's 12:50 (minute 170) and coinlore's 12:40.
    const hourly = [
      { exchange: 'coincap', ts: new Date(T0 + 120 * MIN), close: btc(170) * 0.9995 },
      { exchange: 'coinlore', ts: new Date(T0 + 120 * MIN), close: btc(160) * 0.999 },
    ];
    expectRows(await rows('1h'), reference([...(await hours()), ...hourly], 60 * MIN), '1h with the snapshot venues');
    // A full rebuild gives the same rows.
    await runModels(e.session, { select: ['fact_price_divergence'], full: true });
    expectRows(await rows('1m'), reference([...FIRST, ...LATER, ...venues], MIN), '1m rebuilt');

    // The user forbids the link of the pair to bitcoin on every venue that lists it: the next incremental run rebuilds
    // the pair without the snapshot venues (no longer its asset's prices); lifting the forbids brings them back.
    for (const venue of Object.keys(VENUES)) {
      await e.session.exec(`INSERT INTO coinlake_meta.asset_alias (source, source_id, asset_id, action, origin) VALUES ($1, 'BTC-USDT', 'bitcoin', 'forbid', 'user')`, [`exchange:${venue}`]);
    }
    const cut = await runModels(e.session, { select: ['+fact_price_divergence'] });
    expect(cut.results.find((r) => r.model === 'fact_price_divergence')!.detail).toBe(
      'incremental: 2 symbol(s) with new prices (candles or snapshots); 1 pair(s) of another asset since the last run, rebuilt',
    );
    expectRows(await rows('1m'), reference([...FIRST, ...LATER], MIN), '1m without the snapshot venues');
    expectRows(await rows('1h'), reference(await hours(), 60 * MIN), '1h without the snapshot venues');
    await e.session.exec(`DELETE FROM coinlake_meta.asset_alias`);
    await runModels(e.session, { select: ['+fact_price_divergence'] });
    expectRows(await rows('1m'), reference([...FIRST, ...LATER, ...venues], MIN), '1m with the venues again');
    const quiet = await runModels(e.session, { select: ['+fact_price_divergence'] });
    expect(quiet.results.find((r) => r.model === 'fact_price_divergence')).toMatchObject({ rows: 0, detail: 'incremental: 0 symbol(s) with new prices (candles or snapshots)' });
  });
});
