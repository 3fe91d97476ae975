// Where the warehouse and the lake are: flags, then environment, then the config file, then defaults.

/**
 * The warehouse file when none is named. Not `coinlake.duckdb`: DuckDB names a file's catalog after its base name,
 * and a catalog `coinlake` makes `coinlake.<table>` ambiguous with the schema for whoever opens the file directly.
 */
export const DEFAULT_WAREHOUSE = './warehouse.duckdb';
/** The earlier default: moved to DEFAULT_WAREHOUSE when found and no file is named (src/cli/warehouse-file.ts). */
export const LEGACY_DEFAULT_WAREHOUSE = './coinlake.duckdb';

export interface Settings {
  warehouse: string;
  lake: string;
  replay: boolean;
}

/**
 * Resolves settings: `overrides` (the command line) win, then the environment, then `file` (the config file's
 * `warehouse`/`lake`), then the defaults.
 */
export function resolveSettings(overrides: Partial<Settings> = {}, env: NodeJS.ProcessEnv = process.env, file: Partial<Settings> = {}): Settings {
  return {
    warehouse: overrides.warehouse || env.COINLAKE_WAREHOUSE || file.warehouse || DEFAULT_WAREHOUSE,
    lake: overrides.lake || env.COINLAKE_LAKE || file.lake || './lake',
    replay: overrides.replay ?? ['1', 'true', 'yes'].includes((env.COINLAKE_REPLAY ?? '').toLowerCase()),
  };
}
