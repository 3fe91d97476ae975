// The ccxt source as a user runs it (the CLI in subprocesses), against the replay server's Kraken on DuckDB and
// PostgreSQL (test/helpers/ccxt-cli.ts: two symbols over three days equal the generated series exactly, nothing
// refused; daily and run from the watermark; kill -9 and rerun; an unlisted symbol's exact error; a 429 storm waited
// out), a catalog job, and Kraken's trades, tickers and markets. Coinbase, OKX and Bybit: ccxt-source-<id>.test.ts.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sealSecret } from '../src/catalog/secret-box.ts';
import { REPLAY_MARKETS, replayTrades } from '../src/sources/ccxt/replay/ccxt-replay-series.ts';
import { runCli, snapshot, withSession } from './faults/kill-harness.ts';
import { ccxtCliEnv, ccxtExchangeCases, DAY, expected, MAR_1 } from './helpers/ccxt-cli.ts';

const env = await ccxtCliEnv();
ccxtExchangeCases(env, 'kraken');

describe.runIf(env.replays('kraken'))('ccxt catalog job', () => {
  it('a catalog connection URL with {exchange} points the exchange at the replay server; params name exchange, symbol and interval; its encrypted keys go to ccxt, never into a header or the log', async () => {
    const config = path.join(env.dir, 'ccxt-catalog.yaml');
    const key = randomBytes(32);
    const sealed = sealSecret('{"apiKey": "ccxt-api-key-7f3a", "secret": "ccxt-secret-9c1e"}', 'CCXT_KRAKEN', key);
    await writeFile(
      config,
      [
        'connections:',
        `  - { name: CCXT_KRAKEN, url: "${env.server.url}/ccxt/{exchange}", auth_type: bearer, secret_encrypted: "${sealed}" }`,
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
    const warehouse = path.join(env.dir, 'catalog.duckdb');
    const cliEnv = { ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_REPLAY: '', COINLAKE_SECRET_KEY: key.toString('hex') };
    const lake = path.join(env.dir, 'lake-catalog');
    const r = await runCli(['-p', config, '-l', 'debug', 'run', '-s', 'CCXT_KRAKEN', '-a', 'KRAKEN_ETH_USD_1M'], cliEnv, { cwd: env.dir, lake });
    expect(r.code, r.stderr).toBe(0);
    // Every request is in the debug log with its headers: no Authorization, and neither key anywhere.
    const log = (await Promise.all((await readdir(path.join(lake, 'logs'))).map((f) => readFile(path.join(lake, 'logs', f), 'utf8')))).join('\n');
    expect(log).toContain('/ccxt/kraken/0/public/OHLC');
    expect([/authorization/i.test(log), log.includes('ccxt-api-key-7f3a'), log.includes('ccxt-secret-9c1e'), r.stdout.includes('ccxt-secret-9c1e')]).toEqual([false, false, false, false]);
    const want = expected('kraken', ['ETH-USD'], MAR_1 + DAY, MAR_1 + 2 * DAY);
    expect(r.stdout).toContain(`CCXT_KRAKEN/KRAKEN_ETH_USD_1M: ${want.count.toLocaleString('en-US')} rows into coinlake.ohlcv_1m`);
    const got = await withSession(warehouse, (s) => snapshot(s, 'ohlcv_1m', 'ts', new Date('2100-01-01T00:00:00Z')));
    expect({ count: got.count, checksum: got.checksum }).toEqual({ count: want.count, checksum: want.checksum });
  }, 120_000);
});

describe.runIf(env.replays('kraken'))('ccxt trades, tickers and markets', () => {
  it('kraken: a day of trades equals the generated trades; every listed market and its ticker land with the exchange\'s own ids', async () => {
    const w = await env.workspace('duckdb', 'kraken-snapshots', 'kraken');
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
