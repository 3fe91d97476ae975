// The dashboard's finish, in a real browser (Debian's Chromium via playwright-core) against `coinlake serve` as its
// own process on a real warehouse (the demo jobs, a day of BTC-USDT minutes, the models, the quality checks, and a
// failed run with a long error): every panel drawn with data; the candle chart's legend and pane titles; the RSI pane
// at its intended height with its 30/70 lines in view; no horizontal page overflow at 1440 and 1024 px wide (the long
// error wraps inside its panel); a series without indicator values says which command computes them; and a page
// opened on an empty warehouse picks its assets, exchanges and candles once data arrives live.
// Screenshots go to test-artifacts/ (gitignored).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QualityCheck } from '../src/core/quality-check.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { runChecks } from '../src/quality/run-checks.ts';
import { findStream } from '../src/sources/registry.ts';
import { drawnCharts, hasChromium, launchChromium, newPage, pageWidths, type DrawnCharts } from './helpers/chromium-page.ts';
import { dashboardEnv, type DashboardEnv } from './helpers/dashboard-env.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const ARTIFACTS = path.resolve('test-artifacts');
const run = promisify(execFile);
/** An asset id nobody lists: its run fails with the replay's 404, whose message carries the id twice, unbroken. */
const LONG_ASSET = `no-such-asset-${'x'.repeat(180)}`;

type Win = {
  coinlake: {
    charts: DrawnCharts;
    renders: number;
    selectedAssets?: string[];
    selectedExchanges?: string[];
  };
};
const charts = drawnCharts;

/** Starts `coinlake serve --port 0` as its own process; resolves with its URL once it listens. */
function startServe(cwd: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--poll-ms', '500'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /dashboard on (http:\/\/\S+)\n/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`coinlake serve exited with ${code}: ${out}`)));
  });
}

async function stopServe(s: { child: ChildProcess } | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  await exited;
}

const widths = pageWidths;

