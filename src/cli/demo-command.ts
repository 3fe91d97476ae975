// `coinlake demo`: the whole platform offline — every keyless source from the replay server (CoinCap, CoinLore, Binance
// klines, an ERC-20 range from the in-process chain), a CryptoDataDownload file through `import cdd`'s code, the
// models, the quality checks, a summary of what landed where, then the dashboard until Ctrl-C (`--no-serve` skips it).
import path from 'node:path';
import type { Command } from 'commander';
import { clientTableReference } from '../destinations/registry.ts';
import { ConfigError } from '../core/errors.ts';
import type { QualityCheck } from '../core/quality-check.ts';
import { runChecks } from '../quality/run-checks.ts';
import { runModels } from '../models/run-models.ts';
import { importFiles } from '../runner/file-import.ts';
import { buildJob } from '../runner/job-builder.ts';
import { runJob } from '../runner/run-job.ts';
import { writeDemoCddFile } from '../sources/cryptodatadownload/cdd-demo-file.ts';
import { findFileFormat } from '../sources/file-format-registry.ts';
import { findStream } from '../sources/registry.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { demoLanded, serveUntilStopped, type DemoLoad } from './demo-summary.ts';
import { formatTable } from './format-table.ts';
import { replayEndpoints } from './replay-endpoints.ts';
import { summaryLine } from './run-command.ts';
import { servedCommand } from './served-context.ts';

/** A job of the demo: its name, its options as `coinlake run` takes them, and stream params (`--exchange`). */
export interface DemoJob {
  name: string;
  opts: Record<string, string>;
  params?: Record<string, string>;
}

/** Every CoinCap stream, history over December 2024 (the generated series end at the recorded snapshot's values). */
export const DEMO_JOBS: DemoJob[] = [
  { name: 'coincap.assets', opts: {} },
  { name: 'coincap.exchanges', opts: {} },
  { name: 'coincap.rates', opts: {} },
  { name: 'coincap.markets', opts: {} },
  { name: 'coincap.asset_history', opts: { asset: 'bitcoin', interval: 'h1', from: '2024-12-01', to: '2025-01-01' } },
  { name: 'coincap.asset_history', opts: { asset: 'ethereum', interval: 'h1', from: '2024-12-01', to: '2025-01-01' } },
];

/** The Binance minute candles of the demo: three symbols over three days. */
export const DEMO_KLINES = { symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], interval: '1m', from: '2024-12-28', to: '2024-12-31' } as const;

/** ccxt's OHLCV of one replayed exchange: a day of Coinbase BTC/USD minutes (ccxt loads once, then a few pages). */
export const DEMO_CCXT = { exchange: 'coinbase', asset: 'BTC-USD', interval: '1m', from: '2024-12-30', to: '2024-12-31' } as const;

/** The other keyless sources: CoinLore's streams, Binance klines, ccxt OHLCV, ERC-20 transfers of a day of the replay chain. */
export const DEMO_KEYLESS_JOBS: DemoJob[] = [
  { name: 'coinlore.tickers', opts: {} },
  { name: 'coinlore.global', opts: {} },
  { name: 'coinlore.exchanges', opts: {} },
  { name: 'coinlore.coin_markets', opts: {} },
  { name: 'coinlore.social_stats', opts: {} },
  ...DEMO_KLINES.symbols.map((asset) => ({ name: 'binance.klines', opts: { asset, interval: DEMO_KLINES.interval, from: DEMO_KLINES.from, to: DEMO_KLINES.to } })),
  { name: 'ccxt.ohlcv', opts: { asset: DEMO_CCXT.asset, interval: DEMO_CCXT.interval, from: DEMO_CCXT.from, to: DEMO_CCXT.to }, params: { exchange: DEMO_CCXT.exchange } },
  { name: 'evm.erc20_transfers', opts: { from: '2024-06-10', to: '2024-06-11' } },
];

