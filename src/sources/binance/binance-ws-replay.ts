// Binance's websocket market streams on the replay server: `/stream?streams=…` (combined) and `/ws/<stream>` (raw),
// kline_1m, trade and aggTrade, from the same series its REST replay routes serve (for gap-fill tests).
import type { WsFrameSource, WsFrames } from '../../replay/ws-replay.ts';
import { kline } from './binance-replay-klines.ts';
import { replayAggTrade, replayTrade } from './binance-replay-trades.ts';

const MINUTE = 60_000;

/** Binance frames of one tick: per kline stream an open update then the closed candle of minute i; per trade (aggTrade) stream one trade (aggregate). */
function binanceStreams(streams: string[], combined: boolean, startMs: number): WsFrames {
  return (i: number) => {
    const out: string[] = [];
    for (const name of streams) {
      const [lower, kind] = name.split('@');
      const symbol = lower.toUpperCase();
      let data: object[];
      if (kind === 'kline_1m') {
        const k = kline(symbol, '1m', startMs + i * MINUTE);
        const body = (x: boolean, E: number) => ({ e: 'kline', E, s: symbol, k: { t: k[0], T: k[6], s: symbol, i: '1m', f: i * 1000, L: i * 1000 + k[8] - 1, o: k[1], c: k[4], h: k[2], l: k[3], v: k[5], n: k[8], x, q: k[7], V: k[9], Q: k[10], B: '0' } });
        data = [body(false, k[0] + 30_000), body(true, k[6] + 1)];
      } else if (kind === 'trade') {
        // The series /api/v3/historicalTrades of the REST replay serves too.
        const t = replayTrade(i, startMs);
        data = [{ e: 'trade', E: t.time + 1, s: symbol, t: t.id, p: t.price, q: t.qty, T: t.time, m: t.isBuyerMaker, M: true }];
      } else if (kind === 'aggTrade') {
        // Aggregate i covers trades 3i…3i+2 (ids from 1,000,000); /api/v3/aggTrades of the REST replay serves it too.
        const t = replayAggTrade(i, startMs);
        data = [{ e: 'aggTrade', E: t.T + 1, s: symbol, ...t }];
      } else continue;
      for (const d of data) out.push(JSON.stringify(combined ? { stream: name, data: d } : d));
    }
    return out;
  };
}

/** The Binance stream(s) at `u`, if it is one; klines open at `klineStartMs` + tick minutes. */
export const binanceWsFrames: WsFrameSource = (u, { klineStartMs }) => {
  if (u.pathname === '/stream') return binanceStreams((u.searchParams.get('streams') ?? '').split('/').filter(Boolean), true, klineStartMs);
  const raw = /^\/ws\/(.+)$/.exec(u.pathname);
  if (raw) return binanceStreams(raw[1].split('/'), false, klineStartMs);
  return undefined;
};