describe.skipIf(!hasChromium)('dashboard finish in Chromium (skipped only when /usr/bin/chromium is missing; .ci/run installs it)', () => {
  let env: DashboardEnv;
  let serve: { child: ChildProcess; url: string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const procEnv = (warehouse = env.warehouse, lake = env.lakeDir) => ({ ...process.env, COINLAKE_WAREHOUSE: warehouse, COINLAKE_LAKE: lake, COINLAKE_REPLAY: '', COINCAP_API_KEY: '' });

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    env = await dashboardEnv('duckdb');
    // A run that fails with a long error (a URL and a JSON body, no spaces for 200 characters).
    const failed = await env.run('coincap.asset_history', { asset: LONG_ASSET, interval: 'h1', from: '2024-12-01', to: '2024-12-02' }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(failed?.message).toContain(`HTTP 404 from http://127.0.0.1`);
    await run(process.execPath, [BIN, 'models', 'run'], { cwd: env.dir, env: procEnv() });
    // Quality results, recorded as `coinlake check` records them.
    const session = await openWarehouse(env.warehouse);
    try {
      const checks: QualityCheck[] = [{ type: 'unique' }, { type: 'not_null', columns: ['id', 'symbol', 'price_usd'] }, { type: 'accepted_range', column: 'price_usd', gt: 0 }];
      await session.transaction(() => runChecks(session, findStream('coincap.assets').stream.table, { processId: null, now: new Date(), checks }));
    } finally {
      await session.close();
    }
    serve = await startServe(env.dir, procEnv());
    browser = await launchChromium();
    page = await newPage(browser, 1440, pageErrors);
  });
  afterAll(async () => {
    await browser?.close();
    await stopServe(serve);
    await env?.close();
  });

  it('draws every panel with data; the candle chart has a legend, pane titles, and the RSI pane at its height with 30/70 lines', async ({ annotate }) => {
    await page.goto(serve.url);
    await page.waitForSelector('body[data-state=ready]');
    await page.selectOption('#candle-series', 'binance|BTC-USDT|1m');
    await page.waitForFunction(() => {
      const c = (window as unknown as Win).coinlake.charts.candles;
      return c?.indicators === true && c.series[0]?.label === 'BTC-USDT 1m';
    });
    const drawn = await charts(page);
    for (const key of ['price', 'marketCap', 'supply', 'rank', 'share', 'volume', 'exchangeVolume', 'exchangeRank', 'candles']) {
      expect(drawn[key].series.length, key).toBeGreaterThan(0);
      for (const s of drawn[key].series) expect(s.points, `${key}: ${s.label}`).toBeGreaterThan(0);
    }
    for (const id of ['chart-price', 'chart-mcap', 'chart-supply', 'chart-rank', 'chart-share', 'chart-volume', 'chart-exchange-volume', 'chart-exchange-rank', 'chart-candles']) {
      expect(await page.locator(`#${id} canvas`).count(), id).toBeGreaterThan(0);
    }
    for (const id of ['asset-table', 'exchange-table', 'runs-table', 'freshness-table', 'quality-table']) {
      expect(await page.locator(`#${id} tbody tr td.muted`).count(), `${id} has rows`).toBe(0);
      expect(await page.locator(`#${id} tbody tr`).count(), id).toBeGreaterThan(0);
    }

    // Candles: every series of fact_indicators the page understands, 500 points each where the model has values.
    const c = drawn.candles;
    expect(c.series.map((s) => [s.label, s.pane])).toEqual([
      ['BTC-USDT 1m', 0],
      ['volume', 0],
      ['SMA', 0],
      ['EMA', 0],
      ['Bollinger upper', 0],
      ['Bollinger lower', 0],
      ['RSI (simple)', 1],
      ['RSI (Wilder)', 1],
      ['MACD', 2],
      ['MACD signal', 2],
      ['MACD histogram', 2],
    ]);
    for (const s of c.series) expect(s.points, s.label).toBeGreaterThan(400);
    expect(c.panes).toBe(3);

    // The legend names each line with its colour; the pane titles sit inside their panes.
    const legend = await page.locator('#candles-legend .legend-item').allInnerTexts();
    expect(legend).toEqual(['BTC-USDT 1m candles', 'volume', 'SMA', 'EMA', 'Bollinger bands', 'RSI (simple)', 'RSI (Wilder)', 'MACD', 'MACD signal', 'MACD histogram']);
    const titles = await page.evaluate(() => {
      const chart = (window as unknown as { coinlake: { charts: { candles: { instance: { panes(): { getHTMLElement(): HTMLElement }[] } } } } }).coinlake.charts.candles.instance;
      const panes = chart.panes().map((p) => p.getHTMLElement().getBoundingClientRect());
      return [...document.querySelectorAll('#chart-candles .pane-title')].map((t, i) => {
        const r = t.getBoundingClientRect();
        const p = panes[i];
        return { text: (t as HTMLElement).innerText, inside: r.top >= p.top && r.bottom <= p.bottom && r.left >= p.left && r.right <= p.right };
      });
    });
    expect(titles).toEqual([
      { text: 'Price — candles, volume, SMA, EMA, Bollinger bands', inside: true },
      { text: 'RSI (0–100) — 30 oversold, 70 overbought', inside: true },
      { text: 'MACD — line, signal, histogram', inside: true },
    ]);

    // RSI: at least its intended 140 px, on a 0–100 scale with its 30 and 70 lines in view.
    const rsi = await page.evaluate(() => {
      const inst = (
        window as unknown as {
          coinlake: { charts: { candles: { instance: { panes(): { getHeight(): number; getSeries(): { priceLines(): { options(): { price: number } }[]; priceToCoordinate(p: number): number | null }[] }[] } } } };
        }
      ).coinlake.charts.candles.instance;
      const pane = inst.panes()[1];
      const series = pane.getSeries()[0];
      return {
        height: pane.getHeight(),
        lines: series.priceLines().map((l) => l.options().price),
        y30: series.priceToCoordinate(30),
        y70: series.priceToCoordinate(70),
      };
    });
    expect(rsi.height).toBeGreaterThanOrEqual(140);
    expect(rsi.lines).toEqual([70, 30]);
    expect(rsi.y70).toBeGreaterThan(0);
    expect(rsi.y30).toBeLessThan(rsi.height);
    expect(rsi.y30! - rsi.y70!).toBeGreaterThan(40);
    expect(await page.locator('#indicators-note').isVisible()).toBe(false);
    const shot = path.join(ARTIFACTS, 'dashboard-candles.png');
    await page.locator('#candles').screenshot({ path: shot });
    await annotate(`screenshot: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  for (const width of [1440, 1024]) {
    it(`at ${width} px wide nothing overflows the page sideways, with a long error in the runs table`, async ({ annotate }) => {
      await page.setViewportSize({ width, height: 1000 });
      await page.waitForFunction((w) => window.innerWidth === w, width);
      // Charts follow the width on resize; give the page a frame to lay out.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const errCell = page.locator('#runs-table td.err', { hasText: LONG_ASSET });
      expect(await errCell.count()).toBe(1);
      const w = await widths(page);
      expect(w.inner).toBe(width);
      expect(w.scroll, `document.scrollWidth at ${width}`).toBeLessThanOrEqual(w.inner);
      expect(w.body, `body.scrollWidth at ${width}`).toBeLessThanOrEqual(w.inner);
      // The error wraps (at most 480 px wide, several lines); its table fits its panel or scrolls inside it.
      const wrap = page.locator('.table-wrap', { has: page.locator('#runs-table') });
      const [cell, box, panel] = await Promise.all([errCell.boundingBox(), wrap.boundingBox(), page.locator('#health').boundingBox()]);
      expect(cell!.width).toBeLessThanOrEqual(481);
      expect(cell!.height).toBeGreaterThan(60);
      expect(box!.x + box!.width).toBeLessThanOrEqual(panel!.x + panel!.width);
      const fit = await wrap.evaluate((w) => ({ table: w.scrollWidth, shown: w.clientWidth, overflowX: getComputedStyle(w).overflowX }));
      if (fit.table > fit.shown) expect(fit.overflowX).toBe('auto');
      await annotate(`runs table at ${width} px: ${fit.table} px wide in ${fit.shown} px (${fit.table > fit.shown ? 'scrolls inside its panel' : 'fits'})`);
      const shot = path.join(ARTIFACTS, `dashboard-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      await annotate(`screenshot: ${shot}`);
      expect(pageErrors).toEqual([]);
    });
  }

  it('a series whose indicators the models have not computed yet names the command that does', async ({ annotate }) => {
    await page.setViewportSize({ width: 1440, height: 1000 });
    const before = await page.evaluate(() => (window as unknown as Win).coinlake.renders);
    // Loaded live after the models ran: fact_indicators exists, without rows for this series.
    await run(process.execPath, [BIN, '--replay', 'run', 'binance.klines', '--asset', 'ETHUSDT', '--interval', '1m', '--from', '2024-12-30', '--to', '2024-12-31'], {
      cwd: env.dir,
      env: procEnv(),
    });
    await page.waitForFunction((n) => (window as unknown as Win).coinlake.renders > n, before, { timeout: 15_000 });
    await page.waitForSelector('#candle-series option[value="binance|ETH-USDT|1m"]', { state: 'attached' });
    const api = (await (await fetch(`${serve.url}/api/candles?exchange=binance&symbol=ETH-USDT&interval=1m&limit=500`)).json()) as {
      t: number[];
      indicators: { available: boolean; overlay: Record<string, unknown[]>; rsi: Record<string, unknown[]>; macd: Record<string, unknown[]> };
    };
    expect(api.t.length).toBe(500);
    expect(api.indicators.available).toBe(true);
    const values = [api.indicators.overlay, api.indicators.rsi, api.indicators.macd].flatMap((g) => Object.values(g).flat());
    expect(values.length).toBe(9 * 500);
    expect(values.every((v) => v === null)).toBe(true);

    await page.selectOption('#candle-series', 'binance|ETH-USDT|1m');
    await page.waitForFunction(() => (window as unknown as Win).coinlake.charts.candles.series[0]?.label === 'ETH-USDT 1m');
    expect(await page.locator('#indicators-note').innerText()).toBe(
      'No indicators for binance · ETH-USDT · 1m yet: the analytics models have not computed them for these candles. Compute them: coinlake models run',
    );
    const c = (await charts(page)).candles;
    expect(c.series.map((s) => s.label)).toEqual(['ETH-USDT 1m', 'volume']);
    expect(c.panes).toBe(1);
    expect(await page.locator('#candles-legend .legend-item').allInnerTexts()).toEqual(['ETH-USDT 1m candles', 'volume']);
    const shot = path.join(ARTIFACTS, 'dashboard-no-indicators.png');
    await page.locator('#candles').screenshot({ path: shot });
    await annotate(`screenshot: ${shot}`);

    // The models run (handed over to serve) computes them, and the page draws them.
    await run(process.execPath, [BIN, 'models', 'run'], { cwd: env.dir, env: procEnv() });
    await page.waitForFunction(() => (window as unknown as Win).coinlake.charts.candles.indicators === true, undefined, { timeout: 15_000 });
    expect(await page.locator('#indicators-note').isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
  });

  it('a page opened on an empty warehouse picks its assets, exchanges and candles when data arrives live', async ({ annotate }) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-empty-live-'));
    const wenv = procEnv(path.join(dir, 'warehouse.duckdb'), path.join(dir, 'lake'));
    const empty = await startServe(dir, wenv);
    const p = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    const cli = (...args: string[]) => run(process.execPath, [BIN, '--replay', 'run', ...args], { cwd: dir, env: wenv });
    const renders = () => p.evaluate(() => (window as unknown as Win).coinlake.renders);
    try {
      await p.goto(empty.url);
      await p.waitForSelector('body[data-state=ready]');
      expect(await p.locator('#empty').isVisible()).toBe(true);
      expect(await p.evaluate(() => (window as unknown as Win).coinlake.selectedAssets)).toEqual([]);
      expect(await p.locator('#chart-price .nodata').innerText()).toBe('no assets loaded yet');

      // Snapshots first: the top three by rank are picked (no history yet).
      let n = await renders();
      await cli('coincap.assets');
      await p.waitForFunction((k) => (window as unknown as Win).coinlake.renders > k, n, { timeout: 15_000 });
      await p.waitForFunction(() => ((window as unknown as Win).coinlake.selectedAssets ?? []).length === 3);
      expect(await p.evaluate(() => (window as unknown as Win).coinlake.selectedAssets)).toEqual(['bitcoin', 'ethereum', 'tether']);
      expect(await p.locator('#asset-chips .chip').count()).toBe(3);
      expect(await p.locator('#empty').isVisible()).toBe(false);

      // Then a price history: the page, still on its defaults, shows the asset that has one.
      n = await renders();
      await cli('coincap.asset_history', '--asset', 'bitcoin', '--interval', 'h1', '--from', '2024-12-01', '--to', '2025-01-01');
      await p.waitForFunction((k) => (window as unknown as Win).coinlake.renders > k, n, { timeout: 15_000 });
      await p.waitForFunction(() => (window as unknown as Win).coinlake.charts.price.series.length > 0);
      expect((await charts(p)).price.series).toEqual([{ label: 'bitcoin', points: 744 }]);

      n = await renders();
      await cli('coincap.exchanges');
      await p.waitForFunction((k) => (window as unknown as Win).coinlake.renders > k, n, { timeout: 15_000 });
      await p.waitForFunction(() => (window as unknown as Win).coinlake.charts.exchangeRank.series.length === 3);
      expect((await charts(p)).exchangeRank.series.map((s) => s.label)).toEqual(['binance', 'crypto', 'digifinex']);

      n = await renders();
      await cli('binance.klines', '--asset', 'BTCUSDT', '--interval', '1m', '--from', '2024-12-30', '--to', '2024-12-31');
      await p.waitForFunction((k) => (window as unknown as Win).coinlake.renders > k, n, { timeout: 15_000 });
      await p.waitForFunction(() => (window as unknown as Win).coinlake.charts.candles.series.length > 0);
      expect((await charts(p)).candles.series).toEqual([
        { label: 'BTC-USDT 1m', pane: 0, points: 500 },
        { label: 'volume', pane: 0, points: 500 },
      ]);
      expect(await p.locator('#indicators-note').innerText()).toMatch(/^Indicators hidden .*fact_indicators.*\. Compute them: coinlake models run$/);

      // A choice the user makes is kept: removing every asset leaves none, and later data does not re-pick.
      await p.click('[data-asset=bitcoin] button');
      await p.waitForFunction(() => ((window as unknown as Win).coinlake.selectedAssets ?? []).length === 0);
      n = await renders();
      await cli('coincap.asset_history', '--asset', 'ethereum', '--interval', 'h1', '--from', '2024-12-01', '--to', '2025-01-01');
      await p.waitForFunction((k) => (window as unknown as Win).coinlake.renders > k, n, { timeout: 15_000 });
      expect(await p.evaluate(() => (window as unknown as Win).coinlake.selectedAssets)).toEqual([]);
      expect(await p.locator('#chart-price .nodata').innerText()).toBe('choose an asset');

      const shot = path.join(ARTIFACTS, 'dashboard-empty-then-live.png');
      await p.screenshot({ path: shot, fullPage: true });
      await annotate(`screenshot: ${shot}`);
      expect(errors).toEqual([]);
    } finally {
      await p.close();
      await stopServe(empty);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
