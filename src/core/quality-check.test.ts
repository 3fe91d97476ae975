// The check declarations as config files write them: accepted shapes, defaults and the errors for the rest.
import { describe, expect, it } from 'vitest';
import { durationMs } from './duration.ts';
import { qualityChecksSchema } from './quality-check.ts';

describe('qualityChecksSchema', () => {
  it('accepts every check type as YAML spells it', () => {
    const checks = [
      { type: 'not_null', columns: ['id', 'symbol'] },
      { type: 'unique' },
      { type: 'unique', columns: ['exchange_id', 'base_id'], severity: 'warn', name: 'pair unique' },
      { type: 'accepted_range', column: 'price_usd', gt: 0 },
      { type: 'accepted_range', column: 'rank', gte: 1, lte: 5000 },
      { type: 'freshness', column: 'time', max_age: '2h' },
      { type: 'candle_gaps', column: 'time', interval: '1m', partition_by: ['symbol'] },
    ];
    expect(qualityChecksSchema.parse(checks)).toEqual(checks);
  });

  it('refuses what cannot run, saying what was expected', () => {
    const issues = (v: unknown) => qualityChecksSchema.safeParse([v]).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ type: 'not_null', columns: [] })).toEqual(['0.columns: expected at least one column']);
    expect(issues({ type: 'accepted_range', column: 'price' })).toEqual(['0: expected at least one bound: gt, gte, lt or lte']);
    expect(issues({ type: 'accepted_range', column: 'price', gt: 0, gte: 0 })).toEqual(['0.gte: expected gt or gte, not both']);
    expect(issues({ type: 'freshness', column: 'time', max_age: '2 hours' })).toEqual([
      '0.max_age: expected a positive number with a unit ms, s, m, h, d or w, e.g. 15m or 2h',
    ]);
    expect(issues({ type: 'not_null', columns: ['a; DROP TABLE x'] })?.[0]).toMatch(/^0\.columns\.0: expected a column name/);
    expect(issues({ type: 'unique', colums: ['id'] })?.[0]).toMatch(/colums/);
    expect(issues({ type: 'row_count' })?.[0]).toMatch(/^0\.type: /);
    expect(issues({ type: 'unique', severity: 'fatal' })?.[0]).toMatch(/^0\.severity: /);
  });
});

describe('durationMs', () => {
  it('reads ms, s, m, h, d and w; refuses zero and other text', () => {
    expect(['250ms', '90s', '15m', '2h', '1d', '1w', '1.5h'].map(durationMs)).toEqual([250, 90_000, 900_000, 7_200_000, 86_400_000, 604_800_000, 5_400_000]);
    expect(['0m', '2', 'h', '2 hours', '-1h', ''].map(durationMs)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