/** The demo's CryptoDataDownload file: a day of Bitstamp BTC/USD minutes whose last close is the snapshot's bitcoin price. */
export const DEMO_CDD = { exchange: 'Bitstamp', base: 'BTC', quote: 'USD', from: '2024-12-30T00:00:00Z', to: '2024-12-31T00:00:00Z' } as const;

/** The quality checks the demo runs, by the job whose table they check (recorded like `coinlake check`'s). */
export const DEMO_CHECKS: { job: string; checks: QualityCheck[] }[] = [
  { job: 'coincap.assets', checks: [{ type: 'unique' }, { type: 'not_null', columns: ['id', 'symbol', 'price_usd'] }, { type: 'accepted_range', column: 'price_usd', gt: 0 }] },
  { job: 'coincap.asset_history', checks: [{ type: 'unique' }, { type: 'accepted_range', column: 'price_usd', gt: 0 }, { type: 'accepted_range', column: 'circulating_supply', gt: 0 }] },
  { job: 'coinlore.tickers', checks: [{ type: 'unique' }, { type: 'not_null', columns: ['id', 'symbol'] }] },
  {
    job: 'binance.klines',
    checks: [
      { type: 'unique' },
      { type: 'accepted_range', column: 'low', gt: 0 },
      // The replay's klines have maintenance windows (02:00–02:30 every tenth day): a warning shows them.
      { type: 'candle_gaps', column: 'ts', interval: '1m', partition_by: ['exchange', 'symbol'], severity: 'warn' },
      // A venue more than 50 bps from the others' median for 5 minutes running (the demo's pairs have one venue each).
      { type: 'divergence', max_bps: 50, minutes: 5, severity: 'warn' },
    ],
  },
  { job: 'evm.erc20_transfers', checks: [{ type: 'unique' }, { type: 'not_null', columns: ['token_address', 'transaction_hash'] }] },
];

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new ConfigError(`--port must be a number from 0 to 65535, got "${value}"`);
  return Number(value);
}

