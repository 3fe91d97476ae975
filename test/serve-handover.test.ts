// Every command that needs the embedded warehouse, while `coinlake serve` holds the DuckDB file: real processes over
// loopback. `models run` and `import cdd` (a path relative to the caller's directory) print what they print without a
// server and exit with the same code, their rows land in the served file, and the page's event stream hears of them;
// failures give the same error and hint with exit 1; Ctrl-C stops a running command (a stream consumer stops as it
// does on its own) or drops a queued one; a server that dies mid-command is a clear error, not a hang.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { startServeServer } from '../src/server/serve-server.ts';
import { insertCandles, synthetic } from './models-reference.ts';
import { openSse } from './helpers/sse-client.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const CSV = path.resolve('test/fixtures/cdd/current/Binance_BTCUSDT_minute.csv');
const execFileP = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A warehouse with 200 synthetic candles and a CSV under data/ in its directory. */
async function prepared(): Promise<{ dir: string; warehouse: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-handover-'));
  const warehouse = path.join(dir, 'warehouse.duckdb');
  const s = await openWarehouse(warehouse);
  try {
    await insertCandles(s, synthetic(200, 0), 'load-0', new Date('2024-01-02T00:00:00Z'));
  } finally {
    await s.close();
  }
  await mkdir(path.join(dir, 'data'));
  await copyFile(CSV, path.join(dir, 'data/Binance_BTCUSDT_minute.csv'));
  return { dir, warehouse };
}

const procEnv = () => ({ ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINLAKE_HANDOVER_SILENCE_MS: '' });

