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

describe('buildJob learns a source from its declaration', () => {
  it("names an incremental job's state from its params, else the stream's defaults (unchanged names)", () => {
    // A catalog job giving `symbol` (not `asset`) keeps the name it always had.
    expect(buildJob('binance.klines', { params: { symbol: 'ETHUSDT' } }).tableName).toBe('KLINES_BITCOIN_H1');
    expect(buildJob('binance.klines', { asset: 'ETHUSDT', interval: '1m' }).tableName).toBe('KLINES_ETHUSDT_1M');
    expect(buildJob('coincap.asset_history', { asset: 'ethereum' }).tableName).toBe('ASSET_HISTORY_ETHEREUM_H1');
    expect(buildJob('evm.erc20_transfers').tableName).toBe('ERC20_TRANSFERS_BITCOIN_H1');
    expect(buildJob('coincap.assets').tableName).toBe('ASSETS');
  });

  it("reads the API key from the source's key variable and then uses its keyed base URL", () => {
    const saved = process.env.COINCAP_API_KEY;
    try {
      process.env.COINCAP_API_KEY = 'k-123';
      const keyed = buildJob('coincap.assets');
      expect([keyed.baseUrl, keyed.headers, keyed.rateLimitPerMinute]).toEqual(['https://rest.coincap.io/v3', { authorization: 'Bearer k-123' }, 500]);
      // A source that reads no key variable ignores it.
      const binance = buildJob('binance.klines', { asset: 'BTCUSDT' });
      expect([binance.baseUrl, binance.headers]).toEqual(['https://api.binance.com', undefined]);
      delete process.env.COINCAP_API_KEY;
      const plain = buildJob('coincap.assets');
      expect([plain.baseUrl, plain.headers, plain.rateLimitPerMinute]).toEqual(['https://api.coincap.io/v2', undefined, 200]);
    } finally {
      if (saved === undefined) delete process.env.COINCAP_API_KEY;
      else process.env.COINCAP_API_KEY = saved;
    }
  });
});
