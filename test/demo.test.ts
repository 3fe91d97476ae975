// `coinlake demo` as a newcomer runs it: every keyless source (ccxt's replayed Coinbase too), the CDD import, the models and the checks into an empty
// directory (exact rows per table, the summary), the dashboard until Ctrl-C; and the replay's generated CoinCap series
// anchored at the recorded snapshot (last price, supply within max supply, ranks by market cap).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CCXT, DEMO_CDD, DEMO_JOBS, DEMO_KLINES } from '../src/cli/demo-command.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { klineExists } from '../src/sources/binance/binance-replay-klines.ts';
import { replayCandles } from '../src/sources/ccxt/replay/ccxt-replay-series.ts';
import { assetsOfCount } from '../src/sources/coincap/coincap-replay-assets.ts';
import { historyAnchor, historyPrice, historySupply, historyWindow } from '../src/sources/coincap/coincap-replay-history.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');
const MINUTE = 60_000;
const RANGE = { startMs: Date.parse('2023-01-01T00:00:00Z'), endMs: Date.parse('2025-01-01T00:00:00Z') };
const RECORDED = JSON.parse(readFileSync('test/fixtures/coincap-v2/assets.json', 'utf8')) as Record<string, string | null>[];
const env = () => ({ ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' });
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-demo-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** Binance replay minutes of one symbol in the demo's window (maintenance windows have none). */
function klineMinutes(): number {
  let n = 0;
  for (let t = Date.parse(DEMO_KLINES.from); t < Date.parse(DEMO_KLINES.to); t += MINUTE) if (klineExists('1m', t)) n++;
  return n;
}

describe('coinlake demo', () => {
  it('--no-serve loads every keyless source, the CDD file, the models and checks; exact rows per table; the summary says where', async () => {
    const r = await run(process.execPath, [BIN, 'demo', '--no-serve'], { cwd: dir, env: env() });
    expect(r.stderr).toBe('');
    const history = DEMO_JOBS.filter((j) => j.name === 'coincap.asset_history')
      .map((j) => historyWindow('h1', RANGE, { startMs: Date.parse(j.opts.from), endMs: Date.parse(j.opts.to) }).count)
      .reduce((a, b) => a + b, 0);
    const cddMinutes = (Date.parse(DEMO_CDD.to) - Date.parse(DEMO_CDD.from)) / MINUTE;
    const ccxtMinutes = replayCandles(DEMO_CCXT.exchange, DEMO_CCXT.asset.replace('-', '/'), Date.parse(DEMO_CCXT.from), Date.parse(DEMO_CCXT.to)).length;
    const expected: [string, number][] = [
      ['coincap_assets', 100],
      ['coincap_exchanges', 100],
      ['coincap_rates', 192],
      ['coincap_markets', 100],
      ['coincap_asset_history', history],
      ['coinlore_tickers', 250],
      ['coinlore_global', 1],
      ['coinlore_exchanges', 6],
      ['coinlore_markets', 51],
      ['coinlore_social_stats', 25],
      ['ohlcv_1m', DEMO_KLINES.symbols.length * klineMinutes() + ccxtMinutes + cddMinutes],
      ['erc20_transfers', 287],
    ];
    expect(history).toBe(1488);
    const s = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
    try {
      const counts: [string, number][] = [];
      for (const [t] of expected) counts.push([t, Number((await s.query<{ n: bigint }>(`SELECT count(*) AS n FROM coinlake.${t}`))[0].n)]);
      expect(counts).toEqual(expected);
      const perSource = await s.query<{ exchange: string; n: bigint }>(`SELECT exchange, count(*) AS n FROM coinlake.ohlcv_1m GROUP BY exchange ORDER BY exchange`);
      expect(perSource.map((p) => [p.exchange, Number(p.n)])).toEqual([
        ['binance', 3 * klineMinutes()],
        ['bitstamp', cddMinutes],
        ['coinbase', ccxtMinutes],
      ]);
      // The models rolled the minutes up: one hour candle per symbol-hour with minutes.
      const [{ n: hours }] = await s.query<{ n: bigint }>(`SELECT count(*) AS n FROM coinlake.ohlcv_1h`);
      expect(Number(hours)).toBe(3 * 72 + 24 + 24);
      const [{ n: checks }] = await s.query<{ n: bigint }>(`SELECT count(*) AS n FROM coinlake_meta.quality_result WHERE process_id IS NULL`);
      expect(Number(checks)).toBe(14);
      // The history ends at the snapshot: the last hour's price is the snapshot's within 1 %.
      const last = await s.query<{ asset_id: string; price_usd: number; snapshot: number }>(
        `SELECT h.asset_id, h.price_usd, a.price_usd AS snapshot FROM coinlake.coincap_asset_history h JOIN coinlake.coincap_assets a ON a.id = h.asset_id
          WHERE h.time = (SELECT max(time) FROM coinlake.coincap_asset_history x WHERE x.asset_id = h.asset_id) ORDER BY h.asset_id`,
      );
      expect(last.map((l) => l.asset_id)).toEqual(['bitcoin', 'ethereum']);
      for (const l of last) expect(Math.abs(l.price_usd / l.snapshot - 1), l.asset_id).toBeLessThan(0.01);
      const [{ n: over }] = await s.query<{ n: bigint }>(
        `SELECT count(*) AS n FROM coinlake.coincap_asset_history h JOIN coinlake.coincap_assets a ON a.id = h.asset_id WHERE h.circulating_supply > a.max_supply`,
      );
      expect(Number(over)).toBe(0);
    } finally {
      await s.close();
    }
    const out = r.stdout;
    expect(out).toMatch(/^coinlake demo — replay server http:\/\/127\.0\.0\.1:\d+, warehouse .*warehouse\.duckdb, lake .*lake\n/);
    for (let i = 1; i <= 19; i++) expect(out).toContain(`[${i}/19] `);
    expect(out).toContain('[15/19] ccxt.ohlcv coinbase BTC-USD\n');
    expect(out).toContain('[17/19] import cdd: a generated Bitstamp BTC/USD minute file\n  import cdd lake/demo-input/Bitstamp_BTCUSD_minute.csv: 1,440 rows into coinlake.ohlcv_1m in ');
    expect(out).toContain('  14 checks on 5 tables: 12 passed, 2 failed (results in coinlake_meta.quality_result)\n');
    // The generated Bitstamp file and Coinbase's replayed minutes of 2024-12-30 disagree: the divergence check says so.
    expect(out).toMatch(/warning: coinlake\.ohlcv_1m divergence\(close > 50 bps for 5 × 1m\): \d+ episode\(s\) above 50 bps for ≥ 5 minute\(s\): bitstamp BTC-USD 2024-12-30 00:00/);
    expect(out).toMatch(/\nLoaded in \d+\.\d s\. What landed where:\n/);
    expect(out).toMatch(/\ncoinlake\.ohlcv_1m +15,744 +binance, ccxt, cryptodatadownload\n/);
    expect(out).toMatch(/\ncoinlake\.erc20_transfers +287 +evm\n/);
    expect(out).toMatch(/\ncoinlake\.fact_indicators +[\d,]+ +models\n/);
    expect(out).toContain(`\nlake: ${path.join(dir, 'lake')} (`);
    expect(out).toContain(`\nwarehouse: ${path.join(dir, 'warehouse.duckdb')}\n`);
    expect(out).not.toContain('dashboard on');
  }, 240_000);

  it('without --no-serve starts the dashboard on the demo warehouse, prints its URL and ends on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--port', '0'], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', () => {
        const m = /\ndashboard on (http:\/\/127\.0\.0\.1:\d+) — press Ctrl\+C to stop\n/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
    });
    const overview = (await (await fetch(`${url}/api/overview`)).json()) as { empty: boolean; tables: Record<string, number> };
    expect(overview.empty).toBe(false);
    expect(overview.tables.coinlore_tickers).toBe(250);
    child.kill('SIGINT');
    expect(await ended).toBe(0);
    expect(out.endsWith('stopping the dashboard\n')).toBe(true);
  }, 240_000);
});

