// CoinCap's websocket feeds: `/prices?assets=…` ({ "bitcoin": "69649.73", … }) and `/trades/<exchange>`.
import { z } from 'zod';
import { streamPricesTable, streamTradesTable } from '../../streaming/stream-tables.ts';
import type { FeedRecord, WsFeed } from '../../streaming/feed.ts';

export const COINCAP_WS_URL = 'wss://ws.coincap.io';

const pricesFrame = z.record(z.string(), z.union([z.string(), z.number()]));
const tradeFrame = z.object({
  exchange: z.string(),
  base: z.string(),
  quote: z.string(),
  direction: z.string().optional(),
  price: z.number(),
  volume: z.number(),
  timestamp: z.number(),
  priceUsd: z.number().optional(),
});

function json(frame: string): unknown {
  try {
    return JSON.parse(frame);
  } catch {
    return undefined;
  }
}

/** Prices of the assets asked for (default `ALL`); the natural key is asset + receipt time, as the frame has no time. */
export const coincapPricesFeed: WsFeed = {
  kind: 'websocket',
  source: 'coincap',
  stream: 'prices',
  table: streamPricesTable,
  writeMode: 'append',
  defaultBaseUrl: COINCAP_WS_URL,
  symbolsHelp: 'CoinCap asset ids (prices)',
  url: ({ baseUrl, symbols }) => `${baseUrl}/prices?assets=${symbols.length ? symbols.join(',') : 'ALL'}`,
  parse(frame, receivedAt) {
    const p = pricesFrame.safeParse(json(frame));
    if (!p.success) return [];
    return Object.entries(p.data).map(([asset, price]): FeedRecord => ({
      msgId: `coincap.prices:${asset}:${receivedAt}`,
      record: { msg_id: `coincap.prices:${asset}:${receivedAt}`, source: 'coincap', asset_id: asset, price_usd: price, received_at: receivedAt },
    }));
  },
};

/** Trades of one exchange (default binance; `--symbols` names the exchange). */
export const coincapTradesFeed: WsFeed = {
  kind: 'websocket',
  source: 'coincap',
  stream: 'trades',
  table: streamTradesTable,
  writeMode: 'append',
  defaultBaseUrl: COINCAP_WS_URL,
  symbolsHelp: 'the exchange (coincap.trades)',
  url: ({ baseUrl, symbols }) => `${baseUrl}/trades/${symbols[0] ?? 'binance'}`,
  parse(frame, receivedAt) {
    const t = tradeFrame.safeParse(json(frame));
    if (!t.success) return [];
    const d = t.data;
    const symbol = `${d.base}-${d.quote}`;
    const msgId = `coincap.trades:${d.exchange}:${symbol}:${d.timestamp}:${d.direction ?? ''}:${d.price}:${d.volume}`;
    return [{ msgId, record: { msg_id: msgId, source: 'coincap', exchange: d.exchange, symbol, trade_id: null, side: d.direction ?? null, price: d.price, volume: d.volume, price_usd: d.priceUsd ?? null, ts: d.timestamp, received_at: receivedAt } }];
  },
};
