// `coinlake setup`: creates schemas and metadata tables and syncs the catalog into them (idempotent).
import { redactUrl } from '../http/redact.ts';
import type { Command } from 'commander';
import { checkCatalog } from '../catalog/catalog-job.ts';
import { syncCatalog } from '../catalog/catalog-sync.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { externalViewLine, refreshCatalogExternalViews } from '../runner/external-refresh.ts';
import { formatSyncResult } from './catalog-command.ts';
import { markAbandonedRuns } from '../runner/abandoned-runs.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { commandConfig } from './config-option.ts';
import { errorMessage } from '../core/errors.ts';
import { FEEDS } from '../streaming/feed-registry.ts';
import { connectNats, setupFeedStreams } from '../streaming/jetstream-streams.ts';

export function registerSetupCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('setup')
    .description('create the coinlake and coinlake_meta schemas and the metadata tables, and load the catalog into them (safe to run again)')
    .option('--streams', 'also create the JetStream streams of the live feeds, websocket and polled (NATS at COINLAKE_NATS_URL)', false)
    .action(async (o: { streams: boolean }) => {
      const cfg = await commandConfig();
      checkCatalog(cfg.catalog, cfg.catalogOrigin);
      await withWarehouse(globals(), async (session, lake, settings) => {
        await ensureMetaTables(session);
        await markAbandonedRuns(session, lake);
        const synced = await syncCatalog(session, cfg.catalog);
        process.stdout.write(`setup complete on ${redactUrl(settings.warehouse)}: schemas coinlake, coinlake_meta\n`);
        process.stdout.write(`catalog from ${cfg.catalogOrigin}:\n${formatSyncResult(synced)}\n`);
        for (const v of await refreshCatalogExternalViews(session, lake)) process.stdout.write(externalViewLine(v) + '\n');
      });
      // The feeds' JetStream streams on request (`coinlake stream` also creates its own on first use).
      if (!o.streams) return;
      try {
        const nc = await connectNats();
        try {
          process.stdout.write(`JetStream streams: ${(await setupFeedStreams(nc, Object.values(FEEDS))).join(', ')}\n`);
        } finally {
          await nc.close();
        }
      } catch (err) {
        process.stdout.write(`JetStream streams not created (${errorMessage(err)}); coinlake stream creates them on first use\n`);
      }
    });
}
