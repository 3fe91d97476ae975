// Where the warehouse and the lake are: flags, then environment, then defaults.

export interface Settings {
  warehouse: string;
  lake: string;
  replay: boolean;
}

/** Resolves settings; `overrides` come from the command line or a config file. */
export function resolveSettings(overrides: Partial<Settings> = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    warehouse: overrides.warehouse || env.COINLAKE_WAREHOUSE || './coinlake.duckdb',
    lake: overrides.lake || env.COINLAKE_LAKE || './lake',
    replay: overrides.replay ?? ['1', 'true', 'yes'].includes((env.COINLAKE_REPLAY ?? '').toLowerCase()),
  };
}
