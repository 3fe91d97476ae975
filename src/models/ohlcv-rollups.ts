// Models `ohlcv_1h` and `ohlcv_1d`: candles rolled up from `ohlcv_1m` (open of the first minute, close of the last,
// high/low extremes, summed volumes and trade counts), each with the number of minutes it was built from and whether
// that is all of them (#25: an `ohlcv_1d` row of 82 minutes no longer looks like any other day). Incremental: only the
// buckets holding a minute candle loaded after the rollup's last model run are deleted and rebuilt; other rows (e.g.
// hour candles imported from CDD files for series without minute candles, whose two columns stay NULL) stay.
import type { TableSpec } from '../core/table.ts';
import { ohlcv1mTable, ohlcvTable } from '../sources/ohlcv-table.ts';
import type { Model, ModelContext } from './model.ts';

/** Minutes in a complete rollup candle: UTC hours and days have no gaps or leaps. */
const MINUTES = { hour: 60, day: 1440 } as const;

/**
 * A rollup's table: the candle layout and two columns the rollup fills — `minutes_present`, the minute candles the
 * row was built from, and `is_complete`, whether that is every minute of its hour or day. Rows written by imports
 * (CDD hour files, klines of that interval) leave both NULL: not built from minutes, their completeness not known.
 */
export function rollupTable(unit: 'hour' | 'day'): TableSpec {
  const t = ohlcvTable(unit === 'hour' ? '1h' : '1d');
  return { ...t, columns: [...t.columns, { name: 'minutes_present', type: 'integer' }, { name: 'is_complete', type: 'boolean' }] };
}

/** `_run_id` prefix of rows written by model runs; the rollups' watermark reads only those. */
export const MODEL_RUN_PREFIX = 'model-';

function rollup(name: 'ohlcv_1h' | 'ohlcv_1d', unit: 'hour' | 'day'): Model {
  const table = rollupTable(unit);
  return {
    name,
    description: `${unit} candles rolled up from ohlcv_1m (incremental by the minute candles' load time)`,
    dependsOn: [],
    async run({ session: s, runId, loadedAt, full }: ModelContext): Promise<number> {
      await s.ensureTable(ohlcv1mTable);
      await s.ensureTable(table);
      const target = `coinlake.${name}`;
      const bucket = `date_trunc('${unit}', ts)`;
      const [{ mark }] = await s.query<{ mark: Date | null }>(`SELECT max(_loaded_at) AS mark FROM ${target} WHERE _run_id LIKE '${MODEL_RUN_PREFIX}%'`);
      const since = full || mark === null ? null : mark.toISOString();
      await s.exec(`DROP TABLE IF EXISTS model_changed_buckets`);
      await s.exec(
        `CREATE TEMP TABLE model_changed_buckets AS
           SELECT DISTINCT exchange, symbol, ${bucket} AS bucket FROM coinlake.ohlcv_1m
            WHERE ${since === null ? 'TRUE' : `_loaded_at > CAST('${since}' AS TIMESTAMPTZ)`}`,
      );
      try {
        await s.exec(
          `DELETE FROM ${target} WHERE EXISTS (SELECT 1 FROM model_changed_buckets c
             WHERE c.exchange = ${target}.exchange AND c.symbol = ${target}.symbol AND c.bucket = ${target}.ts)`,
        );
        return await s.exec(
          `INSERT INTO ${target} (exchange, symbol, ts, open, high, low, close, volume_base, volume_quote, trade_count, minutes_present, is_complete, _run_id, _loaded_at)
           SELECT m.exchange, m.symbol, ${bucket.replace('ts', 'm.ts')},
                  (array_agg(m.open ORDER BY m.ts))[1], max(m.high), min(m.low), (array_agg(m.close ORDER BY m.ts DESC))[1],
                  sum(m.volume_base), sum(m.volume_quote), sum(m.trade_count),
                  CAST(count(*) AS INTEGER), count(*) = ${MINUTES[unit]}, $1, CAST($2 AS TIMESTAMPTZ)
             FROM coinlake.ohlcv_1m m
             JOIN model_changed_buckets c ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.bucket = ${bucket.replace('ts', 'm.ts')}
            GROUP BY m.exchange, m.symbol, ${bucket.replace('ts', 'm.ts')}`,
          [runId, loadedAt.toISOString()],
        );
      } finally {
        await s.exec(`DROP TABLE IF EXISTS model_changed_buckets`);
      }
    },
  };
}

export const ohlcv1hModel: Model = rollup('ohlcv_1h', 'hour');
export const ohlcv1dModel: Model = rollup('ohlcv_1d', 'day');
