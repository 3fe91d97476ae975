// The page and its files, without a build step: `/` is web/index.html, `/app/<file>` the page's own ES modules and
// CSS from web/, and `/vendor/<file>` the chart libraries' ready-made ES module builds, read from node_modules
// through explicit routes (no directory is served as a whole).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Library files the page imports, by the name it uses: package and file inside it. */
const VENDOR: Record<string, { pkg: string; file: string }> = {
  'lightweight-charts.mjs': { pkg: 'lightweight-charts', file: 'dist/lightweight-charts.standalone.production.mjs' },
  'uplot.mjs': { pkg: 'uplot', file: 'dist/uPlot.esm.js' },
  'uplot.css': { pkg: 'uplot', file: 'dist/uPlot.min.css' },
};

/** Scripts only from this server; inline styles allowed because both chart libraries size their canvases with them. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function vendorPath(name: string): string {
  const v = VENDOR[name];
  return path.join(path.dirname(require.resolve(`${v.pkg}/package.json`)), v.file);
}

/** The page's routes: `/`, `/app/*` and `/vendor/*`. */
export function webRoutes(): Hono {
  const app = new Hono();
  const own = new Set(readdirSync(WEB_DIR).filter((f) => /^[a-z0-9-]+\.(html|js|css)$/.test(f)));
  const send = async (file: string, cache: string): Promise<Response> =>
    new Response(await readFile(file), {
      headers: { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': cache, 'x-content-type-options': 'nosniff' },
    });

  app.get('/', async () => {
    const res = await send(path.join(WEB_DIR, 'index.html'), 'no-store');
    res.headers.set('content-security-policy', CSP);
    return res;
  });
  app.get('/app/:file', async (c) => {
    const file = c.req.param('file');
    if (!own.has(file) || file.endsWith('.html')) return c.notFound();
    return send(path.join(WEB_DIR, file), 'no-cache');
  });
  app.get('/vendor/:file', async (c) => {
    const file = c.req.param('file');
    if (!Object.hasOwn(VENDOR, file)) return c.notFound();
    return send(vendorPath(file), 'max-age=3600');
  });
  app.get('/favicon.ico', (c) => c.body(null, 204));
  return app;
}
