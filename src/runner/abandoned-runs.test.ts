// Runs whose process ended without closing them are marked failed (-1) by the next run, on DuckDB and PostgreSQL;
// runs that are alive — in this process, or (PostgreSQL) in another process holding the run's lease — are not.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { WAREHOUSES, spineEnv, type SpineEnv } from '../../test/helpers/spine-env.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import type { Session } from '../core/destination.ts';
import { ABANDONED_MESSAGE, claimRun, markAbandonedRuns, runLeaseId } from './abandoned-runs.ts';
import { closeRun, newRunId, openRun } from './run-history.ts';

let env: SpineEnv;
afterEach(async () => env?.close());

interface RunRowView {
  process_id: number;
  execution_status: number;
  error_message: string | null;
  ended: boolean;
}

async function runRows(): Promise<RunRowView[]> {
  const rows = await env.session.query<{ process_id: number; execution_status: number; error_message: string | null; execution_end_datetime: Date | null }>(
    `SELECT process_id, execution_status, error_message, execution_end_datetime FROM coinlake_meta.workflow_action_history ORDER BY process_id`,
  );
  return rows.map((r) => ({ process_id: Number(r.process_id), execution_status: Number(r.execution_status), error_message: r.error_message, ended: r.execution_end_datetime !== null }));
}

/** The row a killed process leaves: opened (status 0), never claimed by this process, never closed. */
async function leftOpen(job = { connectionName: 'KILLED', tableName: 'EARLIER' }, logPath?: string) {
  await ensureMetaTables(env.session);
  const runId = newRunId();
  const ids = await openRun(env.session, { ...job, runId, logPath });
  return { ...ids, runId };
}

/** Parquet a batch of that run wrote under its temporary name before the process died. */
async function unpublished(runId: string, suffix = ''): Promise<string> {
  const dir = path.join(env.lake.root, 'curated', 'coincap_assets', `.tmp-${runId}${suffix}`, 'dt=2024-12-01');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${runId}_0.parquet`), 'PAR1');
  return path.dirname(dir);
}

describe.each(WAREHOUSES)('on %s', (kind) => {
  it('the next run marks a run left at status 0 failed with the abandoned message and removes its unpublished files', async () => {
    env = await spineEnv(kind);
    const dead = await leftOpen();
    const deadTmp = await unpublished(dead.runId);
    const deadTmpGroup = await unpublished(dead.runId, '-00002');
    const other = await unpublished('20240101T000000Z-0000beef');
    const run = await env.run('coincap.assets');
    expect(run.processId).toBe(dead.processId + 1);
    expect(await runRows()).toEqual([
      { process_id: dead.processId, execution_status: -1, error_message: ABANDONED_MESSAGE, ended: true },
      { process_id: run.processId, execution_status: 1, error_message: null, ended: true },
    ]);
    expect(existsSync(deadTmp)).toBe(false);
    expect(existsSync(deadTmpGroup)).toBe(false);
    expect(existsSync(other)).toBe(true); // another run's files are not its business
    const log = await env.lake.readText(run.logPath);
    expect(log).toContain(`"processId":${dead.processId},"runId":"${dead.runId}","message":"${ABANDONED_MESSAGE}","removed":2,"msg":"marked a run abandoned by its process as failed"`);
  });

  it('a run that logged its failure but could not write it (lost connection) gets that message', async () => {
    env = await spineEnv(kind);
    const logPath = await env.lake.logFile('20240101T000000Z-0000dead');
    const failure = 'lost the connection to PostgreSQL at 127.0.0.1:5999: Connection terminated unexpectedly';
    await writeFile(
      logPath,
      [
        JSON.stringify({ level: 30, time: 1, msg: 'run started' }),
        JSON.stringify({ level: 50, time: 2, err: { message: failure, stack: 'Error: …' }, msg: 'run failed' }),
        JSON.stringify({ level: 50, time: 3, error: 'Connection terminated', msg: 'could not record the failure in the run history' }),
      ].join('\n') + '\n',
    );
    const dead = await leftOpen(undefined, logPath);
    const marked = await markAbandonedRuns(env.session, env.lake);
    const message = `${failure} (recorded from the run's log by a later run: the process could not close its run row)`;
    expect(marked).toEqual([{ processId: dead.processId, runId: dead.runId, message, removed: [] }]);
    expect(await runRows()).toEqual([{ process_id: dead.processId, execution_status: -1, error_message: message, ended: true }]);
    expect(await markAbandonedRuns(env.session, env.lake)).toEqual([]); // once
  });

  it('a run killed between its commit and the renames: the next run publishes the files its row lists, removes the rest', async () => {
    env = await spineEnv(kind);
    const done = await leftOpen({ connectionName: 'KILLED', tableName: 'AFTER_COMMIT' });
    const listed = path.join('curated', 'coincap_assets', 'dt=2024-12-01', `${done.runId}.parquet`);
    await closeRun(env.session, done.processId, { status: 1, rowsExtracted: 1, rowsLoaded: 1, rowsQuarantined: 0, lakePaths: ['raw/x.json.gz', listed] });
    const tmp = await unpublished(done.runId);
    await writeFile(path.join(tmp, 'dt=2024-12-01', `${done.runId}_1.parquet`), 'PAR1'); // not in the row: never committed
    const failed = await leftOpen({ connectionName: 'KILLED', tableName: 'FAILED' });
    await closeRun(env.session, failed.processId, { status: -1, rowsExtracted: 0, rowsLoaded: 0, rowsQuarantined: 0, lakePaths: [], errorMessage: 'boom' });
    const failedTmp = await unpublished(failed.runId);
    await env.run('coincap.assets');
    expect(await readFile(path.join(env.lake.root, listed), 'utf8')).toBe('PAR1');
    expect(existsSync(path.join(env.lake.root, 'curated', 'coincap_assets', 'dt=2024-12-01', `${done.runId}-1.parquet`))).toBe(false);
    expect(existsSync(tmp)).toBe(false);
    expect(existsSync(failedTmp)).toBe(false);
    expect((await runRows()).map((r) => r.execution_status)).toEqual([1, -1, 1]);
  });

  it('a run of this process that is still open is left alone', async () => {
    env = await spineEnv(kind);
    await ensureMetaTables(env.session);
    const runId = newRunId();
    expect(await claimRun(env.session, env.lake, runId)).toEqual([]);
    const live = await openRun(env.session, { connectionName: 'LIVE', tableName: 'NOW', runId });
    expect(await markAbandonedRuns(env.session, env.lake)).toEqual([]);
    await env.run('coincap.rates');
    const rows = await runRows();
    expect(rows[0]).toEqual({ process_id: live.processId, execution_status: 0, error_message: null, ended: false });
    expect(rows[1].execution_status).toBe(1);
  });
});

