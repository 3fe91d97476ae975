// Data-quality checks a table declares (TableSpec.checks, `checks:` in the catalog): the zod schema is both the
// runtime validation of config files and the TypeScript type. Keys are snake_case, as in the YAML.
import { z } from 'zod';
import { DURATION_FORM, durationMs } from './duration.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const column = z.string().regex(IDENT, 'expected a column name (letters, digits and _, not starting with a digit)');
const columns = z.array(column).min(1, 'expected at least one column');
const duration = z.string().refine((v) => durationMs(v) !== undefined, { error: `expected ${DURATION_FORM}` });

/** `error` (default): a failure marks the run failed-quality; `warn`: a failure is a warning on the run. */
export const CHECK_SEVERITIES = ['error', 'warn'] as const;
export type CheckSeverity = (typeof CHECK_SEVERITIES)[number];

const common = {
  /** Shown in results; default e.g. `not_null(id,symbol)`. */
  name: z.string().min(1).optional(),
  severity: z.enum(CHECK_SEVERITIES).optional(),
};

/** No NULL in any of the columns. */
export const notNullCheckSchema = z.strictObject({ type: z.literal('not_null'), columns, ...common });
/** No two rows share the columns' values (default: the primary key). */
export const uniqueCheckSchema = z.strictObject({ type: z.literal('unique'), columns: columns.optional(), ...common });
/** Every non-NULL value of the column lies within the bounds given (gt / gte / lt / lte; at least one). */
export const acceptedRangeCheckSchema = z.strictObject({
  type: z.literal('accepted_range'),
  column,
  gt: z.number().optional(),
  gte: z.number().optional(),
  lt: z.number().optional(),
  lte: z.number().optional(),
  ...common,
});
/** The latest value of a timestamp/date column is at most `max_age` before the load (or check) time. */
export const freshnessCheckSchema = z.strictObject({ type: z.literal('freshness'), column, max_age: duration, ...common });
/** OHLCV candles: consecutive times (per `partition_by` series) are exactly `interval` apart; gaps fail. */
export const candleGapsCheckSchema = z.strictObject({
  type: z.literal('candle_gaps'),
  column,
  interval: duration,
  partition_by: columns.optional(),
  ...common,
});

/**
 * A venue's price strays from the cross-venue median: per `partition_by` series (default symbol) and time, the median
 * of the venues' prices (`price` of each `venue`; the mean of the middle two for an even number); a venue fails where
 * |price − median| / median × 10,000 > `max_bps` at `minutes` or more consecutive candles (exactly `interval` apart;
 * a missing candle ends the run). `minutes` counts candles, minutes at the default `1m`; default 1.
 */
export const divergenceCheckSchema = z.strictObject({
  type: z.literal('divergence'),
  max_bps: z.number().positive('expected max_bps > 0 (basis points)'),
  minutes: z.number().int('expected minutes to be a whole number of candles').min(1, 'expected minutes >= 1').optional(),
  /** The time column; default `ts`. */
  column: column.optional(),
  /** Default `close`. */
  price: column.optional(),
  /** Default `exchange`. */
  venue: column.optional(),
  /** Default `[symbol]`. */
  partition_by: columns.optional(),
  /** Default `1m`. */
  interval: duration.optional(),
  ...common,
});

/** One declared check. */
export const qualityCheckSchema = z
  .discriminatedUnion('type', [notNullCheckSchema, uniqueCheckSchema, acceptedRangeCheckSchema, freshnessCheckSchema, candleGapsCheckSchema, divergenceCheckSchema])
  .superRefine((c, ctx) => {
    if (c.type === 'divergence' && c.partition_by?.includes(c.venue ?? 'exchange')) {
      ctx.addIssue({ code: 'custom', path: ['partition_by'], message: `expected partition_by without the venue column ${c.venue ?? 'exchange'} (the venues of a series are compared with each other)` });
    }
    if (c.type !== 'accepted_range') return;
    if (c.gt === undefined && c.gte === undefined && c.lt === undefined && c.lte === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected at least one bound: gt, gte, lt or lte' });
    }
    if (c.gt !== undefined && c.gte !== undefined) ctx.addIssue({ code: 'custom', path: ['gte'], message: 'expected gt or gte, not both' });
    if (c.lt !== undefined && c.lte !== undefined) ctx.addIssue({ code: 'custom', path: ['lte'], message: 'expected lt or lte, not both' });
  });

/** The checks of one table, as `checks:` lists them. */
export const qualityChecksSchema = z.array(qualityCheckSchema);

export type QualityCheck = z.output<typeof qualityCheckSchema>;
export type NotNullCheck = z.output<typeof notNullCheckSchema>;
export type UniqueCheck = z.output<typeof uniqueCheckSchema>;
export type AcceptedRangeCheck = z.output<typeof acceptedRangeCheckSchema>;
export type FreshnessCheck = z.output<typeof freshnessCheckSchema>;
export type CandleGapsCheck = z.output<typeof candleGapsCheckSchema>;
export type DivergenceCheck = z.output<typeof divergenceCheckSchema>;
export type QualityCheckType = QualityCheck['type'];
