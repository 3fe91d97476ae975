// `coinlake status`: the most recent runs as a table; for distributed backfills among them, their chunks per worker.
import type { Command } from 'commander';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { distributedHeading, distributedStatuses } from '../distributed/distributed-status.ts';
import { markAbandonedRuns } from '../runner/abandoned-runs.ts';
import { recentRuns } from '../runner/run-history.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';

const STATUS: Record<number, string> = { 0: 'running', 1: 'ok', [-1]: 'FAILED', [-2]: 'FAILED-QUALITY' };

/** The note a run recorded in its details (`{"note": …}`), or ''. */
function runNote(details: string | null): string {
  if (!details) return '';
  try {
    const note = (JSON.parse(details) as { note?: unknown }).note;
    return typeof note === 'string' ? note : '';
  } catch {
    return '';
  }
}

export function registerStatusCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('show recent runs from coinlake_meta.workflow_action_history, and the workers of distributed backfills')
    .option('-n, --limit <n>', 'how many runs', '20')
    .option('--backfill <process>', 'the chunks per worker of this distributed backfill (default: the newest 3 among the runs shown)')
    .action(async (o: { limit: string; backfill?: string }) => {
      await withWarehouse(globals(), async (session, lake) => {
        await ensureMetaTables(session);
        // A run whose process is gone (kill -9) shows as failed, not as running forever.
        await markAbandonedRuns(session, lake);
        const runs = await recentRuns(session, Number(o.limit));
        const rows = runs.map((r) => ({
          process: r.process_id,
          run_id: r.run_id,
          connection: r.connection_name,
          table: r.table_name,
          status: STATUS[r.execution_status] ?? String(r.execution_status),
          started: r.execution_start_datetime,
          seconds: r.execution_end_datetime ? ((r.execution_end_datetime.getTime() - r.execution_start_datetime.getTime()) / 1000).toFixed(1) : '',
          extracted: r.rows_extracted,
          loaded: r.rows_loaded,
          quarantined: r.rows_quarantined,
          error: r.error_message ?? '',
          note: runNote(r.details),
        }));
        // The note column (a stream consumer that started over on a re-created stream) only when a run has one.
        const out = [formatTable(rows.some((r) => r.note) ? rows : rows.map(({ note: _, ...r }) => r))];
        const ids = o.backfill !== undefined ? [Number(o.backfill)] : runs.map((r) => Number(r.process_id));
        for (const d of await distributedStatuses(session, ids.filter(Number.isFinite))) {
          const workers = d.workers.map((w) => ({ worker: w.worker, done: w.done, running: w.running, failed: w.failed, rows: w.rows.toLocaleString('en-US'), last_update: w.lastUpdate }));
          out.push('', distributedHeading(d), workers.length ? formatTable(workers) : '(no worker has taken a chunk yet)');
        }
        process.stdout.write(out.join('\n') + '\n');
      });
    });
}
