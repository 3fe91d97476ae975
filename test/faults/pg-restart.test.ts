// PostgreSQL restarted in the middle of a COPY load of `coinlake run coincap.asset_history` (on a private server of
// this test: the shared one at 127.0.0.1:5432 is left alone). The run fails cleanly — exit 1, one error line naming
// host:port, nothing of its window committed, state unchanged — and its row ends at -1 with that error (recorded by
// the rerun from the run's log: the failing process had no connection left to write it). The rerun completes and the
// table equals a clean run. Every trial goes to the fault ledger.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { recordTrial } from './fault-ledger.ts';
import { MAX_STEPS_PER_KILL, difference, faultSeed, faultTrials, runCli, runRowsAfter, seededRandom, snapshot, withSession, type CliResult } from './kill-harness.ts';
import { startPrivatePostgres, type PrivatePostgres, type ShutdownMode } from './private-postgres.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const FROM = Date.UTC(2024, 3, 1);
/** Each step loads six days of minutes: 8,640 rows in one COPY to staging. */
const STEP_DAYS = 6;
const TRIALS = faultTrials();

let dir: string;
let server: ReplayServer;
let pgServer: PrivatePostgres;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-pg-restart-'));
  server = await startReplayServer();
  pgServer = await startPrivatePostgres();
});
afterAll(async () => {
  await server?.close();
  await pgServer?.close();
  await rm(dir, { recursive: true, force: true });
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const stepEnd = (i: number) => FROM + (i + 1) * STEP_DAYS * DAY;
const args = (to: number) => ['--replay', 'run', 'coincap.asset_history', '--asset', 'bitcoin', '--interval', 'm1', '--from', day(FROM), '--to', day(to)];

function cli(argv: string[], warehouse: string, lake: string): Promise<CliResult> {
  return runCli(argv, { ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_COINCAP_URL: server.coincapV2Url, COINLAKE_REPLAY: '' }, { cwd: dir, lake });
}

/**
 * Watches the database's sessions until one runs a COPY, waits `delayMs`, and restarts the server; resolves with
 * whether it restarted (false when `done` resolved first: the run ended without a COPY being seen).
 */
async function restartDuringCopy(database: string, mode: ShutdownMode, delayMs: number, done: Promise<unknown>): Promise<boolean> {
  let finished = false;
  void done.then(() => (finished = true));
  const watcher = new pg.Client({ connectionString: pgServer.url('postgres') });
  watcher.on('error', () => {});
  await watcher.connect();
  try {
    while (!finished) {
      const { rows } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query ILIKE 'COPY %'`,
        [database],
      );
      if (rows[0].n > 0) {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        await watcher.end().catch(() => {});
        await pgServer.restart(mode);
        return true;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return false;
  } finally {
    await watcher.end().catch(() => {});
  }
}

async function stateWatermark(url: string): Promise<number | undefined> {
  return withSession(url, async (s) => {
    const rows = await s.query<{ state: string }>(`SELECT state FROM coinlake_meta.ingestion_state WHERE connection_name = 'COINCAP' AND table_name = 'ASSET_HISTORY_BITCOIN_M1'`);
    return rows.length ? (JSON.parse(rows[0].state) as { watermark: number }).watermark : undefined;
  });
}

describe('PostgreSQL restarted during a load', () => {
  it(`${TRIALS} restarts in the middle of a COPY: the run fails cleanly naming host:port, the rerun equals a clean run`, async () => {
    const seed = faultSeed('pg-restart run coincap.asset_history');
    const random = seededRandom(seed);
    const cleanUrl = await pgServer.createDatabase('clean');
    const trialUrl = await pgServer.createDatabase('trial');
    const cleanLake = path.join(dir, 'lake-clean');
    const trialLake = path.join(dir, 'lake-trial');
    let cleanSteps = TRIALS;
    const clean = await cli(args(stepEnd(cleanSteps)), cleanUrl, cleanLake);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    const first = await cli(args(stepEnd(0)), trialUrl, trialLake);
    expect(first.code).toBe(0);

    const problems: string[] = [];
    let restarts = 0;
    // Steps until TRIALS restarts landed during a COPY (a run can end before one is seen), at most 2 × TRIALS.
    for (let trial = 1; restarts < TRIALS && trial <= MAX_STEPS_PER_KILL * TRIALS; trial++) {
      if (trial > cleanSteps) {
        cleanSteps = Math.min(MAX_STEPS_PER_KILL * TRIALS, trial + TRIALS - restarts);
        const more = await cli(args(stepEnd(cleanSteps)), cleanUrl, cleanLake); // incremental: the clean run's next window
        expect(more.code, more.stderr).toBe(0);
      }
      const bound = new Date(stepEnd(trial));
      const previousBound = new Date(stepEnd(trial - 1));
      const mode: ShutdownMode = random() < 0.5 ? 'fast' : 'immediate';
      const delayMs = Math.floor(random() * 20);
      const before = await withSession(trialUrl, async (s) => {
        const [{ id }] = await s.query<{ id: number }>(`SELECT max(process_id) AS id FROM coinlake_meta.workflow_action_history`);
        return Number(id);
      });
      const run = cli(args(bound.getTime()), trialUrl, trialLake);
      const restarted = await restartDuringCopy('trial', mode, delayMs, run);
      const failed = await run;
      const label = `step ${trial} (seed ${seed}, ${mode} restart ${delayMs} ms into a COPY)`;
      const found: string[] = [];
      let clearError: boolean | null = null;
      if (restarted) restarts++;
      if (restarted && failed.code !== 0) {
        // Failed cleanly: one error line naming the server, the run's log; nothing of the window committed.
        const lines = failed.stderr.trimEnd().split('\n');
        clearError = failed.code === 1 && new RegExp(`^error: .*PostgreSQL at ${pgServer.label.replace(/\./g, '\\.')}\\b`).test(lines[0]) && /^run \S+ \(process \d+\) failed; log: /.test(lines.at(-1) ?? '');
        if (!clearError) found.push(`unclear failure (exit ${failed.code}): ${failed.stderr.trim()}`);
        const partial = await withSession(trialUrl, async (s) => {
          const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.coincap_asset_history WHERE time >= $1`, [previousBound]);
          return Number(n);
        });
        if (partial !== 0) found.push(`${partial} rows of the failed run's window were committed`);
        const watermark = await stateWatermark(trialUrl);
        if (watermark !== previousBound.getTime() - MINUTE) found.push(`the state moved to ${watermark && new Date(watermark).toISOString()} although the run failed`);
      } else if (failed.code !== 0) {
        found.push(`the run failed without a restart: ${failed.stderr.trim()}`);
      }
      const rerun = await cli(args(bound.getTime()), trialUrl, trialLake);
      if (rerun.code !== 0 || rerun.stderr !== '') found.push(`the rerun exited ${rerun.code}: ${rerun.stderr.trim()}`);
      const got = await withSession(trialUrl, async (s) => ({ snap: await snapshot(s, 'coincap_asset_history', 'time', bound), rows: await runRowsAfter(s, before) }));
      const reference = await withSession(cleanUrl, (s) => snapshot(s, 'coincap_asset_history', 'time', bound));
      const diff = difference(reference, got.snap);
      if (got.snap.count !== reference.count || got.snap.checksum !== reference.checksum) {
        found.push(`${got.snap.count} rows (checksum ${got.snap.checksum}), clean run ${reference.count} (checksum ${reference.checksum})`);
      }
      if ((await stateWatermark(trialUrl)) !== bound.getTime() - MINUTE) found.push('the rerun did not bring the state to the end of its window');
      // Run rows: the failed run at -1 with the error naming the server, then the rerun complete.
      const statuses = got.rows.map((r) => r.execution_status);
      if (failed.code !== 0) {
        const failedRow = got.rows[0];
        const named = failedRow?.execution_status === -1 && (failedRow.error_message ?? '').includes(`PostgreSQL at ${pgServer.label}`);
        if (!named) found.push(`the failed run's row: ${JSON.stringify(failedRow)}`);
        if (JSON.stringify(statuses) !== '[-1,1]') found.push(`run rows ${JSON.stringify(got.rows)}`);
        clearError = clearError === true && named;
      } else if (JSON.stringify(statuses) !== '[1,1]') {
        found.push(`run rows ${JSON.stringify(got.rows)}`);
      }
      recordTrial({ suite: 'pg-restart', case: `run coincap.asset_history (${mode})`, faults: restarted ? 1 : 0, rowsLost: diff.lost, rowsDuplicated: diff.duplicated, clearError });
      console.log(
        `pg-restart ${label}: ${restarted ? 'restarted' : 'no COPY seen'}, the run ${failed.code === 0 ? 'completed' : `failed: ${failed.stderr.split('\n')[0]}`}; ` +
          `after the rerun ${got.snap.count} rows (clean ${reference.count}), lost ${diff.lost}, duplicated ${diff.duplicated}${found.length ? `; PROBLEMS: ${found.join('; ')}` : ''}`,
      );
      problems.push(...found.map((f) => `${label}: ${f}`));
    }
    expect(problems).toEqual([]);
    expect(restarts, `restarts that landed during a COPY (seed ${seed})`).toBe(TRIALS);
  }, 120_000 + TRIALS * 30_000);
});
