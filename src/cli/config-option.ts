// -p/--config: the config file every command reads (default ./config.ini, then ./coinlake.yaml, else the built-in
// catalog). Before a command runs, the file's warehouse, lake and log level fill the global options they apply to.
// What reading the config needs is imported when a command runs, so that `coinlake --help` loads none of it.
import type { Command } from 'commander';
import type { LoadedConfig } from '../catalog/config-file.ts';

let loaded: LoadedConfig | undefined;

/**
 * Adds the global `-p, --config <file>` option and loads the config before every command. For an INI file the
 * section is the run's `-s CONNECTION` ([COMMON] merged into it), else [COMMON]. Flags and COINLAKE_* variables
 * win over the file; `-l` given on the command line wins over the file's log_level.
 */
export function registerConfigOption(program: Command): void {
  program.option('-p, --config <file>', 'config file, YAML or INI (default ./config.ini, then ./coinlake.yaml, else the built-in catalog)');
  program.hook('preAction', async (_root, action) => {
    const [{ loadConfig }, { resolveSettings }, { defaultWarehouse, warnSchemaNamedFile }] = await Promise.all([
      import('../catalog/config-file.ts'),
      import('../catalog/settings.ts'),
      import('./warehouse-file.ts'),
    ]);
    const o = program.opts<{ config?: string; warehouse?: string; lake?: string }>();
    loaded = await loadConfig({ file: o.config, section: action.opts<{ section?: string }>().section });
    const { settings } = loaded;
    const resolved = resolveSettings({ warehouse: o.warehouse, lake: o.lake }, process.env, settings);
    if (settings.warehouse) program.setOptionValueWithSource('warehouse', resolved.warehouse, 'config');
    const say = (line: string) => process.stderr.write(line + '\n');
    if (!o.warehouse && !process.env.COINLAKE_WAREHOUSE && !settings.warehouse) program.setOptionValueWithSource('warehouse', await defaultWarehouse(say), 'default');
    else await warnSchemaNamedFile(resolved.warehouse, say);
    if (settings.lake) program.setOptionValueWithSource('lake', resolved.lake, 'config');
    if (settings.logLevel && program.getOptionValueSource('logLevel') === 'default') program.setOptionValueWithSource('logLevel', settings.logLevel, 'config');
  });
}

/** The config of the running command (loaded before it started). */
export async function commandConfig(): Promise<LoadedConfig> {
  loaded ??= await (await import('../catalog/config-file.ts')).loadConfig();
  return loaded;
}
