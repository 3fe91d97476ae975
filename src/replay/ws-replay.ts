// Local websocket server replaying the sources' market feeds for tests and --replay; the frames are the sources' own
// (sources/<name>/<name>-ws-replay.ts, listed in ws-replay-registry.ts). Each feed has its own clock that ticks at a set rate while the server runs, whether or not anyone listens
// (a live feed), so a dropped client misses the ticks in between: that is what gap-fill tests need.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { WS_FRAME_SOURCES } from './ws-replay-registry.ts';

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

/** The frames of one tick of a feed. */
export type WsFrames = (tick: number) => string[];

/** A source's websocket feeds on the replay server: the frames of the feed at `url` (path and query), if it serves it. */
export type WsFrameSource = (url: URL, opts: { klineStartMs: number }) => WsFrames | undefined;

interface Feed {
  tick: number;
  timer?: NodeJS.Timeout;
  clients: Set<WebSocket>;
  frames(tick: number): string[];
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
    for (const source of WS_FRAME_SOURCES) {
      const frames = source(u, { klineStartMs: klineStart });
      if (frames) return frames;
    }
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
