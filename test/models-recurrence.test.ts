// The set-based evaluation of EMA-type recurrences (src/models/linear-recurrence.ts): block planning keeps its two
// bounds for any decay factor, and on both engines the indicators of a 10,000-candle series (many blocks, a MACD line
// crossing zero again and again) and of unusual windows (β = 0, very slow EMAs in their own block group, one-candle
// series) match the plain sequential TS loops to 1e-9.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DROP_BITS, planBlocks, RANGE_BITS } from '../src/models/linear-recurrence.ts';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams } from '../src/models/model.ts';
import { runModels } from '../src/models/run-models.ts';
import { spineEnv, WAREHOUSES, type SpineEnv } from './helpers/spine-env.ts';
import { candleRows, expectClose, IND_COLUMNS, indicatorRows, indicatorsReference, insertCandles, STATE_COLUMNS, synthetic } from './models-reference.ts';

const COLS = [...IND_COLUMNS, ...STATE_COLUMNS];
const ema = (name: string, span: number) => ({ name, beta: 1 - 2 / (span + 1) });

describe('block planning', () => {
  it('groups the default recurrences into one block size, the signal line into another', () => {
    const groups = planBlocks([ema('ema', 20), ema('ema_fast', 12), ema('ema_slow', 26), { name: 'gain', beta: 13 / 14 }, { name: 'loss', beta: 13 / 14 }]);
    expect(groups.map((g) => [g.size, g.members.map((m) => m.name)])).toEqual([[936, ['gain', 'loss', 'ema_slow', 'ema', 'ema_fast']]]);
    expect(planBlocks([ema('signal', 9)]).map((g) => g.size)).toEqual([311]);
  });

  it('every group keeps β^B ≤ 2^−DROP_BITS and β^−(B−1) ≤ 2^RANGE_BITS for each member; β ≤ 2^−DROP_BITS needs no block', () => {
    const betas = [0, 1e-320, 2 ** -100, 2 ** -99, 1 / 3, 0.5, 0.8, 0.9, 0.99, 0.999, 0.999999, 1 - 2 / 10001];
    const groups = planBlocks(betas.map((beta, i) => ({ name: `r${i}`, beta })));
    expect(groups.flatMap((g) => g.members).length).toBe(betas.length);
    expect(groups[0]).toEqual({ size: 1, members: [{ name: 'r0', beta: 0 }, { name: 'r1', beta: 1e-320 }, { name: 'r2', beta: 2 ** -100 }] });
    expect(groups.length).toBeGreaterThan(2);
    for (const g of groups.slice(1)) {
      for (const { beta } of g.members) {
        expect(g.size * Math.log2(beta)).toBeLessThanOrEqual(-DROP_BITS);
        expect(-(g.size - 1) * Math.log2(beta)).toBeLessThanOrEqual(RANGE_BITS);
      }
    }
  });

  it('rejects decay factors outside [0, 1) and names that are not identifiers', () => {
    expect(() => planBlocks([{ name: 'x', beta: 1 }])).toThrow('recurrence x: decay factor must be in [0, 1), got 1');
    expect(() => planBlocks([{ name: 'x', beta: Number.NaN }])).toThrow('recurrence x: decay factor must be in [0, 1), got NaN');
    expect(() => planBlocks([{ name: 'x;drop', beta: 0.5 }])).toThrow('recurrence name must be a lower-case SQL identifier, got "x;drop"');
  });
});

describe.each(WAREHOUSES)('recurrences on %s', (kind) => {
  let e: SpineEnv;
  beforeAll(async () => {
    e = await spineEnv(kind);
    await insertCandles(e.session, synthetic(10_000, 0, { symbol: 'LONG-USDT', step: 1, seed: 42 }), 'load');
    await insertCandles(e.session, synthetic(1, 0, { symbol: 'ONE-USDT' }), 'load');
    await insertCandles(e.session, synthetic(2, 0, { symbol: 'TWO-USDT' }), 'load');
  });
  afterAll(() => e?.close());

  const check = async (p: IndicatorParams) => {
    const r = await runModels(e.session, { select: ['fact_indicators'], indicators: p, full: true });
    expect(r.results[0].rows).toBe(10_003);
    for (const sym of ['LONG-USDT', 'ONE-USDT', 'TWO-USDT']) {
      const candles = await candleRows(e.session, 'ohlcv_1m', `symbol = '${sym}'`);
      expectClose(await indicatorRows(e.session, `symbol = '${sym}'`, COLS), indicatorsReference(candles, p), COLS, sym);
    }
  };

  it('10,000 candles (11 blocks of 936, 33 signal blocks): every indicator and state within 1e-9 of the sequential loops', async () => {
    await check(DEFAULT_INDICATOR_PARAMS);
    // The MACD line crosses zero many times: the near-zero values are checked too (tolerance: see models-reference).
    const [{ crossings }] = await e.session.query<{ crossings: number }>(
      `SELECT count(*) AS crossings FROM (SELECT macd * lag(macd) OVER (ORDER BY ts) AS m FROM coinlake.fact_indicators WHERE symbol = 'LONG-USDT') x WHERE m < 0`,
    );
    expect(Number(crossings)).toBeGreaterThan(100);
  });

  it('unusual windows: spans of 1 (β = 0), a 2,000-span slow EMA in its own block group, RSI of 1', async () => {
    await check({ window: 3, bollingerK: 1, rsi: 1, macdFast: 1, macdSlow: 2000, macdSignal: 1, volatility: 2 });
  });
});
