// The `coinlake run` side of the hand-over: when `coinlake serve` holds the embedded warehouse, the job is sent to
// it (POST /api/control/run) instead of waiting for the file's lock, and its answer becomes the usual summary — or
// the usual error, with the failed run's id and log.
import { readFile } from 'node:fs/promises';
import { CoinlakeError } from '../core/errors.ts';
import { RunFailedError, type RunSummary } from '../runner/run-job.ts';
import type { ControlMessage, ControlRunRequest } from './control-protocol.ts';
import { ndjsonMessages } from './ndjson-messages.ts';
import type { ServeMarker } from './serve-marker.ts';

/** The error a failed hand-over or a failed handed-over run is reported as (hint printed under it). */
export class HandOverError extends CoinlakeError {}

/**
 * Sends a job to the server of `marker` and waits for its end. Returns the run's summary and duration; throws
 * RunFailedError (the run failed: its id and log are known) or HandOverError (refused, or the server went away).
 * `onQueued` hears how many jobs run before this one.
 */
export async function handOverRun(marker: ServeMarker, req: ControlRunRequest, onQueued?: (ahead: number) => void): Promise<{ summary: RunSummary; ms: number }> {
  let res: Response;
  try {
    res = await fetch(new URL('/api/control/run', marker.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${marker.token}` },
      body: JSON.stringify(req),
    });
  } catch (err) {
    throw new HandOverError(`cannot reach coinlake serve at ${marker.url}: ${(err as Error).message}`, { hint: 'is it still running? `coinlake status` shows the runs' });
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; hint?: string };
    throw new HandOverError(`coinlake serve at ${marker.url} refused the job: ${body.error ?? res.statusText}`, { hint: body.hint });
  }
  try {
    for await (const m of ndjsonMessages<ControlMessage>(res.body, { lastLineUnterminated: true })) {
      if (m.type === 'queued' && m.ahead > 0) onQueued?.(m.ahead);
      if (m.type === 'done') return { summary: m.summary, ms: m.ms };
      if (m.type === 'failed') {
        const cause = new HandOverError(m.error.message, { hint: m.error.hint });
        throw m.run ? new RunFailedError(m.run, cause) : cause;
      }
    }
  } catch (err) {
    if (err instanceof RunFailedError || err instanceof HandOverError) throw err;
    throw new HandOverError(`coinlake serve at ${marker.url} stopped answering during the run: ${(err as Error).message}`, { hint: 'check `coinlake status` for the run' });
  }
  throw new HandOverError(`coinlake serve at ${marker.url} ended the answer without a result`, { hint: 'check `coinlake status` for the run' });
}

/** A run's log file as the readable lines `--print-log` shows (`HH:MM:SS level message key=value…`). */
export async function readableRunLog(logPath: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch {
    return '';
  }
  const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        const { level, time, msg, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        const t = new Date(Number(time)).toISOString().slice(11, 19);
        return `${t} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${msg ?? ''}${extra ? ' ' + extra : ''}\n`;
      } catch {
        return line + '\n';
      }
    })
    .join('');
}