function coinlake(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return execFileP(process.execPath, [BIN, ...args], { cwd: dir, env: { ...procEnv(), ...env }, timeout: 120_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** A command started in the background: its output so far, a wait for a line, and its end. */
function background(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...procEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const ended = new Promise<Result>((resolve) => child.once('exit', (code, signal) => resolve({ code: code ?? (signal === 'SIGINT' ? 130 : -1), stdout, stderr })));
  const until = async (what: () => boolean, label: string, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!what()) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${label}; stdout: ${stdout} stderr: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; stdout: ${stdout} stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, ended, out: () => stdout, err: () => stderr, until };
}

/** `coinlake serve --port 0` as its own process, once it listens. */
async function startServe(dir: string, warehouse: string): Promise<{ child: ChildProcess; url: string; out: () => string; err: () => string }> {
  const b = background(dir, ['--warehouse', warehouse, 'serve', '--port', '0', '--poll-ms', '300']);
  await b.until(() => /dashboard on http:\/\/\S+\n/.test(b.out()), 'coinlake serve to listen', 30_000);
  return { child: b.child, url: /dashboard on (http:\/\/\S+)\n/.exec(b.out())![1], out: b.out, err: b.err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Output with what differs between two runs masked: run ids, durations, rates, the ms column of `models run`. */
function masked(text: string): string {
  return text
    .replace(/\d{8}T\d{6}Z-[0-9a-f]{8}/g, '<run>')
    .replace(/model-[0-9a-f]{12}/g, '<run>')
    .replace(/in \d+\.\d s \([\d,]+ lines\/s\)/g, 'in <s>')
    .split('\n')
    .filter((l) => !/^-[- ]+$/.test(l))
    .map((l) => (/^(model|[a-z_0-9]+) +(rows_written|\d+) +(ms|\d+)/.test(l) ? l.split(/ {2,}/).filter((_, i) => i !== 2).join(' | ') : l))
    .join('\n');
}

describe('commands hand themselves over to the coinlake serve that holds the DuckDB file', () => {
  let plain: { dir: string; warehouse: string };
  let served: { dir: string; warehouse: string };
  let serve: Awaited<ReturnType<typeof startServe>>;
  let header: string;

  beforeAll(async () => {
    plain = await prepared();
    served = await prepared();
    serve = await startServe(served.dir, served.warehouse);
    const pid = serve.child.pid!;
    header = `coinlake serve (pid ${pid}, ${serve.url}) holds ${served.warehouse}: the job runs there (lake ${path.join(served.dir, 'lake')})\n`;
  }, 60_000);
  afterAll(async () => {
    if (serve) await stop(serve.child);
    for (const d of [plain, served]) if (d) await rm(d.dir, { recursive: true, force: true });
  });

  const both = async (args: string[]) => {
    const alone = await coinlake(plain.dir, ['--warehouse', plain.warehouse, ...args]);
    const there = await coinlake(served.dir, ['--warehouse', served.warehouse, ...args]);
    return { alone, there };
  };

  it('import cdd of a relative path, then models run: the same output and exit code as without serve; the page hears of both', async () => {
    const events = await openSse(`${serve.url}/api/events`);
    try {
      await events.waitFor((e) => e.event === 'hello');
      const imp = await both(['import', 'cdd', 'data/Binance_BTCUSDT_minute.csv']);
      expect(imp.alone.code).toBe(0);
      expect(imp.alone.stderr).toBe('');
      expect(imp.there.code).toBe(0);
      expect(imp.there.stderr).toBe(header);
      expect(masked(imp.there.stdout)).toBe(masked(imp.alone.stdout));
      expect(imp.there.stdout).toMatch(
        /^data\/Binance_BTCUSDT_minute\.csv: 10 lines \(current header\), 10 candles into coinlake\.ohlcv_1m \(10 inserted, 0 updated\), 0 quarantined\nimport cdd: 1 file\(s\), 10 candles \(10 inserted, 0 updated\), 0 quarantined in \d+\.\d s \([\d,]+ lines\/s\) — run (\S+) \(process 1\)\n {2}gaps: binance BTC-USDT 1m: 10 expected, 10 present, 0 missing\n$/,
      );
      const runId = /— run (\S+) \(process 1\)/.exec(imp.there.stdout)![1];
      await events.waitFor((e) => e.event === 'run' && JSON.parse(e.data).runId === runId && JSON.parse(e.data).status === 'ok', 5000);
      await events.waitFor((e) => e.event === 'command' && e.data === JSON.stringify({ command: 'import', exitCode: 0 }), 5000);

      const models = await both(['models', 'run']);
      expect(models.alone.code).toBe(0);
      expect(models.there.code).toBe(0);
      expect(models.alone.stderr).toBe('');
      expect(models.there.stderr).toBe(header);
      expect(masked(models.there.stdout)).toBe(masked(models.alone.stdout));
      expect(models.there.stdout).toMatch(/^models run model-[0-9a-f]{12}\nmodel +rows_written +ms +how\n/);
      expect(models.there.stdout).toMatch(/\nfact_indicators +218 +\d+ +full \(first run\)\n/);
      await events.waitFor((e) => e.event === 'command' && e.data === JSON.stringify({ command: 'models run', exitCode: 0 }), 5000);
    } finally {
      events.close();
    }
  }, 180_000);

  it('a failing command: the same error and hint, exit 1', async () => {
    const models = await both(['models', 'run', '--select', 'nope']);
    expect(models.alone).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: unknown model "nope"\nhint: models: ohlcv_1h, ohlcv_1d, fact_indicators, bridge_asset_source, dim_asset, dim_exchange, dim_date, fact_asset_snapshot, fact_exchange_snapshot, fact_market, fact_price_divergence\n',
    });
    expect(models.there).toEqual({ ...models.alone, stderr: header + models.alone.stderr });

    const imp = await both(['import', 'cdd', 'data/missing.csv']);
    expect(imp.alone.code).toBe(1);
    expect(imp.alone.stderr).toMatch(/^error: .*data\/missing\.csv.*\nhint: .+\n$/);
    expect(imp.there).toEqual({ ...imp.alone, stderr: header + imp.alone.stderr });
  }, 120_000);

  it('Ctrl-C stops a running stream consumer as it stops on its own; a command queued behind it is dropped at Ctrl-C', async () => {
    const prefix = `handover${process.pid}`;
    const consume = background(served.dir, ['--warehouse', served.warehouse, 'stream', 'consume', '--source', 'coincap.prices', '--subject-prefix', prefix]);
    await consume.until(() => consume.out().includes('Ctrl-C stops\n'), 'the consumer to start');
    expect(consume.out()).toBe(
      `consuming coincap.prices → ${prefix}.coincap.prices (stream ${prefix.toUpperCase()}_COINCAP_PRICES) → coinlake.stream_prices [append]; Ctrl-C stops\n`,
    );
    const queued = background(served.dir, ['--warehouse', served.warehouse, 'models', 'run']);
    await queued.until(() => queued.err().includes('queued behind'), 'the queued line');
    queued.child.kill('SIGINT');
    expect(await queued.ended).toEqual({
      code: 130,
      stdout: '',
      stderr: `${header}queued behind 1 job(s) on the server (running: coinlake stream consume)\ncancelled: coinlake models run had not started in coinlake serve and will not\n`,
    });

    consume.child.kill('SIGINT');
    const r = await consume.ended;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(header);
    // (a counters line every 5 s before these)
    expect(r.stdout.split('\n').slice(-3)).toEqual(['stopping: committing the open batch…', 'stopped: batches 0  messages 0  rows 0  redeliveries skipped 0', '']);
    // The server goes on: the next command runs at once.
    const after = await coinlake(served.dir, ['--warehouse', served.warehouse, 'models', 'run', '--select', 'dim_date']);
    expect(after.code).toBe(0);
    expect(after.stderr).toBe(header);
  }, 120_000);

  it("the caller's variables travel with the command (COINLAKE_REPLAY=1 here, not in the server's environment)", async () => {
    const r = await coinlake(served.dir, ['--warehouse', served.warehouse, 'run', 'coincap.rates'], { COINLAKE_REPLAY: '1' });
    expect(r.stderr).toBe(header);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^coincap\.rates: 192 rows into coinlake\.coincap_rates \(192 inserted, 0 updated, 0 deleted\) from 1 page\(s\) in \d+\.\d s — run \S+ \(process \d+\)\n$/);
  }, 120_000);

  it('a caller killed mid-command stops it in the server (SIGINT): the next command does not queue behind it', async () => {
    const consume = background(served.dir, ['--warehouse', served.warehouse, 'stream', 'consume', '--source', 'coincap.prices', '--subject-prefix', `killed${process.pid}`]);
    await consume.until(() => consume.out().includes('Ctrl-C stops\n'), 'the consumer to start');
    consume.child.kill('SIGKILL');
    await consume.ended;
    const after = await coinlake(served.dir, ['--warehouse', served.warehouse, 'models', 'run', '--select', 'dim_date']);
    expect(after.code).toBe(0);
    expect(after.stderr).toBe(header);
  }, 120_000);

  it('the server stays quiet on its own terminal, stops cleanly, and the rows are in its file', async () => {
    await stop(serve.child);
    expect(serve.child.exitCode).toBe(0);
    expect(serve.err()).toBe('');
    expect(serve.out().split('\n').filter((l) => l && !/^(coinlake serve —|warehouse |press Ctrl\+C|stopping: )/.test(l))).toEqual([]);
    const count = async (warehouse: string) => {
      const s = await openWarehouse(warehouse);
      try {
        const n = async (t: string) => Number((await s.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${t}`))[0].n);
        return { ohlcv_1m: await n('coinlake.ohlcv_1m'), fact_indicators: await n('coinlake.fact_indicators'), runs: await n('coinlake_meta.workflow_action_history') };
      } finally {
        await s.close();
      }
    };
    expect(await count(served.warehouse)).toEqual({ ohlcv_1m: 210, fact_indicators: 218, runs: 4 });
    expect(await count(plain.warehouse)).toEqual({ ohlcv_1m: 210, fact_indicators: 218, runs: 1 });
  }, 60_000);
});

describe('a server that stops or dies during a handed-over command', () => {
  it('stopped (SIGTERM): the running command hears SIGINT and ends as on its own Ctrl-C; the caller gets its output and exit code', async () => {
    const w = await prepared();
    const serve = await startServe(w.dir, w.warehouse);
    try {
      const consume = background(w.dir, ['--warehouse', w.warehouse, 'stream', 'consume', '--source', 'coincap.prices', '--subject-prefix', `stops${process.pid}`]);
      await consume.until(() => consume.out().includes('Ctrl-C stops\n'), 'the consumer to start');
      const t0 = Date.now();
      await stop(serve.child);
      expect(serve.child.exitCode).toBe(0);
      const r = await consume.ended;
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').slice(-3)).toEqual(['stopping: committing the open batch…', 'stopped: batches 0  messages 0  rows 0  redeliveries skipped 0', '']);
      expect(serve.err()).toBe('');
    } finally {
      await stop(serve.child);
      await rm(w.dir, { recursive: true, force: true });
    }
  }, 120_000);


  it('frozen (SIGSTOP): after the silence bound the caller gives up with a clear error, exit 1', async () => {
    const w = await prepared();
    const serve = await startServe(w.dir, w.warehouse);
    try {
      const consume = background(w.dir, ['--warehouse', w.warehouse, 'stream', 'consume', '--source', 'coincap.prices', '--subject-prefix', `frozen${process.pid}`], {
        COINLAKE_HANDOVER_SILENCE_MS: '3000',
      });
      await consume.until(() => consume.out().includes('Ctrl-C stops\n'), 'the consumer to start');
      const t0 = Date.now();
      serve.child.kill('SIGSTOP');
      const r = await consume.ended;
      const waited = Date.now() - t0;
      serve.child.kill('SIGCONT');
      expect(waited).toBeGreaterThanOrEqual(2500);
      expect(waited).toBeLessThan(60_000); // gave up rather than hung (the bound is 3 s; a loaded machine may be slow to notice)
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').slice(1)).toEqual([
        `error: coinlake serve at ${serve.url} sent nothing for 3 s during the command`,
        `hint: is the server (pid ${serve.child.pid}) still running? \`coinlake status\` shows the runs`,
        '',
      ]);
    } finally {
      serve.child.kill('SIGCONT');
      await stop(serve.child);
      await rm(w.dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('Ctrl-C on a command that does not stop on Ctrl-C (demo): the caller detaches with one line, exit 130; the command ends in the server', async () => {
    const w = await prepared();
    const serve = await startServe(w.dir, w.warehouse);
    try {
      const demo = background(w.dir, ['--warehouse', w.warehouse, '--replay', 'demo']);
      await demo.until(() => demo.out().startsWith('coinlake demo — '), 'the demo to start');
      demo.child.kill('SIGINT');
      const r = await demo.ended;
      expect(r.code).toBe(130);
      expect(r.stderr.split('\n').slice(1)).toEqual([
        `coinlake serve (pid ${serve.child.pid}): this command does not stop on Ctrl-C; it runs to its end there (\`coinlake status\` shows its runs). Detached.`,
        '',
      ]);
      // It ran to its end: the next command waits for it, then sees its runs.
      const status = await coinlake(w.dir, ['--warehouse', w.warehouse, 'status', '-n', '50']);
      expect(status.code).toBe(0);
      // the demo's jobs and its CDD import, newest first, every one committed
      expect(status.stdout.split('\n').filter((l) => /^\d+ /.test(l)).map((l) => l.split(/ +/).slice(2, 5).join(' '))).toEqual([
        'CRYPTODATADOWNLOAD OHLCV_1M ok',
        'EVM ERC20_TRANSFERS_BITCOIN_H1 ok',
        'CCXT_COINBASE OHLCV_BTC-USD_1M ok',
        'BINANCE KLINES_SOLUSDT_1M ok',
        'BINANCE KLINES_ETHUSDT_1M ok',
        'BINANCE KLINES_BTCUSDT_1M ok',
        'COINLORE SOCIAL_STATS ok',
        'COINLORE COIN_MARKETS ok',
        'COINLORE EXCHANGES ok',
        'COINLORE GLOBAL ok',
        'COINLORE TICKERS ok',
        'COINCAP ASSET_HISTORY_ETHEREUM_H1 ok',
        'COINCAP ASSET_HISTORY_BITCOIN_H1 ok',
        'COINCAP MARKETS ok',
        'COINCAP RATES ok',
        'COINCAP EXCHANGES ok',
        'COINCAP ASSETS ok',
      ]);
    } finally {
      await stop(serve.child);
      await rm(w.dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('is a clear error and exit 1 at once, not a hang', async () => {
    const w = await prepared();
    const serve = await startServe(w.dir, w.warehouse);
    try {
      const consume = background(w.dir, ['--warehouse', w.warehouse, 'stream', 'consume', '--source', 'coincap.prices', '--subject-prefix', `dies${process.pid}`]);
      await consume.until(() => consume.out().includes('Ctrl-C stops\n'), 'the consumer to start');
      const t0 = Date.now();
      serve.child.kill('SIGKILL');
      const r = await consume.ended;
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').slice(1)).toEqual([
        `error: coinlake serve at ${serve.url} stopped answering during the command: terminated`,
        'hint: the server went away; `coinlake status` shows whether the command got to commit',
        '',
      ]);
    } finally {
      await stop(serve.child);
      await rm(w.dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('on PostgreSQL nothing is handed over: every process writes to the warehouse itself', () => {
  it('with serve running on the database, import cdd and models run run in their own process, with their usual output', async () => {
    const db = await createTestDatabase();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-handover-pg-'));
    const server = await startServeServer({ warehouse: db.url, lake: path.join(dir, 'lake'), port: 0, pollMs: 200, onError: () => {} });
    try {
      expect(server.markerPath).toBeUndefined();
      await mkdir(path.join(dir, 'data'));
      await copyFile(CSV, path.join(dir, 'data/Binance_BTCUSDT_minute.csv'));
      const imp = await coinlake(dir, ['--warehouse', db.url, 'import', 'cdd', 'data/Binance_BTCUSDT_minute.csv']);
      expect(imp.stderr).toBe('');
      expect(imp.code).toBe(0);
      expect(imp.stdout).toMatch(/^data\/Binance_BTCUSDT_minute\.csv: 10 lines \(current header\), 10 candles into coinlake\.ohlcv_1m \(10 inserted, 0 updated\), 0 quarantined\n/);
      const models = await coinlake(dir, ['--warehouse', db.url, 'models', 'run', '--select', 'ohlcv_1h']);
      expect(models.stderr).toBe('');
      expect(models.code).toBe(0);
      expect(models.stdout).toMatch(/^models run model-[0-9a-f]{12}\nmodel +rows_written +ms +how\n-+ +-+ +-+ +-+\nohlcv_1h +1 +\d+ *\n$/);
    } finally {
      await server.close();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
