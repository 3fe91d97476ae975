// The ccxt source through the CLI (subprocesses) against the replay server's exchanges: a fresh warehouse per case
// (DuckDB file or PostgreSQL database) with the CLI pointed at one replayed exchange, what ohlcv_1m must then hold
// (the generated series as a kill-harness snapshot), and the cases every replayed exchange runs (ccxtExchangeCases).
// One test file per exchange, so the exchanges run side by side.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { REPLAY_MARKETS, replayCandles, type CcxtReplayExchange } from '../../src/sources/ccxt/replay/ccxt-replay-series.ts';
import { difference, runCli, snapshot, withSession, type TableSnapshot } from '../faults/kill-harness.ts';
import { WAREHOUSES, type WarehouseKind } from './spine-env.ts';

export const DAY = 86_400_000;
export const MAR_1 = Date.UTC(2024, 2, 1);
const MAR_4 = MAR_1 + 3 * DAY;
/** Far enough for every snapshot bound (PostgreSQL takes no larger timestamp than a few thousand years out). */
const NO_BOUND = new Date('2100-01-01T00:00:00Z');

/** Two listed markets of an exchange, as the user writes them (the second in coinlake's `BASE-QUOTE` form). */
function twoSymbols(id: CcxtReplayExchange): [string, string] {
  const [a, b] = REPLAY_MARKETS[id];
  return [a.symbol, b.symbol.replace('/', '-')];
}

/** Column values sorted by column name, as kill-harness.ts snapshot() canonicalises a row. */
function candleText(id: string, symbol: string, c: ReturnType<typeof replayCandles>[number]): string {
  // close, exchange, high, low, open, symbol, trade_count, ts, volume_base, volume_quote
  return JSON.stringify([c.close, id, c.high, c.low, c.open, symbol.replace('/', '-'), null, new Date(c.ts).toISOString(), c.volume, null]);
}

/** What ohlcv_1m must hold after loading `symbols` of `id` over [from, to): the generated series, as a snapshot. */
export function expected(id: CcxtReplayExchange, symbols: string[], from: number, to: number): TableSnapshot {
  const texts = symbols.flatMap((s) => replayCandles(id, s.replace('-', '/'), from, to).map((c) => candleText(id, s, c)));
  const rows = new Map<string, number>();
  for (const t of texts) rows.set(t, (rows.get(t) ?? 0) + 1);
  const checksum = createHash('sha256').update([...texts].sort().join('\n')).digest('hex').slice(0, 16);
  return { rows, count: texts.length, checksum };
}

/** `coinlake backfill --job ccxt.ohlcv` of 1m candles. */
export const backfill = (id: string, symbols: string[], from = '2024-03-01', to = '2024-03-04') =>
  ['backfill', '--job', 'ccxt.ohlcv', '--exchange', id, '--symbols', symbols.join(','), '--interval', '1m', '--from', from, '--to', to];

/** One test file's replay server and temp dir (closed after the file), and its workspaces. */
export interface CcxtCliEnv {
  server: ReplayServer;
  dir: string;
  /** Whether the replay server has routes for `id` (the mount lists the exchanges whose routes have landed). */
  replays(id: CcxtReplayExchange): boolean;
  workspace(kind: WarehouseKind, name: string, id: CcxtReplayExchange): Promise<Workspace>;
}

export interface Workspace {
  warehouse: string;
  coinlake(args: string[], killAfterMs?: number): ReturnType<typeof runCli>;
  /** ohlcv_1m as a snapshot. */
  table(): Promise<TableSnapshot>;
}

/** Starts a replay server and a temp dir for one test file; both go (and the PostgreSQL databases made) after it. */
export async function ccxtCliEnv(): Promise<CcxtCliEnv> {
  const server = await startReplayServer();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-ccxt-'));
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await server.close();
    for (const db of databases) await db.drop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    server,
    dir,
    replays: (id) => {
      try {
        server.ccxtUsage(id);
        return true;
      } catch {
        return false;
      }
    },
    async workspace(kind, name, id) {
      let warehouse = path.join(dir, `${name}.duckdb`);
      if (kind === 'postgres') {
        const db = await createTestDatabase();
        databases.push(db);
        warehouse = db.url;
      }
      const lake = path.join(dir, `lake-${name}`);
      const env: NodeJS.ProcessEnv = { ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_REPLAY: '', [`COINLAKE_CCXT_${id.toUpperCase()}_URL`]: server.ccxtUrl(id) };
      return {
        warehouse,
        coinlake: (args, killAfterMs) => runCli(args, env, { cwd: dir, lake, killAfterMs }),
        table: () => withSession(warehouse, (s) => snapshot(s, 'ohlcv_1m', 'ts', NO_BOUND)),
      };
    },
  };
}

/**
 * The cases of one replayed exchange on DuckDB and PostgreSQL (skipped while its routes have not landed): two symbols
 * over three days equal the generated series, nothing refused; daily and run continue from the watermark; killed with
 * SIGKILL and run again (DuckDB), nothing lost or duplicated; a symbol it does not list fails alone with one exact
 * error; a storm of refusals is waited out (DuckDB).
 */
