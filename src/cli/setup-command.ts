// `coinlake setup`: creates schemas and metadata tables (idempotent).
import type { Command } from 'commander';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';

export function registerSetupCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('setup')
    .description('create the coinlake and coinlake_meta schemas and the metadata tables (safe to run again)')
    .action(async () => {
      await withWarehouse(globals(), async (session, _lake, settings) => {
        await ensureMetaTables(session);
        process.stdout.write(`setup complete on ${settings.warehouse}: schemas coinlake, coinlake_meta\n`);
      });
    });
}
