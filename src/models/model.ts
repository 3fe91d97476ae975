// Contract of an analytics model: a named SQL build step over warehouse tables, with the models it reads declared so
// `coinlake models run` can order them.
import type { Session } from '../core/destination.ts';

/** Window sizes of the indicators; every one is a parameter of `fact_indicators`. */
export interface IndicatorParams {
  /** SMA, EMA and Bollinger window (default 20). */
  window: number;
  /** Bollinger width in standard deviations (default 2). */
  bollingerK: number;
  /** RSI window, both variants (default 14). */
  rsi: number;
  /** MACD fast / slow / signal EMA spans (default 12 / 26 / 9). */
  macdFast: number;
  macdSlow: number;
  macdSignal: number;
  /** Rolling volatility window over log returns (default 30). */
  volatility: number;
}

export const DEFAULT_INDICATOR_PARAMS: IndicatorParams = { window: 20, bollingerK: 2, rsi: 14, macdFast: 12, macdSlow: 26, macdSignal: 9, volatility: 30 };

/** What a model run is given. */
export interface ModelContext {
  session: Session;
  indicators: IndicatorParams;
  /** Lineage of the rows this run writes: `_run_id` and `_loaded_at`. */
  runId: string;
  loadedAt: Date;
  /** Rebuild everything instead of only what changed since the model's last run. Default false. */
  full: boolean;
}

/** One model: builds `coinlake.<name>` from the tables of the models it depends on (and source tables). */
export interface Model {
  name: string;
  description: string;
  /** Models this one reads; they run first. Source tables (loaded by jobs) are not listed. */
  dependsOn: string[];
  /** Builds the model's table inside the caller's transaction; returns how many rows it wrote (and how, optionally). */
  run(ctx: ModelContext): Promise<number | ModelOutput>;
}

/** What a model run reports beyond its row count. */
export interface ModelOutput {
  rows: number;
  /** One line on how the model ran, e.g. `incremental: 3 series with new candles` or `full (parameters changed)`. */
  detail: string;
}
