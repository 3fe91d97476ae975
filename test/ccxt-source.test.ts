// The ccxt source as a user runs it (the CLI in subprocesses) against every exchange the replay server speaks, on
// DuckDB and PostgreSQL: a backfill of two symbols over three days of 1m candles equals the generated series exactly
// (count and a checksum over all columns); killed with SIGKILL and run again, nothing is lost or duplicated; `daily` and
// `run` continue from the watermark; a symbol the exchange does not list fails alone with one exact error; the
// exchange's request limit is never exceeded, and a storm of 429s is waited out.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { startReplayServer } from '../src/replay/index.ts';
import { CCXT_REPLAY_EXCHANGES, REPLAY_MARKETS, replayCandles, replayTrades, type CcxtReplayExchange } from '../src/sources/ccxt/replay/ccxt-replay-series.ts';
import { difference, runCli, snapshot, withSession, type TableSnapshot } from './faults/kill-harness.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const DAY = 86_400_000;
const MAR_1 = Date.UTC(2024, 2, 1);
const MAR_4 = MAR_1 + 3 * DAY;

const server = await startReplayServer();
const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-ccxt-'));
const databases: TestDatabase[] = [];
afterAll(async () => {
  await server.close();
  for (const db of databases) await db.drop();
  await rm(dir, { recursive: true, force: true });
});

/** The exchanges whose replay routes have landed (the mount lists them). */
const LANDED = CCXT_REPLAY_EXCHANGES.filter((id) => {
  try {
    server.ccxtUsage(id);
    return true;
  } catch {
    return false;
  }
});

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
function expected(id: CcxtReplayExchange, symbols: string[], from: number, to: number): TableSnapshot {
  const texts = symbols.flatMap((s) => replayCandles(id, s.replace('-', '/'), from, to).map((c) => candleText(id, s, c)));
  const rows = new Map<string, number>();
  for (const t of texts) rows.set(t, (rows.get(t) ?? 0) + 1);
  const checksum = createHash('sha256').update([...texts].sort().join('\n')).digest('hex').slice(0, 16);
  return { rows, count: texts.length, checksum };
}

