// Where the warehouse and the lake are: flags, then environment, then the config file, then defaults.

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
    warehouse: overrides.warehouse || env.COINLAKE_WAREHOUSE || file.warehouse || './coinlake.duckdb',
    lake: overrides.lake || env.COINLAKE_LAKE || file.lake || './lake',
    replay: overrides.replay ?? ['1', 'true', 'yes'].includes((env.COINLAKE_REPLAY ?? '').toLowerCase()),
  };
}