describe('generated CoinCap series, anchored at the recorded snapshot', () => {
  const assets = assetsOfCount(RECORDED, 300);
  const lastHour = RANGE.endMs - 3_600_000;

  it('every asset: the last hour of the served range is the snapshot price, supply never above max supply', () => {
    for (const a of assets) {
      const anchor = historyAnchor(a, RANGE);
      const id = String(a.id);
      expect(Math.abs(historyPrice(id, lastHour, anchor) / Number(a.priceUsd) - 1), id).toBeLessThan(anchor.stable ? 0.005 : 1e-9);
      for (let t = RANGE.startMs; t < RANGE.endMs + 30 * 86_400_000; t += 7 * 86_400_000) {
        const supply = historySupply(id, t, anchor);
        expect(supply, id).toBeGreaterThan(0);
        if (a.maxSupply !== null) expect(supply, `${id} at ${new Date(t).toISOString()}`).toBeLessThanOrEqual(Number(a.maxSupply));
      }
    }
  });

  it('bitcoin through December 2024 stays near its snapshot (a walk of about 2.5 % a day), deterministic', () => {
    const btc = assets[0];
    const anchor = historyAnchor(btc, RANGE);
    const dec: number[] = [];
    for (let t = Date.parse('2024-12-01T00:00:00Z'); t < RANGE.endMs; t += 3_600_000) dec.push(historyPrice('bitcoin', t, anchor));
    expect(Math.min(...dec)).toBeGreaterThan(Number(btc.priceUsd) * 0.7);
    expect(Math.max(...dec)).toBeLessThan(Number(btc.priceUsd) * 1.3);
    const moves = dec.slice(1).map((p, i) => Math.abs(Math.log(p / dec[i])));
    expect(Math.max(...moves)).toBeLessThan(0.05);
    expect(historyPrice('bitcoin', Date.parse('2024-12-15T13:37:00Z'), anchor)).toBe(historyPrice('bitcoin', Date.parse('2024-12-15T13:37:00Z'), historyAnchor(btc, RANGE)));
  });

  it('generated assets continue below the recorded ranks: market caps fall with the rank, supply within max supply, volume 0.5–10 % of the cap', () => {
    const caps = assets.map((a) => Number(a.marketCapUsd));
    for (let i = 100; i < caps.length; i++) expect(caps[i], String(assets[i].id)).toBeLessThan(caps[i - 1]);
    for (const a of assets.slice(100)) {
      if (a.maxSupply !== null) expect(Number(a.supply)).toBeLessThanOrEqual(Number(a.maxSupply));
      const share = Number(a.volumeUsd24Hr) / Number(a.marketCapUsd);
      expect(share).toBeGreaterThanOrEqual(0.005);
      expect(share).toBeLessThanOrEqual(0.1);
      expect(Number(a.supply) * Number(a.priceUsd)).toBeCloseTo(Number(a.marketCapUsd), -3);
    }
  });
});