/** A fresh warehouse (DuckDB file or PostgreSQL database) with its lake, and the CLI pointed at the replayed exchange. */
async function workspace(kind: WarehouseKind, name: string, id: CcxtReplayExchange) {
  let warehouse = path.join(dir, `${name}.duckdb`);
  if (kind === 'postgres') {
    const db = await createTestDatabase();
    databases.push(db);
    warehouse = db.url;
  }
  const lake = path.join(dir, `lake-${name}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COINLAKE_WAREHOUSE: warehouse,
    COINLAKE_REPLAY: '',
    [`COINLAKE_CCXT_${id.toUpperCase()}_URL`]: server.ccxtUrl(id),
  };
  return {
    warehouse,
    coinlake: (args: string[], killAfterMs?: number) => runCli(args, env, { cwd: dir, lake, killAfterMs }),
    table: (bound = new Date('2100-01-01T00:00:00Z')) => withSession(warehouse, (s) => snapshot(s, 'ohlcv_1m', 'ts', bound)),
  };
}

const backfill = (id: string, symbols: string[], from = '2024-03-01', to = '2024-03-04') =>
  ['backfill', '--job', 'ccxt.ohlcv', '--exchange', id, '--symbols', symbols.join(','), '--interval', '1m', '--from', from, '--to', to];

describe.runIf(LANDED.length > 0).each(LANDED.flatMap((id) => WAREHOUSES.map((kind) => [id, kind] as const)))('ccxt %s on %s', (id, kind) => {
  const symbols = twoSymbols(id);

  it('a backfill of two symbols over three days equals the generated series; killed and run again, nothing lost or duplicated; daily and run continue from the watermark', async () => {
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

    // Killed at a random moment of the same backfill, then run again.
    const killed = await workspace(kind, `${id}-${kind}-killed`, id);
    const cut = await killed.coinlake(backfill(id, symbols), Math.floor(((first.activeMs ?? 2000) * (0.2 + 0.6 * Math.random()))));
    const rerun = await killed.coinlake(backfill(id, symbols));
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = await killed.table();
    expect({ count: after.count, checksum: after.checksum, ...difference(want, after) }, `killed: ${cut.signal} at ${cut.killedAtMs} ms of ${first.activeMs} ms (${requests} requests)`).toEqual({
      count: want.count,
      checksum: want.checksum,
      lost: 0,
      duplicated: 0,
    });

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

describe.runIf(LANDED.includes('kraken'))('ccxt catalog job', () => {
  it('a catalog connection URL with {exchange} points the exchange at the replay server; params name exchange, symbol and interval', async () => {
    const config = path.join(dir, 'ccxt-catalog.yaml');
    await writeFile(
      config,
      [
        'connections:',
        `  - { name: CCXT_KRAKEN, url: "${server.url}/ccxt/{exchange}" }`,
        'ingestions:',
        '  - connection: CCXT_KRAKEN',
        '    asset: KRAKEN_ETH_USD_1M',
        '    target_table: ohlcv_1m',
        '    source: ccxt.ohlcv',
        '    params: { exchange: kraken, symbol: ETH-USD, interval: 1m, from: "2024-03-02", to: "2024-03-03" }',
        '    primary_key: [exchange, symbol, ts]',
        '    load_type: INCR',
        '',
      ].join('\n'),
    );
    const warehouse = path.join(dir, 'catalog.duckdb');
    const env = { ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_REPLAY: '' };
    const r = await runCli(['-p', config, 'run', '-s', 'CCXT_KRAKEN', '-a', 'KRAKEN_ETH_USD_1M'], env, { cwd: dir, lake: path.join(dir, 'lake-catalog') });
    expect(r.code, r.stderr).toBe(0);
    const want = expected('kraken', ['ETH-USD'], MAR_1 + DAY, MAR_1 + 2 * DAY);
    expect(r.stdout).toContain(`CCXT_KRAKEN/KRAKEN_ETH_USD_1M: ${want.count.toLocaleString('en-US')} rows into coinlake.ohlcv_1m`);
    const got = await withSession(warehouse, (s) => snapshot(s, 'ohlcv_1m', 'ts', new Date('2100-01-01T00:00:00Z')));
    expect({ count: got.count, checksum: got.checksum }).toEqual({ count: want.count, checksum: want.checksum });
  }, 120_000);
});

describe.runIf(LANDED.includes('kraken'))('ccxt trades, tickers and markets', () => {
  it('kraken: a day of trades equals the generated trades; every listed market and its ticker land with the exchange\'s own ids', async () => {
    const w = await workspace('duckdb', 'kraken-snapshots', 'kraken');
    const trades = await w.coinlake(['backfill', '--job', 'ccxt.trades', '--exchange', 'kraken', '--symbols', 'ETH/USD', '--from', '2024-03-01', '--to', '2024-03-02']);
    expect(trades.code, trades.stderr).toBe(0);
    const markets = await w.coinlake(['run', 'ccxt.markets', '--exchange', 'kraken']);
    expect(markets.code, markets.stderr).toBe(0);
    const tickers = await w.coinlake(['run', 'ccxt.tickers', '--exchange', 'kraken']);
    expect(tickers.code, tickers.stderr).toBe(0);
    await withSession(w.warehouse, async (s) => {
      const got = await s.query<{ ts: Date; side: string; price: number; amount: number }>(`SELECT ts, side, price, amount FROM coinlake.ccxt_trades WHERE exchange = 'kraken' AND symbol = 'ETH-USD' ORDER BY ts, price, amount`);
      const want = replayTrades('kraken', 'ETH/USD', MAR_1, MAR_1 + DAY).sort((a, b) => a.timestamp - b.timestamp || a.price - b.price || a.amount - b.amount);
      expect(got.length).toBe(want.length);
      expect(got.map((t) => [t.ts.getTime(), t.side, t.price, t.amount])).toEqual(want.map((t) => [t.timestamp, t.side, t.price, t.amount]));
      const listed = await s.query<{ unified_symbol: string; symbol: string; market_id: string | null }>(`SELECT unified_symbol, symbol, market_id FROM coinlake.ccxt_markets WHERE exchange = 'kraken' ORDER BY unified_symbol`);
      expect(listed.map((m) => [m.unified_symbol, m.symbol])).toEqual(REPLAY_MARKETS.kraken.map((m) => [m.symbol, `${m.base}-${m.quote}`]).sort());
      expect(listed.every((m) => typeof m.market_id === 'string' && m.market_id.length > 0)).toBe(true);
      const ticked = await s.query<{ symbol: string }>(`SELECT DISTINCT symbol FROM coinlake.ccxt_tickers WHERE exchange = 'kraken' ORDER BY symbol`);
      expect(ticked.map((t) => t.symbol)).toEqual(REPLAY_MARKETS.kraken.map((m) => `${m.base}-${m.quote}`).sort());
    });
  }, 180_000);
});
