// The candles of a CryptoDataDownload file: the columns they are written with, and which of two lines with the same
// candle is kept (both ways of landing a file follow the same rule).
import { intervalMs } from '../../core/candle-interval.ts';
import type { AppendMergeOptions } from '../../core/append-merge.ts';
import { OHLCV_COLUMNS } from '../ohlcv-table.ts';
import { candleTimeBounds } from './cdd-sql.ts';
import type { CddPlanned } from './cdd-plan.ts';

/** The candle table's data columns, in table order (the lineage columns follow them). */
export const CANDLE_COLUMNS = OHLCV_COLUMNS.map((c) => c.name);

/** Of two lines with the same candle, the one first by these (descending) is kept; see mergeOptions. */
export const PREFER_DESCENDING = ['trade_count', 'volume_base', 'volume_quote'];

/**
 * Bulk merge settings of a file: open times were validated onto the interval's grid and into the plausible range (so
 * distinct times are counted with a bitmap over that range, in the same pass as the other figures), and of two lines
 * with the same candle the one with more trades, then more volume, is kept — a candle only ever grows as trades
 * arrive, so that is the later revision.
 */
export function mergeOptions(p: CddPlanned): AppendMergeOptions {
  const fixed = p.interval !== '1w' && p.interval !== '1M';
  return {
    gridMicros: fixed ? intervalMs(p.interval) * 1000 : undefined,
    timeBounds: candleTimeBounds(Date.now()),
    preferDescending: PREFER_DESCENDING,
  };
}
