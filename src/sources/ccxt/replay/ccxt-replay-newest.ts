// The newest candles and trades of a time window, newest first: what exchanges serve when a request gives an end (or
// none, meaning now) and a limit but no start. The series functions walk forward from a start; these walk back
// minute by minute from the end, so "the latest 100 trades" costs about 50 minutes of series, not years.
import { MINUTE_MS, REPLAY_HISTORY_START_MS, replayCandle, replayTradesOfMinute, type CcxtReplayExchange, type ReplayCandle, type ReplayTrade } from './ccxt-replay-series.ts';

/** The newest `limit` candles with `fromMs` ≤ ts < `toMs`, newest first. */
export function newestCandles(exchange: CcxtReplayExchange, symbol: string, fromMs: number, toMs: number, limit: number): ReplayCandle[] {
  const out: ReplayCandle[] = [];
  const first = Math.max(fromMs, REPLAY_HISTORY_START_MS);
  for (let t = Math.ceil(toMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS; t >= first && out.length < limit; t -= MINUTE_MS) {
    const c = replayCandle(exchange, symbol, t);
    if (c) out.push(c);
  }
  return out;
}

/** The newest `limit` trades with `fromMs` ≤ timestamp < `toMs`, newest first. */
export function newestTrades(exchange: CcxtReplayExchange, symbol: string, fromMs: number, toMs: number, limit: number): ReplayTrade[] {
  const out: ReplayTrade[] = [];
  const first = Math.max(Math.floor(fromMs / MINUTE_MS) * MINUTE_MS, REPLAY_HISTORY_START_MS);
  for (let t = Math.ceil(toMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS; t >= first && out.length < limit; t -= MINUTE_MS) {
    const trades = replayTradesOfMinute(exchange, symbol, t);
    for (let i = trades.length - 1; i >= 0 && out.length < limit; i--) {
      if (trades[i].timestamp >= fromMs && trades[i].timestamp < toMs) out.push(trades[i]);
    }
  }
  return out;
}
