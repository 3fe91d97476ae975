// Chromium for the dashboard's browser tests: Debian's /usr/bin/chromium driven by playwright-core (never
// `npx playwright install`; .ci/run installs the package), a page that records its errors, and what the page drew.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Headless Chromium with nothing running in the background. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A page of `width` × 1000 px whose uncaught errors and console errors go into `errors`. */
export async function newPage(browser: Browser, width: number, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 1000 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

/** What each chart drew, as the page registers it in window.coinlake.charts (without the chart instances). */
export type DrawnCharts = Record<string, { series: { label: string; points: number; pane?: number }[]; empty?: boolean; panes?: number; indicators?: boolean } & Record<string, unknown>>;
export const drawnCharts = (page: Page) =>
  page.evaluate(() =>
    Object.fromEntries(
      Object.entries((window as unknown as { coinlake: { charts: Record<string, Record<string, unknown>> } }).coinlake.charts).map(([k, v]) => [
        k,
        Object.fromEntries(Object.entries(v).filter(([f]) => f !== 'instance')),
      ]),
    ),
  ) as Promise<DrawnCharts>;

/** The page's widths: document, body and viewport. */
export const pageWidths = (page: Page) => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: window.innerWidth }));
