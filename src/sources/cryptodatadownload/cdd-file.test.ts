// What coinlake learns from a CDD file before reading it: banner, header style, volume assets, file name.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCddFileName, sniffCddFile } from './cdd-file.ts';

const FIXTURES = new URL('../../../test/fixtures/cdd/', import.meta.url).pathname;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-cdd-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('CDD files', () => {
  it('reads both header styles, the volume assets and the first symbol', async () => {
    const current = await sniffCddFile(path.join(FIXTURES, 'current/Binance_BTCUSDT_minute.csv'));
    expect(current).toMatchObject({ skipLines: 1, headerLine: 2, style: 'current', baseAsset: 'BTC', quoteAsset: 'USDT', firstSymbol: 'BTCUSDT', exchange: 'binance', interval: '1m', fileSymbol: 'BTCUSDT' });
    expect(current.columns.map((c) => c.role)).toEqual(['unix', 'date', 'symbol', 'open', 'high', 'low', 'close', 'volume_base', 'volume_quote', 'tradecount']);
    const legacy = await sniffCddFile(path.join(FIXTURES, 'legacy/Binance_BTCUSDT_minute.csv'));
    expect(legacy).toMatchObject({ style: 'legacy', baseAsset: 'BTC', quoteAsset: 'USDT', firstSymbol: 'BTC/USDT' });
    const bnb = await sniffCddFile(path.join(FIXTURES, 'real/Binance_BNBUSDT_minute_hostile.csv'));
    expect(bnb).toMatchObject({ style: 'current', baseAsset: 'BNB', quoteAsset: 'USDT', firstSymbol: 'BNB/USDT' });
  });

  it('takes a file without the banner line, and refuses one that is not CDD', async () => {
    const noBanner = path.join(dir, 'Bitstamp_BTCUSD_1h.csv');
    await writeFile(noBanner, 'unix,date,symbol,open,high,low,close,Volume BTC,Volume USD\n1717977600000,2024-06-10 00:00:00,BTC/USD,1,2,0.5,1.5,3,4\n');
    expect(await sniffCddFile(noBanner)).toMatchObject({ skipLines: 0, headerLine: 1, exchange: 'bitstamp', interval: '1h', quoteAsset: 'USD' });
    const other = path.join(dir, 'prices.csv');
    await writeFile(other, 'time,price\n1,2\n');
    await expect(sniffCddFile(other)).rejects.toThrow(/does not look like a CryptoDataDownload file: line 1 "time,price" lacks unix, symbol, open/);
  });

  it('reads exchange, symbol and interval from CDD file names', () => {
    expect(parseCddFileName('/x/Binance_BTCUSDT_minute.csv')).toEqual({ exchange: 'binance', symbol: 'BTCUSDT', interval: '1m' });
    expect(parseCddFileName('Binance_ETHUSDT_1h.csv')).toEqual({ exchange: 'binance', symbol: 'ETHUSDT', interval: '1h' });
    expect(parseCddFileName('Binance BTCUSDT_d.csv')).toEqual({ exchange: 'binance', symbol: 'BTCUSDT', interval: '1d' });
    expect(parseCddFileName('Binance_BNBUSDT_minute_hostile.csv')).toEqual({ exchange: 'binance', symbol: 'BNBUSDT', interval: '1m' });
    expect(parseCddFileName('candles.csv')).toEqual({});
  });
});
