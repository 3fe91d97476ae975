import { describe, expect, it } from 'vitest';
import { adaptiveRanges, firstBlockAtOrAfter, isRangeTooLarge } from './block-range.ts';
import { JsonRpcError } from './json-rpc-client.ts';

describe('adaptiveRanges', () => {
  it('halves a refused range down to what the node accepts, and grows back after four accepted ranges', async () => {
    const asked: string[] = [];
    const read = async (a: number, b: number) => {
      asked.push(`${a}-${b}`);
      if (b - a + 1 > 300) throw new JsonRpcError(-32005, 'query returned more than 10000 results');
      return b - a + 1;
    };
    const got = [];
    for await (const r of adaptiveRanges(0, 1999, 1000, read)) got.push([r.from, r.to, r.value]);
    expect(got.map(([a, b]) => `${a}-${b}`)).toEqual(['0-249', '250-499', '500-749', '750-999', '1000-1249', '1250-1499', '1500-1749', '1750-1999']);
    expect(asked.slice(0, 3)).toEqual(['0-999', '0-499', '0-249']);
    expect(asked).toContain('1000-1499'); // the span doubled again after four successes, and was refused
    expect(got.reduce((n, [, , v]) => n + (v as number), 0)).toBe(2000);
  });

  it('a one-block range that is still refused, or another error, is thrown', async () => {
    const tooBig = new JsonRpcError(-32005, 'query returned more than 10000 results');
    await expect(async () => {
      for await (const _ of adaptiveRanges(5, 9, 4, async () => Promise.reject(tooBig))) void _;
    }).rejects.toBe(tooBig);
    const other = new JsonRpcError(-32601, 'the method eth_getLogs does not exist');
    await expect(async () => {
      for await (const _ of adaptiveRanges(5, 9, 4, async () => Promise.reject(other))) void _;
    }).rejects.toBe(other);
  });
});

describe('isRangeTooLarge', () => {
  it('recognises what providers send for too wide a range', () => {
    expect(isRangeTooLarge(new JsonRpcError(-32005, 'query returned more than 10000 results'))).toBe(true);
    expect(isRangeTooLarge(new JsonRpcError(-32602, 'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range'))).toBe(true);
    expect(isRangeTooLarge(new JsonRpcError(-32000, 'block range is too wide'))).toBe(true);
    expect(isRangeTooLarge(new JsonRpcError(-32000, 'execution reverted'))).toBe(false);
    expect(isRangeTooLarge(new Error('query returned more than 10000 results'))).toBe(false);
  });
});

describe('firstBlockAtOrAfter', () => {
  it('binary-searches block timestamps', async () => {
    const seen: number[] = [];
    const ts = async (n: number) => {
      seen.push(n);
      return 1000 + n * 12;
    };
    expect(await firstBlockAtOrAfter(1000, 100, ts)).toBe(0);
    expect(await firstBlockAtOrAfter(1013, 100, ts)).toBe(2);
    expect(await firstBlockAtOrAfter(1000 + 100 * 12 + 1, 100, ts)).toBe(101);
    expect(seen.length).toBeLessThan(30);
  });
});
