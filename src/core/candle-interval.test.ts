// The candle grid: fixed steps from the epoch, Monday weeks, calendar months, and counts over half-open ranges.
import { describe, expect, it } from 'vitest';
import { candleCount, nextOpenTime, openTimeAtOrAfter, openTimeAtOrBefore, parseCandleInterval } from './candle-interval.ts';

const t = (iso: string) => Date.parse(iso);

describe('candle intervals', () => {
  it('aligns fixed intervals to the epoch grid', () => {
    expect(openTimeAtOrBefore(t('2024-03-01T10:17:42Z'), '1m')).toBe(t('2024-03-01T10:17:00Z'));
    expect(openTimeAtOrAfter(t('2024-03-01T10:17:42Z'), '15m')).toBe(t('2024-03-01T10:30:00Z'));
    expect(openTimeAtOrAfter(t('2024-03-01T10:30:00Z'), '15m')).toBe(t('2024-03-01T10:30:00Z'));
    expect(nextOpenTime(t('2024-03-01T00:00:00Z'), '4h')).toBe(t('2024-03-01T04:00:00Z'));
  });

  it('opens weeks on Mondays and months on the 1st', () => {
    // 2024-03-06 is a Wednesday.
    expect(new Date(openTimeAtOrBefore(t('2024-03-06T12:00:00Z'), '1w')).toISOString()).toBe('2024-03-04T00:00:00.000Z');
    expect(new Date(openTimeAtOrBefore(t('2024-02-29T23:59:59Z'), '1M')).toISOString()).toBe('2024-02-01T00:00:00.000Z');
    expect(new Date(nextOpenTime(t('2024-12-01T00:00:00Z'), '1M')).toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('counts the grid points of [start, end)', () => {
    expect(candleCount(t('2024-03-01T00:00:00Z'), t('2024-03-02T00:00:00Z'), '1m')).toBe(1440);
    expect(candleCount(t('2024-03-01T00:00:30Z'), t('2024-03-01T00:03:00Z'), '1m')).toBe(2);
    expect(candleCount(t('2024-01-01T00:00:00Z'), t('2025-01-01T00:00:00Z'), '1M')).toBe(12);
    expect(candleCount(t('2024-01-15T00:00:00Z'), t('2024-03-01T00:00:01Z'), '1M')).toBe(2);
    expect(candleCount(t('2024-03-01T00:00:00Z'), t('2024-03-01T00:00:00Z'), '1h')).toBe(0);
  });

  it('rejects unknown names with the valid ones as a hint', () => {
    expect(() => parseCandleInterval('h1')).toThrow(/unknown candle interval "h1"/);
  });
});
