// Rollups say how complete they are (#25 item 2), on DuckDB and PostgreSQL: every ohlcv_1h and ohlcv_1d row carries
// the minute candles it was built from (`minutes_present`) and whether that is all of its hour or day
// (`is_complete`), as a plain count of the minutes in this test says; fact_indicators marks the indicators of an
// incomplete candle so; hour candles that were not rolled up from minutes (an import) stay NULL, not known. Minutes
// that arrive late complete their hour on the next incremental run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDICATOR_PARAMS } from '../src/models/model.ts';
import { paramsText } from '../src/models/model-state.ts';
import { runModels } from '../src/models/run-models.ts';
import { ohlcvTable } from '../src/sources/ohlcv-table.ts';
import { spineEnv, WAREHOUSES, type SpineEnv } from './helpers/spine-env.ts';
import { insertCandles, synthetic, type Candle } from './models-reference.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 50 hours of minutes from 2024-01-01 22:00 (2 hours of day 1, days 2 and 3 whole), with gaps. */
const ALL = synthetic(3000, 0, { symbol: 'GAP-USDT' });
/** Minutes 65–83 (19 of hour 2) arrive late; of hour 6 only its first minute exists. */
const late = (i: number) => i >= 65 && i < 84;
const absent = (i: number) => i > 300 && i < 360;
const FIRST = ALL.filter((_, i) => !late(i) && !absent(i));
const LATE = ALL.filter((_, i) => late(i));

/** [bucket start, minutes present, complete] per bucket, counted here from the minutes loaded. */
function expected(minutes: Candle[], ms: number, whole: number): [number, number, boolean][] {
  const counts = new Map<number, number>();
  for (const c of minutes) {
    const b = Math.floor(c.ts.getTime() / ms) * ms;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a - b).map(([b, n]) => [b, n, n === whole]);
}

describe.each(WAREHOUSES)('rollup completeness on %s', (kind) => {
  let e: SpineEnv;
  beforeAll(async () => {
    e = await spineEnv(kind);
    await insertCandles(e.session, FIRST, 'test-load-1');
    // An hour candle imported as it is (not from minutes), for a series without minute candles.
    const hours = ohlcvTable('1h');
    await e.session.ensureTable(hours);
    const stg = await e.session.stage(hours, [{ exchange: 'testex', symbol: 'IMP-USDT', ts: new Date(Date.UTC(2024, 0, 2)), open: 1, high: 2, low: 0.5, close: 1.5, volume_base: 10, volume_quote: 15, trade_count: 3 }], {
      runId: 'test-import',
      processId: 0,
      loadedAt: new Date(),
    });
    await e.session.exec(`INSERT INTO coinlake.ohlcv_1h SELECT exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count, _run_id, _loaded_at FROM ${stg}`);
    await e.session.dropStaging(stg);
  });
  afterAll(() => e?.close());

  const rollup = async (table: string, symbol: string) =>
    (await e.session.query<{ ts: Date; minutes_present: number | null; is_complete: boolean | null }>(`SELECT ts, minutes_present, is_complete FROM coinlake.${table} WHERE symbol = '${symbol}' ORDER BY ts`)).map(
      (r) => [new Date(r.ts).getTime(), r.minutes_present === null ? null : Number(r.minutes_present), r.is_complete],
    );
  const flags = async (interval: string, symbol: string) =>
    (await e.session.query<{ ts: Date; is_complete: boolean | null }>(`SELECT ts, is_complete FROM coinlake.fact_indicators WHERE "interval" = '${interval}' AND symbol = '${symbol}' ORDER BY ts`)).map((r) => [
      new Date(r.ts).getTime(),
      r.is_complete,
    ]);

  it('every hour and day says how many of its minutes it was built from, and whether that is all of them', async () => {
    await runModels(e.session, { select: ['+fact_indicators'] });
    const hours = expected(FIRST, HOUR, 60);
    expect(hours.filter(([, , complete]) => !complete).map(([t, n]) => [new Date(t).toISOString(), n])).toEqual([
      ['2024-01-01T23:00:00.000Z', 41],
      ['2024-01-02T03:00:00.000Z', 1],
    ]);
    expect(await rollup('ohlcv_1h', 'GAP-USDT')).toEqual(hours);
    expect(await rollup('ohlcv_1d', 'GAP-USDT')).toEqual([
      [Date.UTC(2024, 0, 1), 101, false],
      [Date.UTC(2024, 0, 2), 1381, false],
      [Date.UTC(2024, 0, 3), 1440, true],
    ]);
    expect(await rollup('ohlcv_1d', 'GAP-USDT')).toEqual(expected(FIRST, DAY, 1440));
    // Not rolled up from minutes: not known.
    expect(await rollup('ohlcv_1h', 'IMP-USDT')).toEqual([[Date.UTC(2024, 0, 2), null, null]]);
  });

  it('fact_indicators marks the indicators of an incomplete candle', async () => {
    expect(await flags('1h', 'GAP-USDT')).toEqual(expected(FIRST, HOUR, 60).map(([t, , c]) => [t, c]));
    expect(await flags('1d', 'GAP-USDT')).toEqual(expected(FIRST, DAY, 1440).map(([t, , c]) => [t, c]));
    const minutes = await flags('1m', 'GAP-USDT');
    expect(minutes).toHaveLength(FIRST.length);
    expect(minutes.every(([, c]) => c === true)).toBe(true);
    expect(await flags('1h', 'IMP-USDT')).toEqual([[Date.UTC(2024, 0, 2), null]]);
  });

  it('late minutes complete their hour on the next incremental run, and its indicators say so', async () => {
    await insertCandles(e.session, LATE, 'test-load-2');
    const { results } = await runModels(e.session, { select: ['+fact_indicators'] });
    expect(results.map((r) => [r.model, r.rows])).toEqual([
      ['ohlcv_1h', 1],
      ['ohlcv_1d', 1],
      ['fact_indicators', expect.any(Number)],
    ]);
    const now = [...FIRST, ...LATE];
    expect(await rollup('ohlcv_1h', 'GAP-USDT')).toEqual(expected(now, HOUR, 60));
    expect((await rollup('ohlcv_1h', 'GAP-USDT')).find(([t]) => t === Date.UTC(2024, 0, 1, 23))).toEqual([Date.UTC(2024, 0, 1, 23), 60, true]);
    expect(await rollup('ohlcv_1d', 'GAP-USDT')).toEqual(expected(now, DAY, 1440));
    expect(await flags('1h', 'GAP-USDT')).toEqual(expected(now, HOUR, 60).map(([t, , c]) => [t, c]));
  });

  it('rows written before is_complete existed are rebuilt once, saying why', async () => {
    // The state an earlier coinlake left: the parameters without the layout.
    await e.session.exec(`UPDATE coinlake_meta.model_state SET params = $1 WHERE model_name = 'fact_indicators'`, [paramsText(DEFAULT_INDICATOR_PARAMS)]);
    const first = await runModels(e.session, { select: ['fact_indicators'] });
    expect(first.results[0]).toMatchObject({ model: 'fact_indicators', detail: 'full (rows of an older layout: is_complete added)' });
    const again = await runModels(e.session, { select: ['fact_indicators'] });
    expect(again.results[0]).toMatchObject({ rows: 0, detail: 'incremental: 0 series with new candles' });
  });
});
