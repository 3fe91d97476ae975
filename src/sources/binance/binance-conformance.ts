// Binance in the source conformance suite (src/sources/conformance/): the recorded klines pages and what they must
// give. Pages recorded from the replay server's deterministic klines (src/replay/kline-series.ts).
import type { SourceConformance } from '../conformance/conformance-spec.ts';
import { binanceSource } from './binance-source.ts';

export const conformance: SourceConformance = {
  source: binanceSource,
  streams: [
    {
      stream: 'klines',
      // 1,010 one-minute candles: a full page of 1,000, then 10; the rerun adds the next 10 minutes.
      record: {
        basePath: '/binance',
        params: { symbol: 'BTCUSDT', interval: '1m' },
        window: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T16:50:00Z' },
        rerunWindow: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T17:00:00Z' },
      },
      rows: 1010,
      pages: 2,
      values: [
        { exchange: 'binance', symbol: 'BTC-USDT', ts: new Date('2024-06-10T00:00:00Z'), open: 93521.05, high: 93671.05, low: 93433.15, close: 93472.91, volume_base: 86.76869, volume_quote: 8112610.4735562, trade_count: 114 },
        { exchange: 'binance', symbol: 'BTC-USDT', ts: new Date('2024-06-10T16:49:00Z'), close: 93156.05, trade_count: 1569 },
      ],
      // The last candle read, 16:49Z; the rerun asks from 16:50Z on.
      state: { watermark: 1718038140000, job: 'binance.klines', params: { symbol: 'BTCUSDT', interval: '1m' } },
      rerunRequests: ['/binance/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1718038200000&endTime=1718038799999&limit=1000'],
      skip: {
        drift: 'klines are positional arrays: the source maps positions 0–8 to named fields, and Binance documents the rest as "ignore" (the raw lake keeps them); a new key cannot appear',
      },
    },
  ],
};