export function registerDemoCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('demo')
    .description('offline demo of the whole platform: every keyless source from the replay server, a CDD file, the models and quality checks into ./warehouse.duckdb and ./lake, a summary, then the dashboard until Ctrl-C')
    .option('--no-serve', 'end after the summary instead of starting the dashboard')
    .option('--port <port>', 'dashboard port (0: any free port; default 8787, or a free one when 8787 is taken)')
    .action(async (o: { serve: boolean; port?: string }) => {
      const g = globals();
      const port = o.port === undefined ? undefined : parsePort(o.port);
      const started = Date.now();
      const replay = await replayEndpoints(true);
      const out = (s: string) => process.stdout.write(s + '\n');
      const loads: DemoLoad[] = [];
      let where: { warehouse: string; lake: string } | undefined;
      try {
        await withWarehouse(g, async (session, lake, settings) => {
          where = { warehouse: settings.warehouse, lake: lake.root };
          out(`coinlake demo — replay server ${replay.server!.url}, warehouse ${path.resolve(settings.warehouse)}, lake ${lake.root}\n`);
          const jobs = [...DEMO_JOBS, ...DEMO_KEYLESS_JOBS];
          const steps = jobs.length + 3;
          const step = (n: number, what: string) => out(`[${n}/${steps}] ${what}`);
          for (const [i, j] of jobs.entries()) {
            step(i + 1, [j.name, j.params?.exchange, j.opts.asset].filter(Boolean).join(' '));
            const t0 = Date.now();
            const s = await runJob(buildJob(j.name, { ...j.opts, params: j.params }, replay.endpoints), { session, lake, logLevel: g.logLevel, printLog: g.printLog, progress: false });
            loads.push({ source: j.name.split('.')[0], what: j.name, table: s.table, rows: s.rowsLoaded, lakePaths: s.lakePaths });
            out('  ' + summaryLine(s, Date.now() - t0));
          }

          step(jobs.length + 1, `import cdd: a generated ${DEMO_CDD.exchange} ${DEMO_CDD.base}/${DEMO_CDD.quote} minute file`);
          const [btc] = await session.query<{ price_usd: number }>(`SELECT price_usd FROM coinlake.coincap_assets WHERE id = 'bitcoin'`);
          const file = await writeDemoCddFile(path.join(lake.root, 'demo-input'), {
            exchange: DEMO_CDD.exchange,
            base: DEMO_CDD.base,
            quote: DEMO_CDD.quote,
            fromMs: Date.parse(DEMO_CDD.from),
            toMs: Date.parse(DEMO_CDD.to),
            lastClose: Number(btc?.price_usd ?? 96_000),
          });
          const t0 = Date.now();
          const imported = await importFiles(findFileFormat('cdd'), [file], { session, lake, logLevel: g.logLevel, printLog: g.printLog, progress: false });
          for (const f of imported.files) loads.push({ source: 'cryptodatadownload', what: `import cdd ${path.basename(f.file)}`, table: f.table, rows: f.loaded, lakePaths: imported.lakePaths });
          out(`  import cdd ${path.relative(process.cwd(), file) || file}: ${imported.rowsLoaded.toLocaleString('en-US')} rows into ${imported.files.map((f) => f.table).join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s — run ${imported.runId}`);

          step(jobs.length + 2, 'models run');
          const models = await runModels(session, {});
          for (const m of models.results) loads.push({ source: 'models', what: m.model, table: `coinlake.${m.model}`, rows: m.rows, lakePaths: [] });
          out(`  models run ${models.runId}: ${models.results.map((m) => `${m.model} ${m.rows}`).join(', ')}`);

          step(jobs.length + 3, 'quality checks');
          const now = new Date();
          let checks = 0;
          let passed = 0;
          for (const c of DEMO_CHECKS) {
            const table = findStream(c.job).stream.table;
            const results = await session.transaction(() => runChecks(session, table, { processId: null, now, checks: c.checks }));
            checks += results.length;
            passed += results.filter((r) => r.passed).length;
            for (const r of results.filter((x) => !x.passed)) out(`  ${r.severity === 'warn' ? 'warning' : 'FAILED'}: ${table.schema}.${table.name} ${r.name}: ${r.message}`);
          }
          out(`  ${checks} checks on ${DEMO_CHECKS.length} tables: ${passed} passed, ${checks - passed} failed (results in coinlake_meta.quality_result)`);

          out(`\nLoaded in ${((Date.now() - started) / 1000).toFixed(1)} s. ` + (await demoLanded(session, loads, { lakeRoot: lake.root, warehouse: settings.warehouse })));
          const top10 = (assets: string) => `SELECT rank, symbol, name, round(price_usd, 2) AS price_usd, round(market_cap_usd / 1e9, 1) AS market_cap_busd
  FROM ${assets} ORDER BY market_cap_usd DESC NULLS LAST LIMIT 10`;
          // The SQL printed is for the user's own client on the file, named as it names tables (see clientTableReference).
          const user = (table: string) => clientTableReference(settings.warehouse, 'coinlake', table);
          out(`\nTop 10 assets by market cap:\n${top10(user('coincap_assets'))}\n`);
          out(formatTable(await session.query(top10('coinlake.coincap_assets'))));
          const history = `SELECT * FROM ${user('coincap_asset_history')} LIMIT 5`;
          out(`\nNext: npx coinlake status   |   duckdb ${shellWord(settings.warehouse)} '${history}'`);
        });
      } finally {
        await replay.close();
      }
      const served = servedCommand();
      if (!o.serve || !where) return;
      if (served) {
        out('the dashboard is the coinlake serve this command ran in');
        return;
      }
      await serveUntilStopped({ warehouse: where.warehouse, lake: where.lake, port, logLevel: g.logLevel }, out);
    });
}

/** A path as one shell word: as is when plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
