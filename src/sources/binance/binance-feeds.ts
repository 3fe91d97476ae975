// Binance's websocket market streams, combined (`/stream?streams=btcusdt@kline_1m/…`, frames `{stream, data}`) or raw
// (`/ws/<stream>`): closed 1m klines into ohlcv_1m (merge) and trades into stream_trades (append).
import { z } from 'zod';
import { ohlcv1mTable } from '../ohlcv-table.ts';
import { canonicalPair } from '../pair-symbol.ts';
import { streamTradesTable } from '../../streaming/stream-tables.ts';
import type { FeedOptions, FeedRecord, WsFeed } from '../../streaming/feed.ts';
import { klineGapFiller } from './binance-kline-gap-fill.ts';
import { aggTradeGapFiller, tradeGapFiller } from './binance-trade-gap-fill.ts';

export const BINANCE_WS_URL = 'wss://stream.binance.com:9443';

const klineEvent = z.object({
  e: z.literal('kline'),
  s: z.string(),
  k: z.object({ t: z.number(), i: z.string(), o: z.string(), c: z.string(), h: z.string(), l: z.string(), v: z.string(), n: z.number(), x: z.boolean(), q: z.string() }),
});
const tradeEvent = z.object({ e: z.literal('trade'), s: z.string(), t: z.number(), p: z.string(), q: z.string(), T: z.number(), m: z.boolean() });
/** An aggregate trade: trades f…l of one taker order at one price, aggregate id a. */
const aggTradeEvent = z.object({ e: z.literal('aggTrade'), s: z.string(), a: z.number(), p: z.string(), q: z.string(), f: z.number(), l: z.number(), T: z.number(), m: z.boolean() });

/**
 * The kind of a frame: its event type (`e`), else the kind of its combined stream (`bookTicker` of
 * `btcusdt@bookTicker`), `response` (an answer to a SUBSCRIBE), `non-JSON` or `unknown`.
 */
export function binanceFrameKind(frame: string): string {
  let j: unknown;
  try {
    j = JSON.parse(frame);
  } catch {
    return 'non-JSON';
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'unknown';
  const o = j as { stream?: unknown; data?: unknown; result?: unknown; id?: unknown };
  const data = typeof o.stream === 'string' && o.data !== undefined ? o.data : o;
  const e = data !== null && typeof data === 'object' ? (data as { e?: unknown }).e : undefined;
  if (typeof e === 'string' && e !== '') return e;
  if (typeof o.stream === 'string' && o.stream.includes('@')) return o.stream.slice(o.stream.indexOf('@') + 1);
  if ('result' in o && 'id' in o) return 'response';
  return 'unknown';
}

/** The kind of a frame that gave no record: `<kind> (invalid)` for a kind the feed loads, the kind otherwise. */
function ignoredOf(loads: string[]) {
  return (frame: string): string => {
    const kind = binanceFrameKind(frame);
    return loads.includes(kind) ? `${kind} (invalid)` : kind;
  };
}

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
  symbolsHelp: 'Binance symbols',
  url: (opts) => streamsUrl('kline_1m', opts),
  parse(frame) {
    const e = klineEvent.safeParse(eventOf(frame));
    if (!e.success || !e.data.k.x || e.data.k.i !== '1m') return [];
    return [{ msgId: klineMsgId(e.data.s, e.data.k.t), record: klineRecord(e.data.s, e.data.k) }];
  },
  gapFiller: (restBaseUrl) => klineGapFiller(restBaseUrl),
  seriesPoint(record) {
    return typeof record.symbol === 'string' && typeof record.ts === 'number' ? { series: record.symbol, openTime: record.ts } : undefined;
  },
  ignoredKind(frame) {
    const kind = binanceFrameKind(frame);
    if (kind !== 'kline') return kind;
    const e = klineEvent.safeParse(eventOf(frame));
    // An open candle is expected to give no record; a candle of another interval is ignored.
    return !e.success ? 'kline (invalid)' : e.data.k.i !== '1m' ? `kline_${e.data.k.i}` : undefined;
  },
  lastStored: { point: 'ts', where: "exchange = 'binance'" },
};

/** Id of a Binance trade: symbol and trade id (websocket and REST trades share it). */
export function binanceTradeMsgId(symbol: string, tradeId: number): string {
  return `binance.trades:${symbol}:${tradeId}`;
}

