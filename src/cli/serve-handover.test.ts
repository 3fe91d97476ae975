import { describe, expect, it } from 'vitest';
import { jobApiKey } from './serve-handover.ts';

describe('jobApiKey', () => {
  it("hands the server only the key the job's source reads, as `coinlake run` uses it without serve", () => {
    const env = { COINCAP_API_KEY: 'k-1' };
    expect(jobApiKey('coincap.assets', env)).toBe('k-1');
    // Binance reads no key: CoinCap's key is not sent to Binance as a Bearer token.
    expect(jobApiKey('binance.klines', env)).toBeUndefined();
    expect(jobApiKey('coincap.assets', { COINCAP_API_KEY: '' })).toBeUndefined();
    expect(jobApiKey(undefined, env)).toBeUndefined();
    expect(jobApiKey('nope.x', env)).toBeUndefined();
  });
});
