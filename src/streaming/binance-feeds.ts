// Moved to src/sources/binance/binance-feeds.ts; re-exported here only for kline-gap-fill.ts, trade-gap-fill.ts and
// the stream-resume/streaming-edges tests, under edit by another engineer while the feeds moved.
export * from '../sources/binance/binance-feeds.ts';
