// The shapes of CoinLore's responses (shared/api-reference.md §3), checked with zod before records are taken from
// them. Records themselves are typed by the normalizer, so these checks stay shallow.
import { z } from 'zod';
import { parseShape } from '../response-shape.ts';

const record = z.record(z.string(), z.unknown());
const count = z.union([z.number(), z.string().regex(/^\d+$/)]).transform(Number);

const tickersPage = z.object({ data: z.array(z.unknown()), info: z.object({ coins_num: count, time: count.optional() }) });
const recordArray = z.array(z.unknown());
const globalArray = z.array(record).min(1, 'expected an array of one object');
const exchangesObject = z.record(z.string(), record);
const exchangeObject = z.object({ '0': z.object({ name: z.string() }).loose(), pairs: z.array(z.unknown()) });
const socialStats = z.object({
  reddit: z.object({ avg_active_users: z.number().nullish(), subscribers: z.number().nullish() }).loose().nullish(),
  twitter: z.object({ followers_count: z.number().nullish(), status_count: z.number().nullish() }).loose().nullish(),
});

export type CoinloreRecord = Record<string, unknown>;

/** `/tickers/`: `{data: [...], info: {coins_num, time}}`. */
export function parseTickersPage(json: unknown, url: string): { data: unknown[]; coinsNum: number; time?: number } {
  const p = parseShape(tickersPage, json, url, '{"data": [ {ticker}… ], "info": {"coins_num": n, "time": unix_s}}');
  return { data: p.data, coinsNum: p.info.coins_num, time: p.info.time };
}

/** `/ticker/`, `/coin/markets/`: a bare array of records. */
export function parseRecordArray(json: unknown, url: string, expected: string): unknown[] {
  return parseShape(recordArray, json, url, expected);
}

/** `/global/`: an array holding one object. */
export function parseGlobal(json: unknown, url: string): CoinloreRecord {
  return parseShape(globalArray, json, url, '[ {"coins_count": n, "total_mcap": n, …} ]')[0];
}

/** `/exchanges/`: an object keyed by exchange id; each value is one exchange. */
export function parseExchanges(json: unknown, url: string): CoinloreRecord[] {
  const byId = parseShape(exchangesObject, json, url, '{"<id>": {"id": "<id>", "name": …}, …}');
  return Object.entries(byId).map(([id, e]) => ({ ...e, id: e.id ?? id }));
}

/** `/exchange/?id=`: `{"0": {name, date_live, url}, "pairs": [...]}`. */
export function parseExchange(json: unknown, url: string): { name: string; pairs: unknown[] } {
  const p = parseShape(exchangeObject, json, url, '{"0": {"name": …, "date_live": …, "url": …}, "pairs": [ {pair}… ]}');
  return { name: p['0'].name, pairs: p.pairs };
}

/**
 * `/coin/social_stats/?id=`, flattened to one record of the coin: `reddit.subscribers` → `reddit_subscribers`. Keys
 * beyond the four figures stay in the record (`reddit_<key>`, or as sent at the top level), so the normalizer reports
 * them as drift instead of their vanishing.
 */
export function parseSocialStats(json: unknown, url: string, coinId: string): CoinloreRecord {
  const p = parseShape(socialStats, json, url, '{"reddit": {"avg_active_users": n, "subscribers": n}, "twitter": {"followers_count": n, "status_count": n}}');
  const record: CoinloreRecord = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key === 'reddit' || key === 'twitter') {
      if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) record[`${key}_${k}`] = v;
    } else {
      record[key] = value;
    }
  }
  return {
    ...record,
    coin_id: coinId,
    reddit_avg_active_users: p.reddit?.avg_active_users ?? null,
    reddit_subscribers: p.reddit?.subscribers ?? null,
    twitter_followers_count: p.twitter?.followers_count ?? null,
    twitter_status_count: p.twitter?.status_count ?? null,
  };
}
