// Local websocket server replaying market feeds for tests and --replay: CoinCap `/prices?assets=…` and
// `/trades/<exchange>`, Binance `/stream?streams=…` (combined) and `/ws/<stream>` (raw), kline_1m, trade and aggTrade.
// Each feed has its own clock that ticks at a set rate while the server runs, whether or not anyone listens
// (a live feed), so a dropped client misses the ticks in between: that is what gap-fill tests need.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { kline } from '../sources/binance/binance-replay-klines.ts';
import { replayAggTrade, replayTrade } from '../sources/binance/binance-replay-trades.ts';

const MINUTE = 60_000;

export interface WsReplayOptions {
  /** Port to listen on. Default 0: a free port. Always binds 127.0.0.1. */
  port?: number;
  /** Ticks per second of every feed. Default 20. */
  ticksPerSecond?: number;
  /** Ticks a feed plays before it falls silent (connections stay open). Default: unlimited. */
  maxTicks?: number;
  /** Open time of the first generated kline (ms, a whole minute); tick i is minute i. Default 2024-06-10T00:00Z. */
  klineStartMs?: number;
  /** Recorded frames played one per tick instead of generated ones, keyed by path (`/prices`, `/trades/binance`). */
  frames?: Record<string, string[]>;
}

export interface WsReplayServer {
  /** ws://127.0.0.1:PORT */
  url: string;
  /** Ticks played so far by the feed at `path` (with its query), 0 before its first client. */
  ticks(path: string): number;
  /** Closes every open connection; with refuseMs, refuses new ones for that long (the feed keeps ticking). */
  dropConnections(opts?: { refuseMs?: number }): void;
  /** Keeps connections open but sends nothing for ms (a silent feed for watchdogs); the feed keeps ticking. */
  silence(ms: number): void;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

interface Feed {
  tick: number;
  timer?: NodeJS.Timeout;
  clients: Set<WebSocket>;
  frames(tick: number): string[];
}

const COINCAP_PRICE_LEVEL: Record<string, number> = { bitcoin: 69_650, ethereum: 3_682, tether: 1, solana: 160, 'binance-coin': 600 };
const TRADE_PAIRS: [string, string, string][] = [['bitcoin', 'tether', 'BTCUSDT'], ['ethereum', 'tether', 'ETHUSDT'], ['ethereum', 'bitcoin', 'ETHBTC']];

/** A deterministic wobble in [-1, 1] for tick i. */
const wobble = (i: number, salt: number) => Math.sin(i * 0.7 + salt);

function coincapPrices(assets: string[]) {
  return (i: number) => [JSON.stringify(Object.fromEntries(assets.map((a, k) => [a, ((COINCAP_PRICE_LEVEL[a] ?? 10) * (1 + 0.001 * wobble(i, k))).toPrecision(10)])))];
}

function coincapTrades(exchange: string, startMs: number) {
  return (i: number) => {
    const [base, quote] = TRADE_PAIRS[i % TRADE_PAIRS.length];
    const price = (COINCAP_PRICE_LEVEL[base] ?? 10) / (COINCAP_PRICE_LEVEL[quote] ?? 1);
    return [JSON.stringify({ exchange, base, quote, direction: i % 2 ? 'sell' : 'buy', price: Number((price * (1 + 0.001 * wobble(i, 1))).toPrecision(8)), volume: Number((0.01 + (i % 7) * 0.1).toFixed(5)), timestamp: startMs + i * 100, priceUsd: price })];
  };
}

/** Binance frames of one tick: per kline stream an open update then the closed candle of minute i; per trade (aggTrade) stream one trade (aggregate). */
function binanceStreams(streams: string[], combined: boolean, startMs: number) {
  return (i: number) => {
    const out: string[] = [];
    for (const name of streams) {
      const [lower, kind] = name.split('@');
      const symbol = lower.toUpperCase();
      let data: object[];
      if (kind === 'kline_1m') {
        const k = kline(symbol, '1m', startMs + i * MINUTE);
        const body = (x: boolean, E: number) => ({ e: 'kline', E, s: symbol, k: { t: k[0], T: k[6], s: symbol, i: '1m', f: i * 1000, L: i * 1000 + k[8] - 1, o: k[1], c: k[4], h: k[2], l: k[3], v: k[5], n: k[8], x, q: k[7], V: k[9], Q: k[10], B: '0' } });
        data = [body(false, k[0] + 30_000), body(true, k[6] + 1)];
      } else if (kind === 'trade') {
        // The series /api/v3/historicalTrades of the REST replay serves too.
        const t = replayTrade(i, startMs);
        data = [{ e: 'trade', E: t.time + 1, s: symbol, t: t.id, p: t.price, q: t.qty, T: t.time, m: t.isBuyerMaker, M: true }];
      } else if (kind === 'aggTrade') {
        // Aggregate i covers trades 3i…3i+2 (ids from 1,000,000); /api/v3/aggTrades of the REST replay serves it too.
        const t = replayAggTrade(i, startMs);
        data = [{ e: 'aggTrade', E: t.T + 1, s: symbol, ...t }];
      } else continue;
      for (const d of data) out.push(JSON.stringify(combined ? { stream: name, data: d } : d));
    }
    return out;
  };
}

/** Starts the websocket replay server on 127.0.0.1. */
export async function startWsReplay(opts: WsReplayOptions = {}): Promise<WsReplayServer> {
  const tickMs = 1000 / (opts.ticksPerSecond ?? 20);
  const klineStart = opts.klineStartMs ?? Date.parse('2024-06-10T00:00:00Z');
  const feeds = new Map<string, Feed>();
  let refuseUntil = 0;
  let silentUntil = 0;
  let accepted = 0;

  function framesFor(key: string): ((tick: number) => string[]) | undefined {
    const u = new URL(key, 'ws://x');
    const recorded = opts.frames?.[u.pathname];
    if (recorded) return (i) => (i < recorded.length ? [recorded[i]] : []);
    if (u.pathname === '/prices') return coincapPrices((u.searchParams.get('assets') ?? 'bitcoin,ethereum').split(',').filter(Boolean));
    const trades = /^\/trades\/([a-z0-9-]+)$/.exec(u.pathname);
    if (trades) return coincapTrades(trades[1], Date.parse('2024-06-10T00:00:00Z'));
    if (u.pathname === '/stream') return binanceStreams((u.searchParams.get('streams') ?? '').split('/').filter(Boolean), true, klineStart);
    const raw = /^\/ws\/(.+)$/.exec(u.pathname);
    if (raw) return binanceStreams(raw[1].split('/'), false, klineStart);
    return undefined;
  }

  function startFeed(key: string, frames: (tick: number) => string[]): Feed {
    const feed: Feed = { tick: 0, clients: new Set(), frames };
    feed.timer = setInterval(() => {
      if (opts.maxTicks !== undefined && feed.tick >= opts.maxTicks) return;
      const out = feed.frames(feed.tick++);
      if (Date.now() < silentUntil) return;
      for (const ws of feed.clients) for (const f of out) ws.send(f);
    }, tickMs);
    feeds.set(key, feed);
    return feed;
  }

  const wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port ?? 0 });
  wss.on('connection', (ws, req) => {
    const key = req.url ?? '/';
    if (Date.now() < refuseUntil) return ws.close(1013, 'try again later');
    const frames = framesFor(key);
    if (!frames) return ws.close(1008, `unknown feed ${key}`);
    accepted++;
    const feed = feeds.get(key) ?? startFeed(key, frames);
    feed.clients.add(ws);
    ws.on('close', () => feed.clients.delete(ws));
    ws.on('error', () => feed.clients.delete(ws));
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    ticks: (path) => feeds.get(path)?.tick ?? 0,
    dropConnections({ refuseMs = 0 } = {}) {
      refuseUntil = Date.now() + refuseMs;
      for (const feed of feeds.values()) for (const ws of feed.clients) ws.terminate();
    },
    silence(ms) {
      silentUntil = Date.now() + ms;
    },
    connections: () => accepted,
    async close() {
      for (const feed of feeds.values()) {
        clearInterval(feed.timer);
        for (const ws of feed.clients) ws.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
