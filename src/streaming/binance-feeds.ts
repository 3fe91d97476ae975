// Binance's websocket market streams, combined (`/stream?streams=btcusdt@kline_1m/…`, frames `{stream, data}`) or raw
// (`/ws/<stream>`): closed 1m klines into ohlcv_1m (merge) and trades into stream_trades (append).
import { z } from 'zod';
import { ohlcv1mTable } from '../sources/ohlcv-table.ts';
import { canonicalPair } from '../sources/pair-symbol.ts';
import { streamTradesTable } from './stream-tables.ts';
import type { FeedOptions, WsFeed } from './feed.ts';

export const BINANCE_WS_URL = 'wss://stream.binance.com:9443';

const klineEvent = z.object({
  e: z.literal('kline'),
  s: z.string(),
  k: z.object({ t: z.number(), i: z.string(), o: z.string(), c: z.string(), h: z.string(), l: z.string(), v: z.string(), n: z.number(), x: z.boolean(), q: z.string() }),
});
const tradeEvent = z.object({ e: z.literal('trade'), s: z.string(), t: z.number(), p: z.string(), q: z.string(), T: z.number(), m: z.boolean() });

/** The event of a raw or combined frame. */
function eventOf(frame: string): unknown {
  try {
    const j = JSON.parse(frame) as { stream?: unknown; data?: unknown };
    return typeof j.stream === 'string' && j.data !== undefined ? j.data : j;
  } catch {
    return undefined;
  }
}

function streamsUrl(kind: string, { baseUrl, symbols }: FeedOptions): string {
  const names = (symbols.length ? symbols : ['BTCUSDT']).map((s) => `${s.toLowerCase()}@${kind}`);
  return `${baseUrl}/stream?streams=${names.join('/')}`;
}

/** Id of a candle: exchange, symbol, interval and open time — every update of a candle shares it. */
export function klineMsgId(symbol: string, openTime: number): string {
  return `binance.klines:${symbol}:1m:${openTime}`;
}

/** A 1m kline as an ohlcv_1m record. */
export function klineRecord(symbol: string, k: { t: number; o: string; h: string; l: string; c: string; v: string; q: string; n: number }): Record<string, unknown> {
  return { exchange: 'binance', symbol: canonicalPair(symbol) ?? symbol, ts: k.t, open: k.o, high: k.h, low: k.l, close: k.c, volume_base: k.v, volume_quote: k.q, trade_count: k.n };
}

/** Closed 1m candles only: an open candle still changes, and its id would make JetStream keep the first update. */
export const binanceKlinesFeed: WsFeed = {
  kind: 'websocket',
  source: 'binance',
  stream: 'klines',
  table: ohlcv1mTable,
  writeMode: 'merge',
  defaultBaseUrl: BINANCE_WS_URL,
  url: (opts) => streamsUrl('kline_1m', opts),
  parse(frame) {
    const e = klineEvent.safeParse(eventOf(frame));
    if (!e.success || !e.data.k.x || e.data.k.i !== '1m') return [];
    return [{ msgId: klineMsgId(e.data.s, e.data.k.t), record: klineRecord(e.data.s, e.data.k) }];
  },
  seriesPoint(record) {
    return typeof record.symbol === 'string' && typeof record.ts === 'number' ? { series: record.symbol, openTime: record.ts } : undefined;
  },
};

/** Binance trade streams; the natural key is symbol + trade id. */
export const binanceTradesFeed: WsFeed = {
  kind: 'websocket',
  source: 'binance',
  stream: 'trades',
  table: streamTradesTable,
  writeMode: 'append',
  defaultBaseUrl: BINANCE_WS_URL,
  url: (opts) => streamsUrl('trade', opts),
  parse(frame, receivedAt) {
    const e = tradeEvent.safeParse(eventOf(frame));
    if (!e.success) return [];
    const d = e.data;
    const msgId = `binance.trades:${d.s}:${d.t}`;
    // m: the buyer is the maker, so the seller took liquidity.
    return [{ msgId, record: { msg_id: msgId, source: 'binance', exchange: 'binance', symbol: canonicalPair(d.s) ?? d.s, trade_id: String(d.t), side: d.m ? 'sell' : 'buy', price: d.p, volume: d.q, price_usd: null, ts: d.T, received_at: receivedAt } }];
  },
};
