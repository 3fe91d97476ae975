// The demo's dashboard as a newcomer sees it (issue #24): `coinlake demo` in an empty folder, then its own dashboard
// opened in a real browser (Debian's Chromium via playwright-core). Every panel is drawn with data; each loaded source
// shows: CoinCap in the asset and exchange charts, the three candle sources (Binance klines, ccxt's replayed Coinbase,
// the CryptoDataDownload file) as candle series with their indicators, every job's run in the runs table, every table
// the demo loaded in the freshness table, the checks in the quality table. At 1440 and 1024 px wide nothing overflows
// the page sideways; screenshots of both go to test-artifacts/ (gitignored). Ctrl-C ends the demo with exit code 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CCXT, DEMO_CDD, DEMO_KLINES } from '../src/cli/demo-command.ts';
import { drawnCharts, hasChromium, launchChromium, newPage, pageWidths, type DrawnCharts } from './helpers/chromium-page.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const ARTIFACTS = path.resolve('test-artifacts');

type Win = { coinlake: { charts: DrawnCharts; renders: number } };
const charts = drawnCharts;

/** The first column's texts of a table's body rows. */
const column = (page: Page, table: string, index: number) =>
  page.locator(`#${table} tbody tr`).evaluateAll((rows, i) => rows.map((r) => (r.children[i] as HTMLElement | undefined)?.innerText ?? ''), index);

describe.skipIf(!hasChromium)('the demo\'s dashboard in Chromium (skipped only when /usr/bin/chromium is missing; .ci/run installs it)', () => {
  let dir: string;
  let demo: ChildProcess;
  let ended: Promise<number | null>;
  let out = '';
  let url: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-demo-dashboard-'));
    demo = spawn(process.execPath, [BIN, 'demo', '--port', '0'], {
      cwd: dir,
      env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stderr!.on('data', (d) => (out += d));
    ended = new Promise((resolve) => demo.once('exit', (code) => resolve(code)));
    url = await new Promise<string>((resolve, reject) => {
      demo.stdout!.on('data', (d) => {
        out += d;
        const m = /\ndashboard on (http:\/\/127\.0\.0\.1:\d+) — press Ctrl\+C to stop\n/.exec(out);
        if (m) resolve(m[1]);
      });
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
    });
    browser = await launchChromium();
    page = await newPage(browser, 1440, pageErrors);
    await page.goto(url);
    await page.waitForSelector('body[data-state=ready]');
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('every panel is drawn with data, from each source the demo loaded', async () => {
    expect(await page.locator('#empty').isVisible()).toBe(false);
    const drawn = await charts(page);
    // CoinCap: asset history, snapshots and exchanges.
    for (const key of ['price', 'marketCap', 'supply', 'rank', 'share', 'volume', 'exchangeVolume', 'exchangeRank', 'candles']) {
      expect(drawn[key].series.length, key).toBeGreaterThan(0);
      for (const s of drawn[key].series) expect(s.points, `${key}: ${s.label}`).toBeGreaterThan(0);
    }
    expect(drawn.price.series.map((s) => s.label).sort()).toEqual(['bitcoin', 'ethereum']);
    for (const id of ['chart-price', 'chart-mcap', 'chart-supply', 'chart-rank', 'chart-share', 'chart-volume', 'chart-exchange-volume', 'chart-exchange-rank', 'chart-candles']) {
      expect(await page.locator(`#${id} canvas`).count(), id).toBeGreaterThan(0);
    }
    for (const id of ['asset-table', 'exchange-table', 'runs-table', 'freshness-table', 'quality-table']) {
      expect(await page.locator(`#${id} tbody tr td.muted`).count(), `${id} has rows`).toBe(0);
      expect(await page.locator(`#${id} tbody tr`).count(), id).toBeGreaterThan(0);
    }

    // Every table the demo loaded is in the freshness table (CoinLore's and the ERC-20 transfers too).
    const fresh = await column(page, 'freshness-table', 0);
    for (const t of ['coincap_assets', 'coincap_asset_history', 'coincap_exchanges', 'coincap_markets', 'coincap_rates', 'coinlore_tickers', 'coinlore_global', 'coinlore_exchanges', 'coinlore_markets', 'coinlore_social_stats', 'ohlcv_1m', 'ohlcv_1h', 'erc20_transfers', 'fact_indicators']) {
      expect(fresh, t).toContain(t);
    }
    // The runs table shows a run of every source, each run ok (jobs are named <connection>/<table>).
    const jobs = await column(page, 'runs-table', 2);
    expect([...new Set(jobs.map((j) => j.split('/')[0]))].sort()).toEqual(['BINANCE', 'CCXT_COINBASE', 'COINCAP', 'COINLORE', 'CRYPTODATADOWNLOAD', 'EVM']);
    expect(new Set(await column(page, 'runs-table', 3))).toEqual(new Set(['ok']));
    // The checks the demo ran.
    expect(await page.locator('#quality-table tbody tr').count()).toBe(14);
  });

  it('the candle series of all three candle sources are listed, and each draws its candles with indicators', async ({ annotate }) => {
    const options = await page.locator('#candle-series option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    const minute = [
      ...DEMO_KLINES.symbols.map((s) => `binance|${s.replace(/USDT$/, '-USDT')}|1m`),
      `${DEMO_CCXT.exchange}|${DEMO_CCXT.asset}|1m`,
      `${DEMO_CDD.exchange.toLowerCase()}|${DEMO_CDD.base}-${DEMO_CDD.quote}|1m`,
    ];
    for (const key of minute) {
      expect(options, key).toContain(key);
      expect(options, key.replace('|1m', '|1h')).toContain(key.replace('|1m', '|1h'));
    }
    for (const key of minute) {
      const [exchange, symbol] = key.split('|');
      await page.selectOption('#candle-series', key);
      await page.waitForFunction((label) => {
        const c = (window as unknown as Win).coinlake.charts.candles;
        return c?.series[0]?.label === label && c.indicators === true;
      }, `${symbol} 1m`);
      const c = (await charts(page)).candles;
      expect(c.series[0].points, key).toBeGreaterThan(400);
      expect(c.panes, key).toBe(3);
      expect(await page.locator('#indicators-note').isVisible(), key).toBe(false);
      const shot = path.join(ARTIFACTS, `demo-candles-${exchange}-${symbol}.png`);
      await page.locator('#candles').screenshot({ path: shot });
      await annotate(`screenshot: ${shot}`);
    }
    expect(pageErrors).toEqual([]);
  });

  for (const width of [1440, 1024]) {
    it(`at ${width} px wide nothing overflows the page sideways`, async ({ annotate }) => {
      await page.setViewportSize({ width, height: 1000 });
      await page.waitForFunction((w) => window.innerWidth === w, width);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const w = await pageWidths(page);
      expect(w.inner).toBe(width);
      expect(w.scroll, `document.scrollWidth at ${width}`).toBeLessThanOrEqual(width);
      expect(w.body, `body.scrollWidth at ${width}`).toBeLessThanOrEqual(width);
      const shot = path.join(ARTIFACTS, `demo-dashboard-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      await annotate(`screenshot: ${shot}`);
      expect(pageErrors).toEqual([]);
    });
  }

  it('Ctrl-C ends the demo and its dashboard (exit code 0)', async () => {
    demo.kill('SIGINT');
    expect(await ended).toBe(0);
    expect(out.endsWith('stopping the dashboard\n')).toBe(true);
  });
});
