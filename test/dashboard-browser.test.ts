// The dashboard in a real browser (Debian's Chromium driven by playwright-core): `coinlake serve` runs as its own
// process on a warehouse filled with the demo data; the page must draw every chart with the expected series and
// point counts, redraw when another asset is chosen, update live when `coinlake run` in another process hands a job
// to the server, and show the empty state on an empty warehouse. Screenshots go to os.tmpdir().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOAD_COMMANDS } from '../src/server/overview-queries.ts';
import { startServeServer } from '../src/server/serve-server.ts';
import { hasChromium, launchChromium, newPage } from './helpers/chromium-page.ts';
import { dashboardEnv, type DashboardEnv } from './helpers/dashboard-env.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const run = promisify(execFile);

/** What a chart drew, as the page registers it (labels and non-null point counts read from the chart instances). */
type Drawn = Record<string, { series: { label: string; points: number; pane?: number }[]; empty?: boolean; panes?: number; indicators?: boolean }>;
const drawn = (page: Page) =>
  page.evaluate(() =>
    Object.fromEntries(
      Object.entries((window as unknown as { coinlake: { charts: Record<string, Record<string, unknown>> } }).coinlake.charts).map(([k, v]) => [
        k,
        { series: v.series, empty: v.empty, panes: v.panes, indicators: v.indicators },
      ]),
    ),
  ) as Promise<Drawn>;

/** Starts `coinlake serve --port 0` as its own process and resolves with its URL once it listens. */
function startServeProcess(cwd: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--poll-ms', '500'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coinlake serve did not start: ${out}${err}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /dashboard on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => err });
      }
    });
    child.on('exit', (code) => reject(new Error(`coinlake serve exited with ${code}: ${out}${err}`)));
  });
}

