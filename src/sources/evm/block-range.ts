// Block numbers of a time window, found by binary search over block timestamps (one eth_getBlockByNumber per step,
// cached), and the adaptive split of eth_getLogs ranges a node refuses as too large.
import { JsonRpcError } from './json-rpc-client.ts';

/** Reads a block's timestamp (unix seconds). */
export type TimestampOf = (block: number) => Promise<number>;

/** First block in [0, head] whose timestamp is ≥ `seconds`; head + 1 when there is none. */
export async function firstBlockAtOrAfter(seconds: number, head: number, timestampOf: TimestampOf): Promise<number> {
  let lo = 0;
  let hi = head + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await timestampOf(mid)) >= seconds) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Errors nodes and providers send when an eth_getLogs range or its result is too large. */
const TOO_LARGE = /more than \d+ results|block range|range (is )?too (large|wide)|too many (blocks|results|logs)|exceed(s|ed)? (the )?(max|maximum|limit)|response size|limit exceeded|query timeout|returned more than/i;

/** True when `err` is a node refusing an eth_getLogs range as too large (split it and ask again). */
export function isRangeTooLarge(err: unknown): boolean {
  return err instanceof JsonRpcError && (err.code === -32005 || err.code === -32602 || err.code === -32000 || err.code === -32011 || err.code === -32614) && TOO_LARGE.test(err.message);
}

/**
 * Splits [from, to] into ranges of at most `span` blocks and reads each with `read`; a range the node refuses as too
 * large is halved (down to one block) and later ranges keep the size that worked, doubling again (up to `span`) after
 * four ranges in a row were accepted. Yields every range read, in block order, with the refusals so far.
 */
export async function* adaptiveRanges<T>(from: number, to: number, span: number, read: (a: number, b: number) => Promise<T>): AsyncGenerator<{ from: number; to: number; value: T; refusals: number }> {
  let size = Math.max(1, span);
  let start = from;
  let refusals = 0;
  let streak = 0;
  while (start <= to) {
    const end = Math.min(to, start + size - 1);
    let value: T;
    try {
      value = await read(start, end);
    } catch (err) {
      if (!isRangeTooLarge(err)) throw err;
      if (end === start) throw err;
      refusals++;
      streak = 0;
      size = Math.max(1, Math.floor((end - start + 1) / 2));
      continue;
    }
    yield { from: start, to: end, value, refusals };
    start = end + 1;
    if (++streak >= 4 && size < span) {
      size = Math.min(span, size * 2);
      streak = 0;
    }
  }
}
