// The websocket producer's connect as the feed's server sees it: the upgrade request carries coinlake's User-Agent.
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { NatsConnection } from '@nats-io/transport-node';
import { USER_AGENT } from '../http/user-agent.ts';
import { binanceTradesFeed } from '../sources/binance/binance-feeds.ts';
import { connectNats } from './jetstream-streams.ts';
import { WsProducer } from './ws-producer.ts';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats();
});
afterAll(async () => nc?.close());

describe('WsProducer', () => {
  it('connects with User-Agent coinlake/<version>', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const upgrades: IncomingHttpHeaders[] = [];
    wss.on('connection', (_ws, req) => upgrades.push(req.headers));
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const producer = new WsProducer({ feed: binanceTradesFeed, nc, subject: 'ua-test.unused', url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` });
    try {
      producer.start();
      const t0 = Date.now();
      while (upgrades.length === 0) {
        if (Date.now() - t0 > 10_000) throw new Error('the producer did not connect within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(upgrades[0]['user-agent']).toBe(USER_AGENT);
      expect(USER_AGENT).toMatch(/^coinlake\/\d+\.\d+\.\d+/);
    } finally {
      await producer.stop();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