describe.skipIf(!hasChromium)('dashboard in Chromium (skipped only when /usr/bin/chromium is missing; .ci/run installs it)', () => {
  let env: DashboardEnv;
  let serve: { child: ChildProcess; url: string; stderr: () => string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const procEnv = () => ({ ...process.env, COINLAKE_WAREHOUSE: env.warehouse, COINLAKE_LAKE: env.lakeDir, COINLAKE_REPLAY: '', COINCAP_API_KEY: '' });

  beforeAll(async () => {
    env = await dashboardEnv('duckdb');
    serve = await startServeProcess(env.dir, procEnv());
    browser = await launchChromium();
    page = await newPage(browser, 1400, pageErrors);
  });
  afterAll(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) {
      const exited = new Promise((resolve) => serve.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      await exited;
    }
    await env?.close();
  });

  it('loads the page and draws every chart with the demo data', async ({ annotate }) => {
    await page.goto(serve.url);
    await page.waitForSelector('body[data-state=ready]');
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live');
    for (const id of ['chart-price', 'chart-mcap', 'chart-supply', 'chart-rank', 'chart-share', 'chart-volume', 'chart-exchange-volume', 'chart-exchange-rank', 'chart-candles']) {
      expect(await page.locator(`#${id} canvas`).count(), id).toBeGreaterThan(0);
    }
    const charts = await drawn(page);
    const h1 = (label: string) => ({ label, points: 744 });
    expect(charts.price.series).toEqual([h1('bitcoin'), h1('ethereum')]);
    expect(charts.marketCap.series).toEqual([h1('bitcoin'), h1('ethereum')]);
    expect(charts.supply.series).toEqual([h1('bitcoin supply'), h1('bitcoin max'), h1('ethereum supply')]);
    expect(charts.rank.series).toEqual([{ label: 'bitcoin', points: 1 }, { label: 'ethereum', points: 1 }]);
    expect(charts.share.series).toEqual([{ label: 'share of total volume', points: 11 }]);
    expect(charts.volume.series).toEqual([{ label: 'volume USD', points: 10 }]);
    expect(charts.exchangeVolume.series).toEqual([{ label: 'binance', points: 1 }, { label: 'crypto', points: 1 }, { label: 'digifinex', points: 1 }]);
    expect(charts.exchangeRank.series.map((s) => s.label)).toEqual(['binance', 'crypto', 'digifinex']);
    expect(charts.candles).toEqual({ series: [{ label: 'BTC-USDT 1m', pane: 0, points: 500 }, { label: 'volume', pane: 0, points: 500 }], panes: 1, indicators: false });

    await expect.poll(() => page.locator('#runs-table tbody tr').count()).toBe(7);
    const runsText = await page.locator('#runs-table').innerText();
    for (const r of env.runs) expect(runsText).toContain(r.runId);
    expect(await page.locator('#asset-table').innerText()).toMatch(/BTC · Bitcoin\s+96,415\.27/);
    expect(await page.locator('#asset-add option[value=solana]').count()).toBe(1);
    expect(await page.locator('#candle-series').innerText()).toContain('binance · BTC-USDT · 1m');
    expect(await page.locator('#indicators-note').isVisible()).toBe(true);
    expect(await page.locator('#indicators-note').innerText()).toMatch(/^Indicators hidden .*fact_indicators/);
    expect(await page.locator('#empty').isVisible()).toBe(false);
    expect(await page.locator('#freshness-table').innerText()).toContain('coincap_asset_history');

    const shot = path.join(os.tmpdir(), 'coinlake-dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    await annotate(`screenshot: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('choosing another asset redraws the asset charts and table', async () => {
    const before = await page.evaluate(() => (window as unknown as { coinlake: { renders: number } }).coinlake.renders);
    await page.selectOption('#asset-add', 'solana');
    await page.waitForFunction(() => (window as unknown as { coinlake: { charts: Record<string, { series: unknown[] }> } }).coinlake.charts.rank.series.length === 3);
    const charts = await drawn(page);
    expect(charts.rank.series).toEqual([{ label: 'bitcoin', points: 1 }, { label: 'ethereum', points: 1 }, { label: 'solana', points: 1 }]);
    expect(charts.price.series.map((s) => s.label)).toEqual(['bitcoin', 'ethereum']);
    expect(await page.locator('#asset-table tbody tr').count()).toBe(3);
    expect(await page.locator('[data-missing-history=solana]').innerText()).toContain('--asset solana');
    // A choice redraws the asset panel only; the page as a whole was not reloaded.
    expect(await page.evaluate(() => (window as unknown as { coinlake: { renders: number } }).coinlake.renders)).toBe(before);

    await page.click('[data-asset=ethereum] button');
    await page.waitForFunction(() => (window as unknown as { coinlake: { charts: Record<string, { series: unknown[] }> } }).coinlake.charts.price.series.length === 1);
    expect((await drawn(page)).price.series).toEqual([{ label: 'bitcoin', points: 744 }]);
    expect(pageErrors).toEqual([]);
  });

  it('a job run by `coinlake run` in another process is handed to the server and updates the page live', async ({ annotate }) => {
    const before = await page.evaluate(() => (window as unknown as { coinlake: { renders: number } }).coinlake.renders);
    const r = await run(process.execPath, [BIN, '--replay', 'run', 'coincap.asset_history', '--asset', 'solana', '--interval', 'h1', '--from', '2024-12-01', '--to', '2025-01-01'], {
      cwd: env.dir,
      env: procEnv(),
    });
    expect(r.stderr).toContain('the job runs there');
    const runId = /— run (\S+) \(process 8\)$/m.exec(r.stdout)?.[1];
    expect(r.stdout).toMatch(/^coincap\.asset_history: 744 rows into coinlake\.coincap_asset_history/);
    expect(runId).toBeDefined();

    await page.waitForSelector(`#event-log li[data-run="${runId}"][data-status=ok]`, { timeout: 10_000 });
    await page.waitForFunction((n) => (window as unknown as { coinlake: { renders: number } }).coinlake.renders > n, before);
    await page.waitForFunction(() => (window as unknown as { coinlake: { charts: Record<string, { series: unknown[] }> } }).coinlake.charts.price.series.length === 2);
    expect((await drawn(page)).price.series).toEqual([{ label: 'bitcoin', points: 744 }, { label: 'solana', points: 744 }]);
    expect(await page.locator('[data-missing-history=solana]').count()).toBe(0);
    await expect.poll(() => page.locator('#runs-table tbody tr').first().innerText(), { timeout: 10_000 }).toContain(runId!);
    const events = await page.evaluate(() => (window as unknown as { coinlake: { events: { runId: string; status: string }[] } }).coinlake.events);
    expect(events.filter((e) => e.runId === runId).at(-1)?.status).toBe('ok');

    const shot = path.join(os.tmpdir(), 'coinlake-dashboard-live-update.png');
    await page.screenshot({ path: shot, fullPage: true });
    await annotate(`screenshot after the live update: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('`coinlake import cdd` and `coinlake models run` in another process run in the server: their usual output, and the page updates live', async ({ annotate }) => {
    await mkdir(path.join(env.dir, 'data'), { recursive: true });
    await copyFile(path.resolve('test/fixtures/cdd/current/Binance_BTCUSDT_minute.csv'), path.join(env.dir, 'data/Binance_BTCUSDT_minute.csv'));
    const header = `coinlake serve (pid ${serve.child.pid}, ${serve.url}) holds ${env.warehouse}: the job runs there (lake ${env.lakeDir})\n`;
    const rendersBefore = await page.evaluate(() => (window as unknown as { coinlake: { renders: number } }).coinlake.renders);

    const imp = await run(process.execPath, [BIN, 'import', 'cdd', 'data/Binance_BTCUSDT_minute.csv'], { cwd: env.dir, env: procEnv() });
    expect(imp.stderr).toBe(header);
    expect(imp.stdout).toMatch(
      /^data\/Binance_BTCUSDT_minute\.csv: 10 lines \(current header\), 10 candles into coinlake\.ohlcv_1m \(10 inserted, 0 updated\), 0 quarantined\nimport cdd: 1 file\(s\), 10 candles \(10 inserted, 0 updated\), 0 quarantined in \d+\.\d s \([\d,]+ lines\/s\) — run (\S+) \(process 9\)\n {2}gaps: binance BTC-USDT 1m: 10 expected, 10 present, 0 missing\n$/,
    );
    const runId = /— run (\S+) \(process 9\)/.exec(imp.stdout)![1];
    await page.waitForSelector(`#event-log li[data-run="${runId}"][data-status=ok]`, { timeout: 10_000 });
    await page.waitForSelector('#event-log li[data-command="import"][data-exit="0"]', { timeout: 10_000 });
    await page.waitForFunction((n) => (window as unknown as { coinlake: { renders: number } }).coinlake.renders > n, rendersBefore);
    // A render that began before the run committed may count as the one awaited above: wait for the row itself.
    await expect.poll(() => page.locator('#runs-table tbody tr').first().innerText(), { timeout: 10_000 }).toContain(runId);

    // The indicators are hidden until the models are built; built by a handed-over `models run`, the page shows them.
    expect(await page.locator('#indicators-note').isVisible()).toBe(true);
    const models = await run(process.execPath, [BIN, 'models', 'run'], { cwd: env.dir, env: procEnv() });
    expect(models.stderr).toBe(header);
    expect(models.stdout).toMatch(/^models run model-[0-9a-f]{12}\nmodel +rows_written +ms +how\n/);
    await page.waitForSelector('#event-log li[data-command="models run"][data-exit="0"]', { timeout: 10_000 });
    await page.waitForFunction(() => (window as unknown as { coinlake: { charts: Record<string, { indicators?: boolean }> } }).coinlake.charts.candles.indicators === true, undefined, {
      timeout: 10_000,
    });
    expect(await page.locator('#indicators-note').isVisible()).toBe(false);
    const events = await page.evaluate(() => (window as unknown as { coinlake: { events: { type: string; command?: string; exitCode?: number }[] } }).coinlake.events);
    expect(events.filter((e) => e.type === 'command')).toEqual([
      { type: 'command', command: 'run', exitCode: 0 },
      { type: 'command', command: 'import', exitCode: 0 },
      { type: 'command', command: 'models run', exitCode: 0 },
    ]);

    const shot = path.join(os.tmpdir(), 'coinlake-dashboard-handed-over.png');
    await page.screenshot({ path: shot, fullPage: true });
    await annotate(`screenshot after import cdd and models run: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('an empty warehouse shows the empty state with the commands that load data', async ({ annotate }) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-empty-'));
    const server = await startServeServer({ warehouse: path.join(dir, 'coinlake.duckdb'), lake: path.join(dir, 'lake'), port: 0 });
    const empty = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    empty.on('pageerror', (e) => errors.push(e.message));
    try {
      await empty.goto(server.url);
      await empty.waitForSelector('body[data-state=ready]');
      expect(await empty.locator('#empty').isVisible()).toBe(true);
      expect(await empty.locator('#empty-commands').innerText()).toBe(LOAD_COMMANDS.join('\n'));
      expect(await empty.locator('#assets-note').innerText()).toContain('npx coinlake --replay run coincap.assets');
      expect(await empty.locator('#candles-note').innerText()).toContain('binance.klines');
      expect(await empty.locator('#runs-table').innerText()).toContain('no runs yet');
      const charts = await drawn(empty);
      expect(charts.price.series).toEqual([]);
      expect(charts.candles.empty).toBe(true);
      const shot = path.join(os.tmpdir(), 'coinlake-dashboard-empty.png');
      await empty.screenshot({ path: shot, fullPage: true });
      await annotate(`screenshot of the empty state: ${shot}`);
      expect(errors).toEqual([]);
    } finally {
      await empty.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('coinlake serve stops cleanly on SIGTERM and gives the file back', async () => {
    const exited = new Promise<number | null>((resolve) => serve.child.once('exit', resolve));
    serve.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(serve.stderr()).toBe('');
    expect(existsSync(`${env.warehouse}.serve.json`)).toBe(false);
    const r = await run(process.execPath, [BIN, 'status', '-n', '1'], { cwd: env.dir, env: procEnv() });
    expect(r.stdout).toMatch(/^process\s+run_id/);
  });
});
