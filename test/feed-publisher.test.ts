// The JetStream publisher writes each message's NATS frame itself (HPUB line, Nats-Msg-Id header, JSON payload): what
// the real nats-server on 127.0.0.1:4222 stores must be exactly the record and its id, byte lengths right for
// multi-byte text, and a record it cannot frame must be refused with a clear error before anything is sent.
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FeedPublisher } from '../src/streaming/feed-publisher.ts';
import { connectNats, ensureFeedStream } from '../src/streaming/jetstream-streams.ts';

let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  nc = await connectNats();
});
afterAll(async () => {
  await nc.close();
});
afterEach(async () => {
  const jsm = await jetstreamManager(nc);
  for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
});

/** A fresh stream on its own subject. */
async function freshStream(): Promise<{ subject: string; stream: string }> {
  const tag = randomBytes(4).toString('hex');
  const names = { subject: `tpub${tag}.feed`, stream: `TPUB${tag.toUpperCase()}` };
  await ensureFeedStream(await jetstreamManager(nc), names);
  streams.push(names.stream);
  return names;
}

describe('FeedPublisher frames', () => {
  it('stores each record as its JSON with its Nats-Msg-Id, multi-byte text included; a repeat is stored once', async () => {
    const names = await freshStream();
    const counters = { published: 0, duplicates: 0 };
    const publisher = new FeedPublisher(nc, names.subject, counters);
    const records = [
      { msgId: 'a:1', record: { symbol: 'BTC/USDT', price: '69649.73', n: 1 } },
      { msgId: 'b:€2', record: { name: 'Ünïcødé ₿ 🚀', price: null } },
      { msgId: 'a:1', record: { symbol: 'BTC/USDT', price: 'changed', n: 1 } },
    ];
    await publisher.publish(records);
    await publisher.flush();
    expect(counters).toEqual({ published: 3, duplicates: 1 });
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(names.stream)).state.messages).toBe(2);
    const stored = await Promise.all([1, 2].map((seq) => jsm.streams.getMessage(names.stream, { seq })));
    expect(stored.map((m) => [m!.subject, m!.header.get('Nats-Msg-Id'), JSON.parse(new TextDecoder().decode(m!.data))])).toEqual([
      [names.subject, 'a:1', { symbol: 'BTC/USDT', price: '69649.73', n: 1 }],
      [names.subject, 'b:€2', { name: 'Ünïcødé ₿ 🚀', price: null }],
    ]);
  });

  it('refuses a message id with a line break, and a message over the server max_payload, naming them; nothing is sent', async () => {
    const names = await freshStream();
    const counters = { published: 0, duplicates: 0 };
    const publisher = new FeedPublisher(nc, names.subject, counters);
    await expect(publisher.publish([{ msgId: 'x:1\r\nEvil: 1', record: { a: 1 } }])).rejects.toThrow(`message id "x:1\\r\\nEvil: 1" on ${names.subject} holds a line break; a NATS header cannot`);
    const max = nc.info!.max_payload;
    await expect(publisher.publish([{ msgId: 'big:1', record: { blob: 'x'.repeat(max) } }])).rejects.toThrow(
      new RegExp(`^message big:1 on ${names.subject} is ${max + 43} bytes, over the server's max_payload of ${max}$`),
    );
    await publisher.flush();
    expect(counters).toEqual({ published: 0, duplicates: 0 });
    expect((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages).toBe(0);
  });

  it('refuses a subject it cannot publish to', () => {
    expect(() => new FeedPublisher(nc, 'coinlake.binance.*', { published: 0, duplicates: 0 })).toThrow('FeedPublisher: "coinlake.binance.*" is not a subject to publish to');
    expect(() => new FeedPublisher(nc, 'a b', { published: 0, duplicates: 0 })).toThrow('FeedPublisher: "a b" is not a subject to publish to');
  });

  it('a connection closed after publishing: a later publish is retried, then given up once closing, with a clear error', async () => {
    const names = await freshStream();
    const own = await connectNats();
    const counters = { published: 0, duplicates: 0 };
    const publisher = new FeedPublisher(own, names.subject, counters, { ackTimeoutMs: 50 });
    await publisher.publish([{ msgId: 'c:1', record: { a: 1 } }]);
    await publisher.flush();
    await own.close();
    publisher.close();
    await publisher.publish([{ msgId: 'c:2', record: { a: 2 } }]);
    await expect(publisher.flush()).rejects.toThrow(`JetStream did not ack message c:2 on ${names.subject} after 3 attempts`);
    expect(counters).toEqual({ published: 1, duplicates: 0 });
    expect((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages).toBe(1);
  });
});