describe('on postgres, runs of other processes', () => {
  /** Advisory locks held by the session's backend. */
  async function leases(): Promise<number> {
    const pid = (env.session as unknown as { backendPid: number }).backendPid;
    const [{ n }] = await env.session.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1`, [pid]);
    return n;
  }

  it('a run whose process holds its lease is alive; once that process is killed -9, the next sweep marks it', async () => {
    env = await spineEnv('postgres');
    await ensureMetaTables(env.session);
    const url = (env.session as unknown as { endpoint: { host: string; port: number; database: string; user: string } }).endpoint;
    const warehouse = `postgres://${url.user}@${url.host}:${url.port}/${url.database}`;
    // Another process opens a run the way openRunScope does (claim, then the row) and waits.
    const script = `
      const { openWarehouse } = await import(${JSON.stringify(path.resolve('src/destinations/registry.ts'))});
      const { claimRun } = await import(${JSON.stringify(path.resolve('src/runner/abandoned-runs.ts'))});
      const { newRunId, openRun } = await import(${JSON.stringify(path.resolve('src/runner/run-history.ts'))});
      const s = await openWarehouse(${JSON.stringify(warehouse)});
      const runId = newRunId();
      await claimRun(s, undefined, runId);
      const ids = await openRun(s, { connectionName: 'OTHER', tableName: 'PROCESS', runId });
      console.log(JSON.stringify({ processId: ids.processId, runId }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before opening its run`)));
      });
      const other = JSON.parse(first) as { processId: number; runId: string };
      const [{ held }] = await env.session.query<{ held: number }>(
        `SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
        [runLeaseId(other.runId)],
      );
      expect(held).toBe(1);
      expect(await markAbandonedRuns(env.session, env.lake)).toEqual([]);
      expect((await runRows())[0]).toMatchObject({ process_id: other.processId, execution_status: 0 });

      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      // The server ends the backend once it sees the socket closed; the lease goes with it.
      let marked: Awaited<ReturnType<typeof markAbandonedRuns>> = [];
      for (let i = 0; i < 100 && marked.length === 0; i++) {
        marked = await markAbandonedRuns(env.session, env.lake);
        if (marked.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(marked).toEqual([{ processId: other.processId, runId: other.runId, message: ABANDONED_MESSAGE, removed: [] }]);
      expect((await runRows())[0]).toEqual({ process_id: other.processId, execution_status: -1, error_message: ABANDONED_MESSAGE, ended: true });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a session keeps the lease of its open run only: closed runs release theirs at the next claim', async () => {
    env = await spineEnv('postgres');
    await env.run('coincap.assets');
    expect(await leases()).toBe(1); // the finished run's lease, released by the next claim
    await env.run('coincap.rates');
    await env.run('coincap.exchanges');
    expect(await leases()).toBe(1);
    const rows = await runRows();
    expect(rows.map((r) => r.execution_status)).toEqual([1, 1, 1]);
  });
});

describe('a multi-process warehouse whose dialect has no advisory locks', () => {
  it('claims runs without leases and marks no other open run abandoned, since it cannot tell a live run from a dead one', async () => {
    env = await spineEnv('duckdb');
    const open = await leftOpen();
    const tmp = await unpublished(open.runId);
    // The DuckDB session as a warehouse that says several processes may write, with a dialect that has no locks.
    const lockless: Session = Object.create(env.session, { capabilities: { value: { ...env.session.capabilities, multiProcess: true } } });
    expect(lockless.dialect.advisoryLocks).toBeUndefined();
    expect(await claimRun(lockless, env.lake, newRunId())).toEqual([]);
    expect(await markAbandonedRuns(lockless, env.lake)).toEqual([]);
    expect(await runRows()).toEqual([{ process_id: open.processId, execution_status: 0, error_message: null, ended: false }]);
    expect(existsSync(tmp)).toBe(true);
  });
});
