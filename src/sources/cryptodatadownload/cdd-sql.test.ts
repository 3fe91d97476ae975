// The row test of the bulk read: `ok` (one cheap test every row takes) and `reason` (worked out only for the rows
// that fail it) must agree on every kind of value — NaN, ±Infinity, negatives, sums beyond the largest double,
// missing or odd trade counts — and a row that passes must have no reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/destination.ts';
import { duckdbDestination } from '../../destinations/duckdb/index.ts';
import type { CddLayout } from './cdd-file.ts';
import { normalizedSql } from './cdd-sql.ts';

const ROLES = ['unix', 'date', 'symbol', 'open', 'high', 'low', 'close', 'volume_base', 'volume_quote', 'tradecount'] as const;
const layout: CddLayout = {
  file: 'Binance_BTCUSDT_minute.csv',
  bytes: 0,
  skipLines: 1,
  headerLine: 2,
  style: 'current',
  columns: ROLES.map((role, index) => ({ index, header: role, role })),
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  firstSymbol: 'BTCUSDT',
};
const T = 1_717_977_600_000; // 2024-06-10T00:00Z in ms
const NOW = Date.UTC(2024, 6, 1);

/** Rows as read_csv would type them: unix BIGINT, prices DOUBLE (text here, cast in SQL so NaN/inf survive). */
type Line = [unix: number, symbol: string, open: string, high: string, low: string, close: string, vb: string, vq: string, trades: string | null];

function readSql(lines: Line[]): string {
  const values = lines
    .map(([u, s, ...n]) => `(${u}, '${s}', ${n.map((v) => (v === null ? 'NULL' : `CAST('${v}' AS DOUBLE)`)).join(', ')})`)
    .join(', ');
  return `(SELECT * FROM (VALUES ${values}) AS v(unix, symbol, open, high, low, close, volume_base, volume_quote, tradecount))`;
}

describe('CDD row test (ok and reason)', () => {
  let s: Session;
  beforeAll(async () => {
    s = await duckdbDestination.open(':memory:');
  });
  afterAll(() => s.close());

  it('agree on every kind of value', async () => {
    const good = ['100', '101', '99', '100.5', '1.5', '150'];
    const lines: Line[] = [
      [T, 'BTCUSDT', ...good, '10'] as Line,
      [T, 'BTC/USDT', ...good, null] as Line, // no trade count: still a candle
      [T, 'BTCUSDT', '0', '0', '0', '0', '0', '0', '0'], // all zero: a candle
      [T, 'BTCUSDT', 'NaN', '101', '99', '100.5', '1.5', '150', '10'],
      [T, 'BTCUSDT', 'NaN', 'NaN', 'NaN', 'NaN', 'NaN', 'NaN', '10'],
      [T, 'BTCUSDT', '100', 'inf', '99', '100.5', '1.5', '150', '10'],
      [T, 'BTCUSDT', '100', '101', '-inf', '100.5', '1.5', '150', '10'],
      [T, 'BTCUSDT', 'inf', '101', '-inf', '100.5', '1.5', '150', '10'],
      [T, 'BTCUSDT', '100', '101', '99', '100.5', '-0.001', '150', '10'],
      [T, 'BTCUSDT', '1e308', '1e308', '99', '100.5', '1.5', '150', '10'], // finite, but the sum is not
      [T, 'BTCUSDT', ...good, 'NaN'] as Line,
      [T, 'BTCUSDT', ...good, '-1'] as Line,
      [T, 'BTCUSDT', ...good, '2e15'] as Line,
      [T + 1, 'BTCUSDT', ...good, '10'] as Line,
      [0, 'BTCUSDT', ...good, '10'] as Line,
      [T, 'XYZ', ...good, '10'] as Line,
    ];
    const rows = await s.query<{ ok: boolean; reason: string | null }>(`SELECT ok, reason FROM (${normalizedSql(layout, '1m', readSql(lines), NOW)})`);
    expect(rows.map((r) => [r.ok, r.reason])).toEqual([
      [true, null],
      [true, null],
      [true, null],
      [false, 'a price or volume is not a finite number'],
      [false, 'a price or volume is not a finite number'],
      [false, 'a price or volume is not a finite number'],
      [false, 'a price or volume is not a finite number'],
      [false, 'a price or volume is not a finite number'],
      [false, 'a price or volume is negative'],
      [false, 'the prices and volumes add up beyond the largest number'],
      [false, 'tradecount is not a count'],
      [false, 'tradecount is not a count'],
      [false, 'tradecount is not a count'],
      [false, `open time ${T + 1} is not on the 1m grid`],
      [false, 'timestamp 0 is out of range'],
      [false, 'symbol "XYZ" is not a pair (BASE/QUOTE, or a known quote asset at the end)'],
    ]);
  });
});