export function ccxtExchangeCases(env: CcxtCliEnv, id: CcxtReplayExchange): void {
  const { server, workspace } = env;
  describe.runIf(env.replays(id)).each(WAREHOUSES)(`ccxt ${id} on %s`, (kind) => {
    const symbols = twoSymbols(id);

    it(`a backfill of two symbols over three days equals the generated series, nothing refused; daily and run continue from the watermark${kind === 'duckdb' ? '; killed and run again, nothing lost or duplicated' : ''}`, async () => {
      const before = server.ccxtUsage(id);
      const clean = await workspace(kind, `${id}-${kind}-clean`, id);
      const first = await clean.coinlake(backfill(id, symbols));
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const want = expected(id, symbols, MAR_1, MAR_4);
      const got = await clean.table();
      expect({ count: got.count, checksum: got.checksum, ...difference(want, got) }).toEqual({ count: want.count, checksum: want.checksum, lost: 0, duplicated: 0 });
      const usage = server.ccxtUsage(id);
      expect(usage.maxInWindow).toBeLessThanOrEqual(usage.limit.requests);
      expect(usage.rejected - before.rejected, 'requests the exchange refused (429)').toBe(0);
      const requests = usage.acceptedAt.length - before.acceptedAt.length;

      // Killed at a random moment of the same backfill, then run again (DuckDB: the engines' commits are one path).
      if (kind === 'duckdb') {
        const killed = await workspace(kind, `${id}-${kind}-killed`, id);
        const cut = await killed.coinlake(backfill(id, symbols), Math.floor((first.activeMs ?? 2000) * (0.2 + 0.6 * Math.random())));
        const rerun = await killed.coinlake(backfill(id, symbols));
        expect(rerun.code, rerun.stderr).toBe(0);
        const after = await killed.table();
        expect({ count: after.count, checksum: after.checksum, ...difference(want, after) }, `killed: ${cut.signal} at ${cut.killedAtMs} ms of ${first.activeMs} ms (${requests} requests)`).toEqual({
          count: want.count,
          checksum: want.checksum,
          lost: 0,
          duplicated: 0,
        });
      }

      // daily catches both symbols up to 03-05; `run` of one symbol then continues to 03-06 from its watermark.
      const daily = await clean.coinlake(['daily', '--to', '2024-03-05']);
      expect(daily.code, daily.stderr).toBe(0);
      const day4 = (s: string) => replayCandles(id, s.replace('-', '/'), MAR_4, MAR_4 + DAY).length;
      expect(daily.stdout).toContain(`ccxt.ohlcv CCXT_${id.toUpperCase()}/OHLCV_${symbols[0].toUpperCase()}_1M: ${day4(symbols[0]).toLocaleString('en-US')} rows since 2024-03-03T23:59:00.000Z`);
      expect(daily.stdout).toContain(`ccxt.ohlcv CCXT_${id.toUpperCase()}/OHLCV_${symbols[1].toUpperCase()}_1M: ${day4(symbols[1]).toLocaleString('en-US')} rows since 2024-03-03T23:59:00.000Z`);
      const run = await clean.coinlake(['run', 'ccxt.ohlcv', '--exchange', id, '--asset', symbols[0], '--interval', '1m', '--from', '2024-03-01', '--to', '2024-03-06']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`ccxt.ohlcv: ${replayCandles(id, symbols[0], MAR_4 + DAY, MAR_4 + 2 * DAY).length.toLocaleString('en-US')} rows into coinlake.ohlcv_1m`);
      const caught = await clean.table();
      const all = expected(id, [symbols[0]], MAR_1, MAR_4 + 2 * DAY);
      const other = expected(id, [symbols[1]], MAR_1, MAR_4 + DAY);
      expect({ count: caught.count, ...difference({ ...all, rows: new Map([...all.rows, ...other.rows]) }, caught) }).toEqual({ count: all.count + other.count, lost: 0, duplicated: 0 });
    }, 300_000);

    it('a symbol the exchange does not list: one exact error naming exchange and symbol, nothing loaded for it, the other symbol loaded', async () => {
      const w = await workspace(kind, `${id}-${kind}-unlisted`, id);
      const listed = REPLAY_MARKETS[id].map((m) => m.symbol);
      const r = await w.coinlake(backfill(id, [symbols[0], 'DOGE/EUR'], '2024-03-01', '2024-03-02'));
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').slice(0, 2)).toEqual([
        `error: ${id} does not list DOGE/EUR`,
        `hint: ${id} lists ${listed.length} market(s), e.g. ${listed.join(', ')}; \`coinlake run ccxt.markets --exchange ${id}\` loads them all`,
      ]);
      const got = await w.table();
      const want = expected(id, [symbols[0]], MAR_1, MAR_1 + DAY);
      expect({ count: got.count, checksum: got.checksum, ...difference(want, got) }).toEqual({ count: want.count, checksum: want.checksum, lost: 0, duplicated: 0 });
    }, 120_000);

    it.runIf(kind === 'duckdb')('a storm of 429s is waited out: the backfill completes with the exact series', async () => {
      const w = await workspace(kind, `${id}-${kind}-storm`, id);
      const before = server.ccxtUsage(id).rejected;
      server.ccxtStorm(id, 4);
      const r = await w.coinlake(backfill(id, [symbols[1]], '2024-03-01', '2024-03-02'));
      expect(r.code, r.stderr).toBe(0);
      expect(server.ccxtUsage(id).rejected - before).toBe(4);
      const got = await w.table();
      const want = expected(id, [symbols[1]], MAR_1, MAR_1 + DAY);
      expect({ count: got.count, checksum: got.checksum }).toEqual({ count: want.count, checksum: want.checksum });
    }, 120_000);
  });
}
