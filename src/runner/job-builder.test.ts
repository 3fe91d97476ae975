import { describe, expect, it } from 'vitest';
import { buildJob, parseWindow } from './job-builder.ts';

describe('buildJob', () => {
  it('gives a stream whose table depends on its params the table for them', () => {
    expect(buildJob('binance.klines', { asset: 'BTCUSDT', interval: '1h' }).table.name).toBe('ohlcv_1h');
    expect(buildJob('binance.klines', { asset: 'BTCUSDT', interval: '1m' }).table.name).toBe('ohlcv_1m');
    expect(buildJob('coincap.assets').table.name).toBe('coincap_assets');
  });
});

describe('parseWindow', () => {
  it('keeps --to exclusive; an empty or reversed window is refused with exactly what to pass', () => {
    expect(parseWindow('2024-03-01', '2024-03-02')).toEqual({ start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z') });
    expect(() => parseWindow('2024-03-01', '2024-03-01')).toThrow('--from 2024-03-01 --to 2024-03-01 is an empty window (--to is exclusive); to include the day 2024-03-01 pass --to 2024-03-02');
    // A day that starts after --from: its end is what to pass.
    expect(() => parseWindow('2024-03-01T12:00:00Z', '2024-03-01')).toThrow('--to 2024-03-01 (2024-03-01T00:00:00.000Z) is before --from 2024-03-01T12:00:00Z (2024-03-01T12:00:00.000Z) (--to is exclusive); to include the day 2024-03-01 pass --to 2024-03-02');
    expect(() => parseWindow('2024-03-01T06:00:00Z', '2024-03-01T06:00:00Z')).toThrow('--from 2024-03-01T06:00:00Z --to 2024-03-01T06:00:00Z is an empty window (--to is exclusive)');
    expect(() => parseWindow('2024-03-05', '2024-03-01')).toThrow('--to 2024-03-01 (2024-03-01T00:00:00.000Z) is before --from 2024-03-05 (2024-03-05T00:00:00.000Z)');
  });
});
