// The divergence panel (#25) in a real browser (Debian's Chromium via playwright-core) against the dashboard server on
// a DuckDB warehouse whose fact_price_divergence the real model built from three venues' crafted minutes: the page
// picks the pair with the most venues, draws each venue's price with the median, the spread and the deviations (series
// labels and point counts as the charts hold them), and lists the alert episodes; choosing another pair or other
// thresholds redraws it; a warehouse without the model shows why. Screenshots go to os.tmpdir().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../src/destinations/registry.ts';
import { runModels } from '../src/models/run-models.ts';
import { startServeServer, type ServeServer } from '../src/server/serve-server.ts';
import { drawnCharts, hasChromium, launchChromium, newPage } from './helpers/chromium-page.ts';
import { divergenceCandles } from './helpers/dashboard-env.ts';
import { insertCandles } from './models-reference.ts';

type Win = { coinlake: { charts: Record<string, { series: { label: string; points: number }[]; empty?: boolean }>; divergence?: { symbol: string; grain: string; alerts: number } } };
type Alert = { exchange: string; from: string; to: string; length: number; maxAbsBps: number; open: boolean };

/** An alert row as the page's table shows it (cells joined by tabs, as innerText gives them). */
const rowText = (a: Alert) => [a.exchange, `${a.from.slice(0, 10)} ${a.from.slice(11, 19)}`, `${a.to.slice(0, 10)} ${a.to.slice(11, 19)}`, String(a.length), `${a.maxAbsBps.toFixed(1)} bps`, a.open ? 'open' : 'closed'].join('\t');

/** Waits until the page drew the divergence of `key` (`symbol|grain`) with `alerts` rows. */
const drewPair = (page: Page, symbol: string, grain: string) =>
  page.waitForFunction(([s, g]) => {
    const d = (window as unknown as Win).coinlake.divergence;
    return d?.symbol === s && d.grain === g;
  }, [symbol, grain]);

