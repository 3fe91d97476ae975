// How the ccxt source turns an exchange's answers into waits and errors, read through the real stream against the
// replay server's Kraken (faults injected there): a refusal in the body (ccxt's DDoSProtection) is waited out, an
// unavailable exchange is a TransientError, a refused pair a TerminalError naming exchange, symbol and URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../../core/errors.ts';
import type { Page } from '../../core/source.ts';
import { HttpClient } from '../../http/http-client.ts';
import { startReplayServer, type ReplayServer } from '../../replay/index.ts';
import { ccxtOhlcvStream } from './ccxt-ohlcv.ts';
import { openVenue } from './ccxt-venue.ts';
import { replayCandles } from './replay/ccxt-replay-series.ts';

const START = Date.UTC(2024, 2, 1, 12);
const END = START + 60 * 60_000;
let server: ReplayServer;

beforeAll(async () => {
  server = await startReplayServer();
});
afterAll(async () => server?.close());

/** Reads an hour of kraken BTC/USD candles; the pages read. */
async function readHour(): Promise<Page[]> {
  const pages: Page[] = [];
  const http = new HttpClient({ rateLimitPerMinute: 0, retries: 1, minBackoffMs: 1, maxBackoffMs: 5 });
  const read = ccxtOhlcvStream.read({
    http,
    baseUrl: server.ccxtUrl('kraken'),
    params: { exchange: 'kraken', symbol: 'BTC/USD', interval: '1m' },
    window: { start: new Date(START), end: new Date(END) },
    signal: AbortSignal.timeout(60_000),
  });
  for await (const page of read) pages.push(page);
  return pages;
}

/** Kraken's answer to the next OHLC request: the error `message` in its body (HTTP 200, as Kraken sends errors). */
function krakenError(message: string, times = 1): void {
  server.inject({ kind: 'transform', path: '/ccxt/kraken/0/public/OHLC', times, transform: () => ({ error: [message] }) });
}

const ohlcRequests = () => server.ccxtUsage('kraken').paths.filter((p) => p.startsWith('/0/public/OHLC')).length;

describe('ccxt calls', () => {
  it('a clean read: the hour\'s candles, the page\'s bytes as Kraken sent them', async () => {
    const pages = await readHour();
    expect(pages.flatMap((p) => p.records).map((r) => r.ts)).toEqual(replayCandles('kraken', 'BTC/USD', START, END).map((c) => c.ts));
    const body = JSON.parse(Buffer.from(pages[0].raw).toString('utf8')) as { error: unknown[]; result: Record<string, unknown> };
    expect(body.error).toEqual([]);
    expect(pages[0].origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ccxt\/kraken\/0\/public\/OHLC\?pair=XXBTZUSD&interval=1&since=\d+$/);
  }, 60_000);

  it('a refusal in the body (EAPI:Rate limit exceeded: ccxt DDoSProtection) is waited out, then the same candles', async () => {
    const before = ohlcRequests();
    krakenError('EAPI:Rate limit exceeded');
    const pages = await readHour();
    expect(pages.flatMap((p) => p.records)).toHaveLength(replayCandles('kraken', 'BTC/USD', START, END).length);
    expect(ohlcRequests() - before).toBe(2);
  }, 60_000);

  it('an exchange that is unavailable (EService:Unavailable: ccxt ExchangeNotAvailable) is a TransientError naming it and the URL', async () => {
    krakenError('EService:Unavailable');
    const err = await readHour().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/^kraken failed OHLCV BTC\/USD 1m since 2024-03-01T12:00:00\.000Z at http:\/\/127\.0\.0\.1:\d+\/ccxt\/kraken\/0\/public\/OHLC\?pair=XXBTZUSD&interval=1&since=\d+: kraken \{"error":\["EService:Unavailable"\]\}$/);
  }, 60_000);

  it('a pair the exchange refuses after all (EQuery:Unknown asset pair, a BadRequest to ccxt) is a TerminalError naming exchange, symbol and URL', async () => {
    krakenError('EQuery:Unknown asset pair');
    const err = await readHour().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toMatch(/^kraken rejected OHLCV BTC\/USD 1m since 2024-03-01T12:00:00\.000Z at http:\/\/127\.0\.0\.1:\d+\/ccxt\/kraken\/0\/public\/OHLC\?pair=XXBTZUSD&interval=1&since=\d+: kraken \{"error":\["EQuery:Unknown asset pair"\]\}$/);
  }, 60_000);

  it('an exchange id ccxt does not know is a TerminalError with the ids close to it', async () => {
    const err = await openVenue('krakn', '').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as TerminalError).message).toBe('ccxt has no exchange "krakn"');
    expect((err as TerminalError).hint).toBe('did you mean kraken, krakenfutures?');
  });
});
