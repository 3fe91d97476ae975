// Binance spot market data (no key): the `klines` stream, paged by startTime with limit 1000 at any interval,
// under one request-weight budget per connection. 1m candles land in coinlake.ohlcv_1m, other intervals in
// ohlcv_<interval>, exchange `binance`, symbol canonical (`BTCUSDT` → `BTC-USDT`).
import {
  nextOpenTime,
  openTimeAtOrAfter,
  openTimeAtOrBefore,
  parseCandleInterval,
  type CandleInterval,
} from '../../core/candle-interval.ts';
import { TerminalError } from '../../core/errors.ts';
import type { ReadContext, Source, Stream, StreamParams } from '../../core/source.ts';
import { ohlcvTable, ohlcv1mTable } from '../ohlcv-table.ts';
import { canonicalPair } from '../pair-symbol.ts';
import { binanceAggTradesFeed, binanceKlinesFeed, binanceTradesFeed } from './binance-feeds.ts';
import { fetchKlines, KLINES_MAX_LIMIT, type KlineRow } from './binance-klines.ts';
import { weightBudgetFor } from './binance-weight-budget.ts';

export const BINANCE_URL = 'https://api.binance.com';
/** The job name of the klines stream. */
export const BINANCE_KLINES_JOB = 'binance.klines';

/** State of one symbol's klines: the open time of the last candle committed, and the job to resume (`coinlake daily`). */
export interface KlinesState {
  watermark: number;
  job: typeof BINANCE_KLINES_JOB;
  params: { symbol: string; interval: CandleInterval };
}

function klinesState(watermark: number, symbol: string, interval: CandleInterval): KlinesState {
  return { watermark, job: BINANCE_KLINES_JOB, params: { symbol, interval } };
}

/** Symbol (`BTCUSDT`) and interval of a klines job: params `symbol` or `asset` (the CLI's --asset), `interval` (default 1m). */
function klinesParams(params: StreamParams): { symbol: string; interval: CandleInterval } {
  const symbol = String(params.symbol ?? params.asset ?? '').trim().toUpperCase();
  if (!/^[A-Z0-9]{2,20}$/.test(symbol)) {
    throw new TerminalError(`binance.klines needs a Binance symbol such as BTCUSDT (got "${symbol}")`, { hint: 'pass --symbols BTCUSDT,ETHUSDT (backfill) or --asset BTCUSDT (run)' });
  }
  return { symbol, interval: parseCandleInterval(String(params.interval ?? '1m')) };
}

/** The weight budget a read uses: params `weightLimit` / `weightWindowMs` override Binance's 6000 per minute. */
function budgetOf(ctx: ReadContext<unknown>) {
  const limit = ctx.params.weightLimit === undefined ? undefined : Number(ctx.params.weightLimit);
  const windowMs = ctx.params.weightWindowMs === undefined ? undefined : Number(ctx.params.weightWindowMs);
  return weightBudgetFor(ctx.baseUrl, { limit, windowMs });
}

/** A kline as a record with the candle table's column names (typed by the normalizer). */
function klineRecord(k: KlineRow, pair: string): Record<string, unknown> {
  return {
    exchange: 'binance',
    symbol: pair,
    ts: k[0],
    open: k[1],
    high: k[2],
    low: k[3],
    close: k[4],
    volume_base: k[5],
    volume_quote: k[7],
    trade_count: k[8],
  };
}

const klinesStream: Stream<KlinesState> = {
  name: 'klines',
  table: ohlcv1mTable,
  tableFor: (params) => ohlcvTable(klinesParams(params).interval),
  defaultWriteMode: 'merge',
  cursor: 'ts',
  // A job without --asset/--interval keeps the state name it always had (KLINES_BITCOIN_H1).
  stateNameDefaults: { asset: 'bitcoin', interval: 'h1' },
  stateAfter(params, window) {
    const { symbol, interval } = klinesParams(params);
    return klinesState(openTimeAtOrBefore(window.end.getTime() - 1, interval), symbol, interval);
  },
  series(params) {
    const { symbol, interval } = klinesParams(params);
    return { filter: { exchange: 'binance', symbol: canonicalPair(symbol) ?? symbol }, timeColumn: 'ts', interval };
  },
  // `coinlake repair`: exchange `binance`, symbol BTC-USDT → BTCUSDT, any interval.
  refetch: {
    exchanges: () => ['binance'],
    params: ({ exchange, symbol, interval }) => (exchange === 'binance' ? { symbol: symbol.replace(/[-/_]/g, ''), interval } : undefined),
  },
  /**
   * Reads the closed candles with open time in the window [start, end), from after the committed watermark, one
   * request of up to 1000 candles at a time; every page carries the new state.
   */
  async *read(ctx) {
    const { symbol, interval } = klinesParams(ctx.params);
    if (!ctx.window) throw new TerminalError('binance.klines needs a time window (--from, and optionally --to)');
    const pair = canonicalPair(symbol) ?? symbol;
    const budget = budgetOf(ctx);
    let start = openTimeAtOrAfter(ctx.window.start.getTime(), interval);
    if (ctx.state?.watermark !== undefined) start = Math.max(start, nextOpenTime(ctx.state.watermark, interval));
    const end = ctx.window.end.getTime();
    let watermark = ctx.state?.watermark;
    while (start < end) {
      const page = await fetchKlines(ctx.http, ctx.baseUrl, budget, { symbol, interval, startTime: start, endTime: end - 1, limit: KLINES_MAX_LIMIT }, { signal: ctx.signal });
      const now = Date.now();
      // Only closed candles inside the window: the one still open would change after it was loaded.
      const klines = page.klines.filter((k) => k[0] >= start && k[0] < end && k[6] < now);
      for (const k of klines) watermark = Math.max(watermark ?? k[0], k[0]);
      yield {
        raw: page.response.body,
        rawGzip: page.response.gzipped,
        records: klines.map((k) => klineRecord(k, pair)),
        origin: page.url,
        nextState: watermark === undefined ? undefined : klinesState(watermark, symbol, interval),
      };
      if (page.klines.length < KLINES_MAX_LIMIT) return;
      const last = page.klines[page.klines.length - 1][0];
      start = nextOpenTime(last, interval);
    }
  },
};

/** Binance spot; market data needs no key. Its limit is request weight (the klines stream's budget), not a request rate. */
export const binanceSource: Source = {
  name: 'binance',
  defaultBaseUrl: BINANCE_URL,
  rateLimitPerMinute: 0,
  examples: { backfillJob: BINANCE_KLINES_JOB, exchange: 'binance', subject: 'coinlake.binance.trades' },
  variables: { baseUrl: 'COINLAKE_BINANCE_URL', wsUrl: 'COINLAKE_BINANCE_WS_URL' },
  replay: { baseUrl: (serverUrl) => `${serverUrl}/binance` },
  // Websocket klines, trades and aggregate trades, gap-filled from the REST API.
  feeds: () => [binanceKlinesFeed, binanceTradesFeed, binanceAggTradesFeed],
  streams: [klinesStream],
};
