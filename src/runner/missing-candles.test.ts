// The gap finder of `coinlake repair` on DuckDB and PostgreSQL: missing ranges inside each series' loaded range,
// known-missing times counted as present (and remembered once), --since, series filters, hours and months.
import { afterEach, describe, expect, it } from 'vitest';
import { WAREHOUSES, spineEnv, type SpineEnv } from '../../test/helpers/spine-env.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import type { CandleInterval } from '../core/candle-interval.ts';
import type { Session } from '../core/destination.ts';
import { ohlcvTable } from '../sources/ohlcv-table.ts';
import { candleSeries, knownMissingCount, missingRanges, recordKnownMissing } from './missing-candles.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2024, 2, 4);

let env: SpineEnv;
afterEach(async () => env?.close());

/** Rows of a candle table at the given times (ms) for one series. */
async function candles(s: Session, interval: CandleInterval, exchange: string, symbol: string, times: number[]): Promise<void> {
  const t = ohlcvTable(interval);
  await s.ensureSchema('coinlake');
  await s.ensureTable(t);
  for (const ts of times) {
    await s.exec(`INSERT INTO coinlake.${t.name} (exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count) VALUES ($1, $2, $3, 1, 1, 1, 1, 1, 1, 1)`, [
      exchange,
      symbol,
      new Date(ts),
    ]);
  }
}

const minutes = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i * MIN);
const iso = (ms: number) => new Date(ms).toISOString();
const shown = (ranges: { exchange: string; symbol: string; start: number; end: number; count: number }[]) => ranges.map((r) => [r.exchange, r.symbol, iso(r.start), iso(r.end), r.count]);

describe.each(WAREHOUSES)('missing candles on %s', (kind) => {
  it('finds the ranges inside each series, oldest first; known-missing times count as present and are remembered once', async () => {
    env = await spineEnv(kind);
    const s = env.session;
    await ensureMetaTables(s);
    // a: 00:00–00:09 without 00:03–00:04 and 00:07; b: 00:05 and 00:09 (00:06–00:08 missing); c: one row, nothing inside.
    await candles(s, '1m', 'x', 'A-USD', minutes(T0, 10).filter((t) => ![3, 4, 7].includes((t - T0) / MIN)));
    await candles(s, '1m', 'x', 'B-USD', [T0 + 5 * MIN, T0 + 9 * MIN]);
    await candles(s, '1m', 'y', 'A-USD', [T0]);
    const t = ohlcvTable('1m');
    expect(await candleSeries(s, t, {})).toEqual([
      { exchange: 'x', symbol: 'A-USD' },
      { exchange: 'x', symbol: 'B-USD' },
      { exchange: 'y', symbol: 'A-USD' },
    ]);
    expect(shown(await missingRanges(s, t, '1m', {}))).toEqual([
      ['x', 'A-USD', iso(T0 + 3 * MIN), iso(T0 + 5 * MIN), 2],
      ['x', 'B-USD', iso(T0 + 6 * MIN), iso(T0 + 9 * MIN), 3],
      ['x', 'A-USD', iso(T0 + 7 * MIN), iso(T0 + 8 * MIN), 1],
    ]);
    expect(shown(await missingRanges(s, t, '1m', { exchange: 'x', symbols: ['B-USD'] }))).toEqual([['x', 'B-USD', iso(T0 + 6 * MIN), iso(T0 + 9 * MIN), 3]]);
    // --since cuts a range that straddles it.
    expect(shown(await missingRanges(s, t, '1m', { since: new Date(T0 + 7 * MIN) }))).toEqual([
      ['x', 'B-USD', iso(T0 + 7 * MIN), iso(T0 + 9 * MIN), 2],
      ['x', 'A-USD', iso(T0 + 7 * MIN), iso(T0 + 8 * MIN), 1],
    ]);
    // Known missing: 00:04 of A and 00:07 of B; recorded twice, kept once with its first sighting.
    await recordKnownMissing(s, t, [{ exchange: 'x', symbol: 'A-USD', ts: T0 + 4 * MIN }, { exchange: 'x', symbol: 'B-USD', ts: T0 + 7 * MIN }], 'run-1', new Date(T0 + HOUR));
    await recordKnownMissing(s, t, [{ exchange: 'x', symbol: 'B-USD', ts: T0 + 7 * MIN }], 'run-2', new Date(T0 + 2 * HOUR));
    expect(await s.query(`SELECT table_name, exchange, symbol, ts, first_seen, run_id FROM coinlake_meta.candle_known_missing ORDER BY symbol`)).toEqual([
      { table_name: 'ohlcv_1m', exchange: 'x', symbol: 'A-USD', ts: new Date(T0 + 4 * MIN), first_seen: new Date(T0 + HOUR), run_id: 'run-1' },
      { table_name: 'ohlcv_1m', exchange: 'x', symbol: 'B-USD', ts: new Date(T0 + 7 * MIN), first_seen: new Date(T0 + HOUR), run_id: 'run-1' },
    ]);
    expect(shown(await missingRanges(s, t, '1m', {}))).toEqual([
      ['x', 'A-USD', iso(T0 + 3 * MIN), iso(T0 + 4 * MIN), 1],
      ['x', 'B-USD', iso(T0 + 6 * MIN), iso(T0 + 7 * MIN), 1],
      ['x', 'A-USD', iso(T0 + 7 * MIN), iso(T0 + 8 * MIN), 1],
      ['x', 'B-USD', iso(T0 + 8 * MIN), iso(T0 + 9 * MIN), 1],
    ]);
    expect(await knownMissingCount(s, t, {})).toBe(2);
    expect(await knownMissingCount(s, t, { symbols: ['A-USD'] })).toBe(1);
    expect(await knownMissingCount(s, t, { since: new Date(T0 + 5 * MIN) })).toBe(1);
    // Another table's known-missing times do not count here.
    expect(await knownMissingCount(s, ohlcvTable('1h'), {})).toBe(0);
  });

  it('works on the grid of the table: hours, and months of unequal length', async () => {
    env = await spineEnv(kind);
    const s = env.session;
    await ensureMetaTables(s);
    await candles(s, '1h', 'x', 'A-USD', [T0, T0 + HOUR, T0 + 5 * HOUR]);
    expect(shown(await missingRanges(s, ohlcvTable('1h'), '1h', {}))).toEqual([['x', 'A-USD', iso(T0 + 2 * HOUR), iso(T0 + 5 * HOUR), 3]]);
    // January to May without March: February (29 days) follows January without a gap; March is missing.
    await candles(s, '1M', 'x', 'A-USD', [Date.UTC(2024, 0, 1), Date.UTC(2024, 1, 1), Date.UTC(2024, 3, 1), Date.UTC(2024, 4, 1)]);
    expect(shown(await missingRanges(s, ohlcvTable('1M'), '1M', {}))).toEqual([['x', 'A-USD', iso(Date.UTC(2024, 2, 1)), iso(Date.UTC(2024, 3, 1)), 1]]);
  });
});
