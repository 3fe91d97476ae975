import { describe, expect, it } from 'vitest';
import { buildJob } from './job-builder.ts';

describe('buildJob', () => {
  it('gives a stream whose table depends on its params the table for them', () => {
    expect(buildJob('binance.klines', { asset: 'BTCUSDT', interval: '1h' }).table.name).toBe('ohlcv_1h');
    expect(buildJob('binance.klines', { asset: 'BTCUSDT', interval: '1m' }).table.name).toBe('ohlcv_1m');
    expect(buildJob('coincap.assets').table.name).toBe('coincap_assets');
  });
});
