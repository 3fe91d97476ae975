// Canonical pairs: the JS rule and its SQL twin (used for files DuckDB reads in bulk) give the same answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../core/destination.ts';
import { duckdbDestination } from '../destinations/duckdb/index.ts';
import { canonicalPair, canonicalPairSql } from './pair-symbol.ts';

const CASES: [string, string | undefined][] = [
  ['BTC/USDT', 'BTC-USDT'],
  ['btc-usdt', 'BTC-USDT'],
  ['BTCUSDT', 'BTC-USDT'],
  ['ETHBTC', 'ETH-BTC'],
  ['BNBFDUSD', 'BNB-FDUSD'],
  ['USDCUSDT', 'USDC-USDT'],
  ['DOGEUSD', 'DOGE-USD'],
  ['XYZ', undefined],
  ['', undefined],
];

describe('canonicalPair', () => {
  let s: Session;
  beforeAll(async () => {
    s = await duckdbDestination.open(':memory:');
  });
  afterAll(() => s.close());

  it('splits separated and glued symbols', () => {
    for (const [symbol, pair] of CASES) expect(canonicalPair(symbol), symbol).toBe(pair);
  });

  it('prefers the assets the file names (Volume BTC / Volume USDT)', () => {
    expect(canonicalPair('ABCDEF', { base: 'ABC', quote: 'DEF' })).toBe('ABC-DEF');
  });

  it('SQL gives the same pairs as JS', async () => {
    const values = CASES.map(([symbol], i) => `(${i}, '${symbol}')`).join(', ');
    const rows = await s.query<{ i: number; pair: string | null }>(`SELECT i, ${canonicalPairSql('symbol')} AS pair FROM (VALUES ${values}) AS v(i, symbol) ORDER BY i`);
    expect(rows.map((r) => r.pair ?? undefined)).toEqual(CASES.map(([, pair]) => pair));
  });
});
