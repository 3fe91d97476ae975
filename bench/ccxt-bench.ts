// ccxt benches against the replay server (docs/ccxt.md):
// 1. Rate: a ccxt.ohlcv backfill of OKX (4 symbols, 1m candles) against the replay server's OKX limit R (20 requests per
//    2 s, OKX's documented public limit): the achieved request rate as a share of R (target ≥ 0.9), most requests in
//    any window, and the 429s the server answered (none may surface).
// 2. One Binance path: the hand-written binance.klines client against ccxt's binance (ccxt.ohlcv --exchange binance)
//    over the same replay server in the same run, alternating: rows/s and requests/s of each.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { startReplayServer } from '../src/replay/index.ts';
import { runBackfill } from '../src/runner/backfill.ts';

const DAY = 86_400_000;
const OKX_SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'ETH/BTC'];
const OKX_DAYS = Number(process.env.BENCH_CCXT_DAYS ?? 10);
const BINANCE_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT'];
const BINANCE_DAYS = Number(process.env.BENCH_CCXT_BINANCE_DAYS ?? 5);
const ROUNDS = Number(process.env.BENCH_CCXT_ROUNDS ?? 2);

async function withWarehouse<T>(fn: (ctx: { session: Awaited<ReturnType<typeof openWarehouse>>; lake: LocalLake }) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bench-ccxt-'));
  const session = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
  try {
    return await fn({ session, lake: new LocalLake(path.join(dir, 'lake')) });
  } finally {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function okxRate(): Promise<void> {
  const server = await startReplayServer();
  try {
    const limit = server.ccxtUsage('okx').limit;
    const from = Date.UTC(2024, 2, 1);
    const s = await withWarehouse(({ session, lake }) =>
      runBackfill(
        {
          job: 'ccxt.ohlcv',
          from: new Date(from),
          to: new Date(from + OKX_DAYS * DAY),
          symbols: OKX_SYMBOLS,
          params: { exchange: 'okx', interval: '1m' },
          concurrency: 4,
          endpoints: { baseUrls: { ccxt: `${server.url}/ccxt/{exchange}` } },
        },
        { session, lake, progress: false },
      ),
    );
    const usage = server.ccxtUsage('okx');
    // Candle requests only (markets are loaded once first): their span from the first to the last.
    const at = usage.acceptedAt.filter((_, i) => usage.paths[i].includes('candles'));
    const spanMs = at.length > 1 ? at[at.length - 1] - at[0] : 0;
    const rate = spanMs > 0 ? ((at.length - 1) * 1000) / spanMs : 0;
    const r = (limit.requests * 1000) / limit.windowMs;
    console.log(`OKX via ccxt: ${OKX_SYMBOLS.length} symbols × ${OKX_DAYS} days of 1m candles, backfill concurrency 4, replay limit R = ${limit.requests} requests per ${limit.windowMs} ms (${r.toFixed(1)}/s)`);
    console.log(`  ${s.rowsLoaded.toLocaleString('en-US')} rows, ${at.length} candle requests over ${(spanMs / 1000).toFixed(1)} s: ${rate.toFixed(2)} requests/s = ${(rate / r).toFixed(3)} × R (target ≥ 0.9: ${rate >= 0.9 * r ? 'met' : 'NOT met'})`);
    console.log(`  most requests in one window: ${usage.maxInWindow} (limit ${limit.requests}); 429 answers: ${usage.rejected}; run status ${s.status} (1 = complete; nothing surfaced to the user when 1)`);
  } finally {
    await server.close();
  }
}

interface PathFigures {
  rows: number;
  requests: number;
  seconds: number;
}

async function binancePath(kind: 'hand-written' | 'ccxt', serverUrl: string, binanceUrl: string, requestsSoFar: () => number): Promise<PathFigures> {
  const from = Date.UTC(2024, 1, 1);
  const before = requestsSoFar();
  const started = performance.now();
  const s = await withWarehouse(({ session, lake }) =>
    runBackfill(
      kind === 'hand-written'
        ? { job: 'binance.klines', from: new Date(from), to: new Date(from + BINANCE_DAYS * DAY), symbols: BINANCE_SYMBOLS, params: { interval: '1m' }, concurrency: 4, endpoints: { baseUrls: { binance: binanceUrl } } }
        : { job: 'ccxt.ohlcv', from: new Date(from), to: new Date(from + BINANCE_DAYS * DAY), symbols: BINANCE_SYMBOLS.map((x) => `${x.slice(0, -4)}/USDT`), params: { exchange: 'binance', interval: '1m' }, concurrency: 4, endpoints: { baseUrls: { ccxt: binanceUrl } } },
      { session, lake, progress: false },
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  void serverUrl;
  return { rows: s.rowsLoaded, requests: requestsSoFar() - before, seconds };
}

async function oneBinancePath(): Promise<void> {
  const server = await startReplayServer();
  try {
    const requests = () => server.binanceUsage().accepted;
    // Warm-up: ccxt loads its module and binance's markets once per process.
    await binancePath('ccxt', server.url, server.binanceUrl, requests);
    const runs: Record<string, PathFigures[]> = { 'hand-written': [], ccxt: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of ['hand-written', 'ccxt'] as const) runs[kind].push(await binancePath(kind, server.url, server.binanceUrl, requests));
    }
    console.log(`Binance klines, ${BINANCE_SYMBOLS.length} symbols × ${BINANCE_DAYS} days of 1m candles, concurrency 4, ${ROUNDS} alternating rounds (replay server, Binance's weight limit 6000/min):`);
    for (const [kind, figures] of Object.entries(runs)) {
      const line = figures.map((f) => `${(f.rows / f.seconds).toFixed(0)} rows/s, ${(f.requests / f.seconds).toFixed(1)} requests/s (${f.rows.toLocaleString('en-US')} rows, ${f.requests} requests, ${f.seconds.toFixed(1)} s)`).join('; ');
      console.log(`  ${kind.padEnd(12)} ${line}`);
    }
    const best = (k: string) => Math.max(...runs[k].map((f) => f.rows / f.seconds));
    console.log(`  ccxt / hand-written (best rows/s): ${(best('ccxt') / best('hand-written')).toFixed(3)}`);
  } finally {
    await server.close();
  }
}

export async function main(): Promise<void> {
  await okxRate();
  await oneBinancePath();
}
