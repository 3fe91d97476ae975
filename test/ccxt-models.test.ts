// The star-schema models over ccxt markets: after `ccxt.markets` of Kraken and OKX (replayed) plus CoinCap's assets and
// exchanges, `coinlake models run` gives each exchange one dim_exchange row (Kraken's joined with CoinCap's, not
// duplicated) and links every market's base asset in bridge_asset_source under `ccxt:<exchange>` with the exchange's own
// market id — the same rows on DuckDB and PostgreSQL. Without ccxt_markets the models neither create nor read it.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { runCli, withSession } from './faults/kill-harness.ts';
import { ccxtCliEnv } from './helpers/ccxt-cli.ts';
import { WAREHOUSES, type WarehouseKind } from './helpers/spine-env.ts';

const env = await ccxtCliEnv();
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const db of databases) await db.drop();
});

/** A fresh warehouse with the CLI pointed at the replayed Kraken and OKX. */
async function workspace(kind: WarehouseKind, name: string) {
  let warehouse = path.join(env.dir, `${name}.duckdb`);
  if (kind === 'postgres') {
    const db = await createTestDatabase();
    databases.push(db);
    warehouse = db.url;
  }
  const vars: NodeJS.ProcessEnv = { ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_REPLAY: '', COINLAKE_CCXT_KRAKEN_URL: env.server.ccxtUrl('kraken'), COINLAKE_CCXT_OKX_URL: env.server.ccxtUrl('okx') };
  const coinlake = async (...commands: string[][]) => {
    for (const args of commands) {
      const r = await runCli(args, vars, { cwd: env.dir, lake: path.join(env.dir, `lake-${name}`) });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  };
  return { warehouse, coinlake };
}

const COINCAP = [
  ['--replay', 'run', 'coincap.assets'],
  ['--replay', 'run', 'coincap.exchanges'],
];
const row = (asset: string, source: string, id: string) => ({ asset_symbol: asset, source, source_id: id, source_symbol: id, source_name: null, is_primary: true });

describe.runIf(env.replays('kraken') && env.replays('okx')).each(WAREHOUSES)('models over ccxt markets on %s', (kind) => {
  it('dim_exchange has kraken (joined with CoinCap) and okx once each; bridge_asset_source links every market by its base under ccxt:<exchange>; a second run gives the same rows', async () => {
    const w = await workspace(kind, `models-${kind}`);
    await w.coinlake(['run', 'ccxt.markets', '--exchange', 'kraken'], ['run', 'ccxt.markets', '--exchange', 'okx'], ...COINCAP, ['models', 'run']);
    const read = () =>
      withSession(w.warehouse, async (s) => ({
        exchanges: await s.query(`SELECT exchange_key, name, coincap_id, coinlore_id, url, country, in_candles, aliases FROM coinlake.dim_exchange WHERE exchange_key IN ('kraken', 'okx', 'okex') ORDER BY exchange_key`),
        bridge: await s.query(`SELECT asset_symbol, source, source_id, source_symbol, source_name, is_primary FROM coinlake.bridge_asset_source WHERE source LIKE 'ccxt:%' ORDER BY source, source_id`),
        assets: await s.query(`SELECT asset_symbol, coincap_id FROM coinlake.dim_asset WHERE asset_symbol IN ('BTC', 'ETH', 'SOL', 'USD', 'USDT') ORDER BY asset_symbol`),
      }));
    const want = {
      exchanges: [
        { exchange_key: 'kraken', name: 'Kraken', coincap_id: 'kraken', coinlore_id: null, url: 'https://kraken.com', country: null, in_candles: false, aliases: null },
        // CoinCap's `okex` is ccxt's `okx` (a built-in exchange alias): one row, under the current name.
        { exchange_key: 'okx', name: 'Okex', coincap_id: 'okex', coinlore_id: null, url: 'https://www.okex.com/', country: null, in_candles: false, aliases: 'okex' },
      ],
      bridge: [
        row('SOL', 'ccxt:kraken', 'SOLUSD'),
        row('ETH', 'ccxt:kraken', 'XETHXXBT'),
        row('ETH', 'ccxt:kraken', 'XETHZUSD'),
        row('BTC', 'ccxt:kraken', 'XXBTZUSD'),
        row('BTC', 'ccxt:okx', 'BTC-USDT'),
        row('ETH', 'ccxt:okx', 'ETH-BTC'),
        row('ETH', 'ccxt:okx', 'ETH-USDT'),
        row('SOL', 'ccxt:okx', 'SOL-USDT'),
      ],
      assets: [
        { asset_symbol: 'BTC', coincap_id: 'bitcoin' },
        { asset_symbol: 'ETH', coincap_id: 'ethereum' },
        { asset_symbol: 'SOL', coincap_id: 'solana' },
        { asset_symbol: 'USDT', coincap_id: 'tether' },
      ],
    };
    expect(await read()).toEqual(want);
    await w.coinlake(['models', 'run']);
    expect(await read()).toEqual(want);
  }, 180_000);

  it('without ccxt_markets: models run neither creates it nor writes a ccxt row', async () => {
    const w = await workspace(kind, `models-plain-${kind}`);
    await w.coinlake(...COINCAP, ['models', 'run']);
    await withSession(w.warehouse, async (s) => {
      expect(await s.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'coinlake' AND table_name = 'ccxt_markets'`)).toEqual([]);
      expect(await s.query(`SELECT count(*) AS n FROM coinlake.bridge_asset_source WHERE source LIKE 'ccxt:%'`)).toEqual([{ n: 0 }]);
      expect(await s.query(`SELECT exchange_key, coincap_id FROM coinlake.dim_exchange WHERE exchange_key IN ('kraken', 'okx', 'okex') ORDER BY exchange_key`)).toEqual([
        { exchange_key: 'kraken', coincap_id: 'kraken' },
        { exchange_key: 'okx', coincap_id: 'okex' },
      ]);
    });
  }, 120_000);
});
