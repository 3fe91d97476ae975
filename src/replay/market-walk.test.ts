// The replay markets' shared walk: it passes through the recorded snapshot's prices at the anchor, moves with the
// daily volatility it is given, is the same for every venue (up to a small basis), and is a pure function of time.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kline } from '../sources/binance/binance-replay-klines.ts';
import { replayCandle } from '../sources/ccxt/replay/ccxt-replay-series.ts';
import { assetWalk, assetWalkUsd, REPLAY_ASSET_LEVELS, REPLAY_MARKET_ANCHOR_MS, walkLogReturn } from './market-walk.ts';

const DAY = 86_400_000;
const RECORDED = JSON.parse(readFileSync('test/fixtures/coincap-v2/assets.json', 'utf8')) as { symbol: string; priceUsd: string }[];

describe('replay market walk', () => {
  it('passes through the recorded CoinCap snapshot prices at the anchor hour', () => {
    for (const [asset, level] of Object.entries(REPLAY_ASSET_LEVELS)) {
      expect(assetWalkUsd(asset, REPLAY_MARKET_ANCHOR_MS), asset).toBe(level.priceUsd);
      const recorded = Number(RECORDED.find((r) => r.symbol === asset)!.priceUsd);
      expect(Math.abs(level.priceUsd / recorded - 1), asset).toBeLessThan(1e-4);
    }
  });

  it('moves with its daily volatility (2.5 % a day for BTC over 2024) and is deterministic', () => {
    const seed = 12345;
    const returns: number[] = [];
    for (let d = 0; d < 366; d++) {
      const t = Date.UTC(2024, 0, 1) + d * DAY;
      returns.push(walkLogReturn(seed, 0.025, REPLAY_MARKET_ANCHOR_MS, t + DAY) - walkLogReturn(seed, 0.025, REPLAY_MARKET_ANCHOR_MS, t));
    }
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    const sd = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / (returns.length - 1));
    expect(sd).toBeGreaterThan(0.021);
    expect(sd).toBeLessThan(0.029);
    // The same minute gives the same price whatever was generated before it (the bridge caches evicted in between).
    const minute = Date.UTC(2024, 5, 10, 13, 37);
    const first = assetWalkUsd('ETH', minute);
    for (let h = 0; h < 24 * 100; h++) assetWalkUsd('ETH', Date.UTC(2023, 0, 1) + h * 3_600_000 + 17 * 60_000);
    expect(assetWalkUsd('ETH', minute)).toBe(first);
    expect(assetWalk('ETH', 'BTC', Date.UTC(2024, 5, 10))).toBe(assetWalkUsd('ETH', Date.UTC(2024, 5, 10)) / assetWalkUsd('BTC', Date.UTC(2024, 5, 10)));
  });

  it('every venue quotes the same walk: Binance BTC-USDT and the ccxt exchanges agree within their ±0.05 % basis and the tick', () => {
    for (let t = Date.UTC(2024, 11, 28); t < Date.UTC(2024, 11, 31); t += 97 * 60_000) {
      const binance = Number(kline('BTCUSDT', '1m', t)[1]);
      const walk = assetWalkUsd('BTC', t);
      expect(Math.abs(binance / walk - 1)).toBeLessThan(1e-6);
      for (const [exchange, symbol] of [['kraken', 'BTC/USD'], ['coinbase', 'BTC/USD'], ['okx', 'BTC/USDT'], ['bybit', 'BTC/USDT']] as const) {
        const c = replayCandle(exchange, symbol, t);
        if (c) expect(Math.abs(c.open / walk - 1), `${exchange} ${new Date(t).toISOString()}`).toBeLessThanOrEqual(0.0005 + 1e-6);
      }
      // Near the snapshot (the demo's window): within 30 % of it.
      expect(binance / REPLAY_ASSET_LEVELS.BTC.priceUsd).toBeGreaterThan(0.7);
      expect(binance / REPLAY_ASSET_LEVELS.BTC.priceUsd).toBeLessThan(1.3);
    }
  });
});
