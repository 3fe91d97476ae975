// Gap-fill for the klines feed: minutes a websocket missed (a reconnect, a silent feed) come from Binance REST
// klines, as records with the same message ids as the feed's, so a minute both sources sent is stored once.
import { fetchKlines } from './binance-klines.ts';
import { weightBudgetFor } from './binance-weight-budget.ts';
import { HttpClient } from '../../http/http-client.ts';
import { klineMsgId, klineRecord } from './binance-feeds.ts';
import type { FeedRecord } from '../../streaming/feed.ts';
import type { GapFiller } from '../../streaming/ws-producer.ts';

/** A GapFiller reading `${restBaseUrl}/api/v3/klines` (series are canonical pairs, `BTC-USDT`); closed candles only. */
export function klineGapFiller(restBaseUrl: string, http = new HttpClient({ rateLimitPerMinute: 0 })): GapFiller {
  const budget = weightBudgetFor(restBaseUrl, {});
  return async function* (series, from, to) {
    const symbol = series.replace('-', '');
    for (let start = from; start <= to; ) {
      const page = await fetchKlines(http, restBaseUrl, budget, { symbol, interval: '1m', startTime: start, endTime: to, limit: 1000 });
      const now = Date.now();
      const out: FeedRecord[] = [];
      for (const k of page.klines) {
        if (k[0] < from || k[0] > to || k[6] >= now) continue;
        out.push({ msgId: klineMsgId(symbol, k[0]), record: klineRecord(symbol, { t: k[0], o: k[1], h: k[2], l: k[3], c: k[4], v: k[5], q: k[7], n: k[8] }) });
      }
      yield out;
      if (page.klines.length < 1000) break;
      start = page.klines[page.klines.length - 1][0] + 60_000;
    }
  };
}
