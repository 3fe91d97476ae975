// Incremental fact_indicators on DuckDB and PostgreSQL: after new, updated or late candles, a run recomputes each
// series only from its first changed candle — rows before it stay byte-identical (values and lineage), the rows from
// it on equal a full recompute and the plain-TS reference (1e-9); series without changes are not touched; a change of
// parameters, an emptied table or --full rebuilds everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDICATOR_PARAMS } from '../src/models/model.ts';
import { runModels } from '../src/models/run-models.ts';
import { spineEnv, WAREHOUSES, type SpineEnv } from './helpers/spine-env.ts';
import { candleRows, expectClose, IND_COLUMNS, indicatorsReference, insertCandles, MIN, STATE_COLUMNS, synthetic, T0, type Ind } from './models-reference.ts';

type Row = Ind & { interval: string; exchange: string; symbol: string; ts: Date; _run_id: string; _loaded_at: Date };
const COLS = [...IND_COLUMNS, ...STATE_COLUMNS];
const HOUR = 3_600_000;
const DAY = 86_400_000;
const floor = (t: number, unit: number) => Math.floor(t / unit) * unit;
const seriesOf = (r: Row) => `${r.interval} ${r.symbol}`;

describe.each(WAREHOUSES)('incremental fact_indicators on %s', (kind) => {
  let e: SpineEnv;
  const all = () => e.session.query<Row>(`SELECT * FROM coinlake.fact_indicators ORDER BY "interval", exchange, symbol, ts`);
  const factResult = async (full = false) => {
    const { runId, results } = await runModels(e.session, { select: ['+fact_indicators'], full });
    return { runId, ...results.find((r) => r.model === 'fact_indicators')! };
  };

  /**
   * Checks the table after an incremental run against the one before it: per series, rows before `firstTs` are
   * identical, rows from it on are new (this run), and all of them equal a full recompute run afterwards.
   */
  async function expectOnlyNewRange(before: Row[], firstTs: Record<string, number>, result: { runId: string; rows: number; detail?: string }) {
    const after = await all();
    const runId = result.runId;
    const changed = (r: Row) => seriesOf(r) in firstTs && r.ts.getTime() >= firstTs[seriesOf(r)];
    expect(after.filter((r) => !changed(r))).toEqual(before.filter((r) => !changed(r)));
    const fresh = after.filter(changed);
    expect(fresh.length).toBe(result.rows);
    expect(new Set(fresh.map((r) => r._run_id))).toEqual(new Set([runId]));
    expect(after.filter((r) => r._run_id === runId)).toEqual(fresh);
    expect(result.detail).toBe(`incremental: ${Object.keys(firstTs).length} series with new candles`);
    // The same rows from scratch.
    expect((await factResult(true)).detail).toBe('full (--full)');
    const full = await all();
    expect(full.map((r) => [seriesOf(r), r.ts])).toEqual(after.map((r) => [seriesOf(r), r.ts]));
    expectClose(after, full, COLS, 'incremental vs full');
    return after;
  }

  async function expectReference(symbol: string) {
    for (const [iv, table] of [['1m', 'ohlcv_1m'], ['1h', 'ohlcv_1h'], ['1d', 'ohlcv_1d']]) {
      const candles = await candleRows(e.session, table, `symbol = '${symbol}'`);
      const got = (await all()).filter((r) => r.interval === iv && r.symbol === symbol);
      expect(got.map((r) => r.ts)).toEqual(candles.map((c) => c.ts));
      expectClose(got, indicatorsReference(candles, DEFAULT_INDICATOR_PARAMS), COLS, `${iv} ${symbol}`);
    }
  }

  beforeAll(async () => {
    e = await spineEnv(kind);
    // AAA: minutes 0…2989 without minute 2000 (a gap filled later); BBB: prices around 0.0015 (the tolerance must
    // hold relatively, not absolutely); CCC: 10 minutes, fewer than the RSI needs.
    await insertCandles(e.session, synthetic(2990).filter((_, i) => i !== 2000), 'load-1');
    await insertCandles(e.session, synthetic(1500, 0, { symbol: 'BBB-USDT', scale: 2 ** -16, seed: 11, step: 0.5 }), 'load-1');
    await insertCandles(e.session, synthetic(10, 0, { symbol: 'CCC-USDT', seed: 3 }), 'load-1');
    const r = await factResult();
    expect(r).toMatchObject({ rows: 2989 + 50 + 3 + 1500 + 25 + 2 + 10 + 1 + 1, detail: 'full (first run)' });
  });
  afterAll(() => e?.close());

  it('new candles: only each changed series from its first new candle is recomputed, seeded from the kept rows', async () => {
    const before = await all();
    // AAA: 100 new minutes from 23:50 (mid-day lookback, then a new UTC day); CCC: 20 more (the Wilder seed falls in them).
    await insertCandles(e.session, synthetic(100, 2990), 'load-2');
    await insertCandles(e.session, synthetic(20, 10, { symbol: 'CCC-USDT', seed: 3 }), 'load-2');
    const aaa = T0 + 2990 * MIN;
    const result = await factResult();
    await expectOnlyNewRange(before, {
      '1m AAA-USDT': aaa, '1h AAA-USDT': floor(aaa, HOUR), '1d AAA-USDT': floor(aaa, DAY),
      '1m CCC-USDT': T0 + 10 * MIN, '1h CCC-USDT': floor(T0, HOUR), '1d CCC-USDT': floor(T0, DAY),
    }, result);
    expect(result.rows).toBe(100 + 3 + 2 + 20 + 1 + 1); // 1h: hours 49 (rebuilt), 50, 51; 1d: Jan 3 (rebuilt), Jan 4
    for (const sym of ['AAA-USDT', 'BBB-USDT', 'CCC-USDT']) await expectReference(sym);
    const [ccc] = await e.session.query<{ n: number; wilder: number }>(`SELECT count(*) AS n, count(rsi_wilder) AS wilder FROM coinlake.fact_indicators WHERE "interval" = '1m' AND symbol = 'CCC-USDT'`);
    expect([Number(ccc.n), Number(ccc.wilder)]).toEqual([30, 30 - 14]);
  });

  it('an updated candle and a late one: recomputed from the earliest of them, later rows renumbered', async () => {
    const before = await all();
    const loadedAt = new Date();
    await e.session.exec(
      `UPDATE coinlake.ohlcv_1m SET close = close + 3, high = high + 3, _loaded_at = CAST($1 AS TIMESTAMPTZ) WHERE symbol = 'AAA-USDT' AND ts = CAST($2 AS TIMESTAMPTZ)`,
      [loadedAt.toISOString(), new Date(T0 + 2500 * MIN).toISOString()],
    );
    await insertCandles(e.session, synthetic(1, 2000), 'load-3'); // the missing minute 2000
    const result = await factResult();
    const first = T0 + 2000 * MIN;
    await expectOnlyNewRange(before, { '1m AAA-USDT': first, '1h AAA-USDT': floor(first, HOUR), '1d AAA-USDT': floor(first, DAY) }, result);
    expect(result.rows).toBe(1090 + 19 + 2); // minutes 2000…3089; hours 33…51; Jan 3 and Jan 4
    const [last] = await e.session.query<{ seq: number }>(`SELECT max(seq) AS seq FROM coinlake.fact_indicators WHERE "interval" = '1m' AND symbol = 'AAA-USDT'`);
    expect(Number(last.seq)).toBe(3090 - 1);
    await expectReference('AAA-USDT');
  });

  it('nothing new: nothing written; other parameters or --full: a full rebuild', async () => {
    const before = await all();
    expect(await factResult()).toMatchObject({ rows: 0, detail: 'incremental: 0 series with new candles' });
    expect(await all()).toEqual(before);
    const small = { ...DEFAULT_INDICATOR_PARAMS, window: 5, rsi: 3 };
    const other = (await runModels(e.session, { select: ['fact_indicators'], indicators: small })).results[0];
    expect(other).toMatchObject({ rows: before.length, detail: 'full (parameters changed)' });
    const candles = await candleRows(e.session, 'ohlcv_1m', `symbol = 'AAA-USDT'`);
    const got = (await all()).filter((r) => r.interval === '1m' && r.symbol === 'AAA-USDT');
    expectClose(got, indicatorsReference(candles, small), COLS, '1m AAA small windows');
    expect(await factResult()).toMatchObject({ rows: before.length, detail: 'full (parameters changed)' });
    expect(await factResult(true)).toMatchObject({ rows: before.length, detail: 'full (--full)' });
    expectClose(await all(), before, COLS, 'rebuilt vs before');
    await e.session.exec(`DELETE FROM coinlake.fact_indicators`);
    expect(await factResult()).toMatchObject({ rows: before.length, detail: 'full (table empty)' });
  });
});