/** A Binance trade as a stream_trades record; `buyerIsMaker`: the seller took liquidity. */
export function binanceTradeRecord(symbol: string, t: { id: number; price: string; qty: string; time: number; buyerIsMaker: boolean }, receivedAt: number): Record<string, unknown> {
  const msgId = binanceTradeMsgId(symbol, t.id);
  return { msg_id: msgId, source: 'binance', exchange: 'binance', symbol: canonicalPair(symbol) ?? symbol, trade_id: String(t.id), side: t.buyerIsMaker ? 'sell' : 'buy', price: t.price, volume: t.qty, price_usd: null, ts: t.time, received_at: receivedAt };
}

/** Binance trade streams; the natural key is symbol + trade id. */
export const binanceTradesFeed: WsFeed = {
  kind: 'websocket',
  source: 'binance',
  stream: 'trades',
  table: streamTradesTable,
  writeMode: 'append',
  defaultBaseUrl: BINANCE_WS_URL,
  symbolsHelp: 'Binance symbols',
  url: (opts) => streamsUrl('trade', opts),
  ignoredKind: ignoredOf(['trade', 'aggTrade']),
  parse(frame, receivedAt) {
    const event = eventOf(frame);
    const e = tradeEvent.safeParse(event);
    if (!e.success) return aggTradeRecords(event, receivedAt);
    const d = e.data;
    // m: the buyer is the maker, so the seller took liquidity.
    return [{ msgId: binanceTradeMsgId(d.s, d.t), record: binanceTradeRecord(d.s, { id: d.t, price: d.p, qty: d.q, time: d.T, buyerIsMaker: d.m }, receivedAt) }];
  },
  gapFiller: (restBaseUrl) => tradeGapFiller(restBaseUrl),
  tradeId(record) {
    return typeof record.symbol === 'string' && typeof record.trade_id === 'string' ? { series: record.symbol, id: Number(record.trade_id) } : undefined;
  },
  lastStored: { point: 'CAST(trade_id AS BIGINT)', where: "msg_id LIKE 'binance.trades:%'" },
};

/** Id of a Binance aggregate trade: symbol and aggregate trade id. */
export function binanceAggTradeMsgId(symbol: string, aggId: number): string {
  return `binance.aggtrades:${symbol}:${aggId}`;
}

/**
 * An aggTrade event as a stream_trades record (trade_id NULL; agg_trade_id, first_trade_id, last_trade_id set). A REST
 * aggTrades row with `e: 'aggTrade'` and `s` added is one too (the fields are the event's).
 */
export function aggTradeRecords(event: unknown, receivedAt: number): FeedRecord[] {
  const e = aggTradeEvent.safeParse(event);
  if (!e.success) return [];
  const d = e.data;
  const msgId = binanceAggTradeMsgId(d.s, d.a);
  // m: the buyer is the maker, so the seller took liquidity.
  const record = { msg_id: msgId, source: 'binance', exchange: 'binance', symbol: canonicalPair(d.s) ?? d.s, trade_id: null, side: d.m ? 'sell' : 'buy', price: d.p, volume: d.q, price_usd: null, ts: d.T, received_at: receivedAt, agg_trade_id: d.a, first_trade_id: d.f, last_trade_id: d.l };
  return [{ msgId, record }];
}

/** Binance aggregate trade streams (`<symbol>@aggTrade`) into stream_trades; the natural key is symbol + aggregate id. */
export const binanceAggTradesFeed: WsFeed = {
  kind: 'websocket',
  source: 'binance',
  stream: 'aggtrades',
  table: streamTradesTable,
  writeMode: 'append',
  defaultBaseUrl: BINANCE_WS_URL,
  symbolsHelp: 'Binance symbols',
  url: (opts) => streamsUrl('aggTrade', opts),
  // Trade and aggTrade frames alike, as binance.trades.
  parse: (frame, receivedAt) => binanceTradesFeed.parse(frame, receivedAt),
  ignoredKind: ignoredOf(['trade', 'aggTrade']),
  gapFiller: (restBaseUrl) => aggTradeGapFiller(restBaseUrl),
  tradeId(record) {
    return typeof record.symbol === 'string' && typeof record.agg_trade_id === 'number' ? { series: record.symbol, id: record.agg_trade_id } : undefined;
  },
  lastStored: { point: 'agg_trade_id', where: "msg_id LIKE 'binance.aggtrades:%'" },
};
