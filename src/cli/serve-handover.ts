// `coinlake run` while `coinlake serve` holds the embedded warehouse: the job goes to the server (which owns the
// DuckDB file) instead of failing on the file's lock. Found through the marker beside the warehouse, checked by a
// health request; with --print-log the run's log is printed from its file afterwards.
import { resolveSettings } from '../catalog/settings.ts';
import type { Endpoints } from '../runner/job-builder.ts';
import { RunFailedError, type RunSummary } from '../runner/run-job.ts';
import { findRunningServe } from '../server/serve-marker.ts';
import { handOverRun, readableRunLog } from '../server/run-handover.ts';
import { SOURCES } from '../sources/registry.ts';
import type { GlobalOptions } from './cli-context.ts';
import { servedCommand } from './served-context.ts';

const LEVELS = ['debug', 'info', 'warning', 'error'] as const;
const isLogLevel = (v: string | undefined): v is (typeof LEVELS)[number] => (LEVELS as readonly (string | undefined)[]).includes(v);

/** The run as the command line gave it. */
export interface HandOverJob {
  job?: string;
  section?: string;
  tableName?: string;
  options: { asset?: string; interval?: string; from?: string; to?: string; mode?: string };
  endpoints: Endpoints;
  /** The config file of a catalog run (absolute), if any. */
  configFile?: string;
}

/**
 * The API key a job's source reads (its `variables.apiKey`) from this terminal's environment, handed to the server with
 * the job as `coinlake run` would use it here; none for a source without a key variable or an unknown job.
 */
export function jobApiKey(job: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const source = job ? SOURCES.find((s) => s.name === job.split('.', 1)[0]) : undefined;
  const keyVariable = source?.variables.apiKey;
  return keyVariable ? env[keyVariable] || undefined : undefined;
}

/**
 * Hands the run to a running `coinlake serve` that holds the warehouse, if there is one: returns its summary and
 * duration, or undefined when no server holds it (the caller then opens the warehouse itself).
 */
export async function handOverToServe(g: GlobalOptions, run: HandOverJob): Promise<{ summary: RunSummary; ms: number } | undefined> {
  // Inside the server (the generic hand-over, command-handover.ts) the job runs right there.
  if (servedCommand()) return undefined;
  const { warehouse } = resolveSettings({ warehouse: g.warehouse, lake: g.lake });
  const marker = await findRunningServe(warehouse);
  if (!marker) return undefined;
  process.stderr.write(`coinlake serve (pid ${marker.pid}, ${marker.url}) holds ${warehouse}: the job runs there (lake ${marker.lake})\n`);
  const { asset, interval, from, to, mode } = run.options;
  const apiKey = jobApiKey(run.job);
  const printLog = async (logPath: string) => {
    if (g.printLog) process.stderr.write(await readableRunLog(logPath));
  };
  try {
    const result = await handOverRun(
      marker,
      {
        ...(run.job ? { job: run.job } : { section: run.section, tableName: run.tableName, config: { file: run.configFile, cwd: process.cwd() } }),
        options: { asset, interval, from, to, mode },
        endpoints: run.endpoints,
        ...(apiKey ? { apiKey } : {}),
        ...(isLogLevel(g.logLevel) ? { logLevel: g.logLevel } : {}),
      },
      (ahead) => process.stderr.write(`queued behind ${ahead} job(s) on the server\n`),
    );
    await printLog(result.summary.logPath);
    return result;
  } catch (err) {
    if (err instanceof RunFailedError) await printLog(err.summary.logPath);
    throw err;
  }
}
