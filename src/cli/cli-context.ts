// Shared plumbing of CLI commands: settings, warehouse session, lake, and error printing.
import type { Session } from '../core/destination.ts';
import { CoinlakeError, errorMessage } from '../core/errors.ts';
import { redactText } from '../http/redact.ts';
import { resolveSettings, type Settings } from '../catalog/settings.ts';
import { openWarehouse } from '../destinations/registry.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { openLake } from '../lake/lake.ts';
import { serveMarkerPath } from '../server/serve-marker.ts';
import { servedCommand } from './served-context.ts';

/** Global options every command accepts. */
export interface GlobalOptions {
  warehouse?: string;
  lake?: string;
  replay?: boolean;
  logLevel?: string;
  printLog?: boolean;
}

/**
 * Opens the warehouse and lake for one command, and closes the warehouse afterwards. A command handed over to
 * `coinlake serve` gets the server's own session and lake instead (left open).
 */
export async function withWarehouse<T>(g: GlobalOptions, fn: (s: Session, lake: LocalLake, settings: Settings) => Promise<T>): Promise<T> {
  const settings = resolveSettings({ warehouse: g.warehouse, lake: g.lake, replay: g.replay || undefined });
  const served = servedCommand();
  if (served) {
    if (serveMarkerPath(settings.warehouse) !== serveMarkerPath(served.warehouse)) {
      throw new CoinlakeError(`this command names the warehouse ${redactText(settings.warehouse)}, but it runs in the coinlake serve that holds ${served.warehouse}`, {
        hint: 'run it where that warehouse is not held by a server, or stop that server',
      });
    }
    return fn(served.session, served.lake, { ...settings, warehouse: served.warehouse, lake: served.lakeRoot });
  }
  const session = await openWarehouse(settings.warehouse, {
    onLockWait: (file, ms) => process.stderr.write(`waiting up to ${Math.round(ms / 1000)} s for ${file}: another process holds it\n`),
  });
  try {
    // An s3:// lake has the local lake's API (structurally), so every command takes either.
    return await fn(session, openLake(settings.lake), settings);
  } finally {
    await session.close();
  }
}

/** Prints an error as one readable line plus a hint (and the stack at debug level); returns the exit code. */
export async function reportError(err: unknown, debug: boolean): Promise<number> {
  // The runner is loaded only here, on the error path: commands that never run a job start without it.
  const { RunFailedError } = await import('../runner/run-job.ts');
  const inner = err instanceof RunFailedError ? err.cause : err;
  const lines = [`error: ${redactText(errorMessage(inner))}`];
  if (inner instanceof CoinlakeError && inner.hint) lines.push(`hint: ${inner.hint}`);
  if (err instanceof RunFailedError) lines.push(`run ${err.summary.runId} (process ${err.summary.processId}) failed; log: ${err.summary.logPath}`);
  if (debug && inner instanceof Error && inner.stack) lines.push(redactText(inner.stack));
  process.stderr.write(lines.join('\n') + '\n');
  return 1;
}