describe.skipIf(!hasChromium)('divergence panel in Chromium (skipped only when /usr/bin/chromium is missing; .ci/run installs it)', () => {
  let dir: string;
  let server: ServeServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-divergence-browser-'));
    const warehouse = path.join(dir, 'coinlake.duckdb');
    const session = await openWarehouse(warehouse);
    try {
      await insertCandles(session, divergenceCandles(), 'test-load-1');
      await runModels(session, { select: ['+fact_price_divergence'] });
    } finally {
      await session.close();
    }
    server = await startServeServer({ warehouse, lake: path.join(dir, 'lake'), port: 0, onError: () => {} });
    browser = await launchChromium();
    page = await newPage(browser, 1400, pageErrors);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = async (q: string) => (await (await fetch(`${server.url}/api/divergence?${q}`)).json()) as { alerts: Alert[] };

  it('draws the venues with the median, the spread and the deviations of the pair with most venues, and lists its alerts', async ({ annotate }) => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-state=ready]');
    await drewPair(page, 'BTC-USDT', '1m');
    expect(await page.locator('#divergence-pair').inputValue()).toBe('BTC-USDT|1m');
    expect(await page.locator('#divergence-pair option').allInnerTexts()).toEqual([
      'BTC-USDT · 1h (3 venues, 1 hour, 2024-03-01 10:00 → 2024-03-01 10:00)',
      'BTC-USDT · 1m (3 venues, 60 minutes, 2024-03-01 10:00 → 2024-03-01 10:59)',
      'ETH-USDT · 1h (1 venue, 1 hour, 2024-03-01 10:00 → 2024-03-01 10:00)',
      'ETH-USDT · 1m (1 venue, 10 minutes, 2024-03-01 10:00 → 2024-03-01 10:09)',
    ]);
    const charts = await drawnCharts(page);
    const p = (label: string, points: number) => ({ label, points });
    expect(charts.divergencePrice.series).toEqual([p('binance', 60), p('kraken', 60), p('okx', 59), p('median', 60)]);
    expect(charts.divergenceSpread.series).toEqual([p('spread (bps)', 60)]);
    expect(charts.divergenceDeviation.series).toEqual([p('binance', 60), p('kraken', 60), p('okx', 59), p('+50 bps', 60), p('−50 bps', 60)]);
    for (const id of ['chart-divergence-price', 'chart-divergence-spread', 'chart-divergence-deviation']) expect(await page.locator(`#${id} canvas`).count(), id).toBe(1);

    const { alerts } = await api('symbol=BTC-USDT&grain=1m');
    expect(alerts.map((a) => [a.exchange, a.length, a.open])).toEqual([['binance', 6, true], ['kraken', 7, false]]);
    expect(await page.locator('#divergence-table tbody tr').allInnerTexts()).toEqual(alerts.map(rowText));
    expect(await page.locator('#divergence-table thead th').allInnerTexts()).toEqual(['venue', 'from (UTC)', 'to (UTC)', 'length (minutes)', 'max |deviation|', 'state']);
    expect(await page.locator('#divergence-table .status.open').count()).toBe(1);
    expect(await page.locator('#divergence-rule').innerText()).toBe(
      "Alerts: a venue more than 50 bps from the median for at least 5 consecutive minutes; open while the episode reaches the pair's latest minute (2024-03-01 10:59:00 UTC).",
    );
    expect(await page.locator('#divergence-note').isVisible()).toBe(false);

    const shot = path.join(os.tmpdir(), 'coinlake-dashboard-divergence.png');
    await page.locator('#divergence').screenshot({ path: shot });
    await annotate(`screenshot of the divergence panel: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('other thresholds and another pair redraw the panel', async () => {
    await page.fill('#divergence-bps', '60');
    await page.fill('#divergence-run', '4');
    await page.locator('#divergence-run').dispatchEvent('change');
    await expect.poll(() => page.locator('#divergence-table tbody tr').count()).toBe(3);
    const { alerts } = await api('symbol=BTC-USDT&grain=1m&max_bps=60&consecutive=4');
    expect(alerts.map((a) => [a.exchange, a.length])).toEqual([['binance', 6], ['okx', 4], ['kraken', 7]]);
    expect(await page.locator('#divergence-table tbody tr').allInnerTexts()).toEqual(alerts.map(rowText));
    expect((await drawnCharts(page)).divergenceDeviation.series.slice(3).map((s) => s.label)).toEqual(['+60 bps', '−60 bps']);

    await page.selectOption('#divergence-pair', 'ETH-USDT|1m');
    await drewPair(page, 'ETH-USDT', '1m');
    const charts = await drawnCharts(page);
    expect(charts.divergencePrice.series).toEqual([{ label: 'binance', points: 10 }, { label: 'median', points: 10 }]);
    expect(charts.divergenceSpread.series).toEqual([{ label: 'spread (bps)', points: 10 }]);
    expect(await page.locator('#divergence-table tbody tr').allInnerTexts()).toEqual(['no venue was more than 60 bps off for 4 minutes in a row']);

    await page.selectOption('#divergence-pair', 'BTC-USDT|1h');
    await drewPair(page, 'BTC-USDT', '1h');
    expect((await drawnCharts(page)).divergencePrice.series).toEqual([{ label: 'binance', points: 1 }, { label: 'kraken', points: 1 }, { label: 'okx', points: 1 }, { label: 'median', points: 1 }]);
    expect(await page.locator('#divergence-table thead').innerText()).toContain('length (hours)');
    expect(pageErrors).toEqual([]);
  });

  it('a warehouse without fact_price_divergence shows why and which command builds it', async ({ annotate }) => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'coinlake-divergence-empty-'));
    const srv = await startServeServer({ warehouse: path.join(other, 'coinlake.duckdb'), lake: path.join(other, 'lake'), port: 0, onError: () => {} });
    const errors: string[] = [];
    const empty = await newPage(browser, 1400, errors);
    try {
      await empty.goto(srv.url);
      await empty.waitForSelector('body[data-state=ready]');
      expect(await empty.locator('#divergence-note').innerText()).toMatch(/^coinlake\.fact_price_divergence has not been built in this warehouse: run `coinlake models run`/);
      const charts = await drawnCharts(empty);
      for (const key of ['divergencePrice', 'divergenceSpread', 'divergenceDeviation']) expect(charts[key], key).toEqual({ kind: 'uplot', series: [], empty: true });
      expect(await empty.locator('#chart-divergence-price .nodata').innerText()).toBe('fact_price_divergence not built');
      expect(await empty.locator('#divergence-table tbody').innerText()).toBe('no alerts: nothing to compare yet');
      const shot = path.join(os.tmpdir(), 'coinlake-dashboard-divergence-empty.png');
      await empty.locator('#divergence').screenshot({ path: shot });
      await annotate(`screenshot of the empty divergence panel: ${shot}`);
      expect(errors).toEqual([]);
    } finally {
      await empty.close();
      await srv.close();
      await rm(other, { recursive: true, force: true });
    }
  });
});
