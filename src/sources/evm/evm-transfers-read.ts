// Reading ERC-20 transfers from a node (the evm source's stream, evm-source.ts): eth_getLogs over adaptive block
// ranges, Transfer logs decoded by viem, block timestamps and token metadata fetched for the rows, and the raw page of
// every answer. Loaded when a read starts, so that commands that read no chain do not load viem.
import type { Hex } from 'viem';
// From viem/utils: the main entry point loads all of viem (clients, chains, …), twice the start-up CPU.
import { decodeEventLog, hexToNumber, isHex, parseAbi, toHex } from 'viem/utils';
import { TerminalError } from '../../core/errors.ts';
import type { Page, ReadContext } from '../../core/source.ts';
import { adaptiveRanges, firstBlockAtOrAfter } from './block-range.ts';
import { readTokenMetadata, type TokenMetadata } from './erc20-metadata.ts';
import { endOfDay, EVM_TRANSFERS_JOB, startOfDay, stateParams, TRANSFER_TOPIC, type TransfersParams, type TransfersState } from './evm-source.ts';
import { JsonRpcClient, type RpcCall } from './json-rpc-client.ts';

const TRANSFER_ABI = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);

interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
  blockTimestamp?: string;
}

function asLogs(value: unknown, origin: string): RpcLog[] {
  if (!Array.isArray(value)) throw new TerminalError(`${origin} answered eth_getLogs with ${typeof value}, expected an array of logs`, { url: origin });
  return value as RpcLog[];
}

/** A decoded ERC-20 Transfer as a record of the table; undefined for other events on the topic (ERC-721 has 4 topics). */
function transferRecord(log: RpcLog): Record<string, unknown> | undefined {
  if (log.removed || log.topics?.length !== 3 || typeof log.data !== 'string' || log.data.length !== 66) return undefined;
  let args: { from: string; to: string; value: bigint };
  try {
    args = decodeEventLog({ abi: TRANSFER_ABI, topics: log.topics as [Hex, ...Hex[]], data: log.data as Hex, strict: true }).args;
  } catch {
    return undefined;
  }
  return {
    token_address: log.address.toLowerCase(),
    from_address: args.from.toLowerCase(),
    to_address: args.to.toLowerCase(),
    value: args.value.toString(),
    transaction_hash: log.transactionHash.toLowerCase(),
    log_index: hexToNumber(log.logIndex as Hex),
    block_number: hexToNumber(log.blockNumber as Hex),
    block_hash: log.blockHash.toLowerCase(),
  };
}

/** What one read knows about the chain: block timestamps and token metadata, cached for the run. */
class ChainView {
  readonly timestamps = new Map<number, number>();
  readonly hashes = new Map<number, string>();
  readonly tokens = new Map<string, TokenMetadata>();
  constructor(readonly rpc: JsonRpcClient, readonly p: TransfersParams) {}

  async head(): Promise<number> {
    const { value } = await this.rpc.call<string>('eth_blockNumber', []);
    if (typeof value !== 'string' || !isHex(value)) throw new TerminalError(`${this.rpc.origin} answered eth_blockNumber with ${JSON.stringify(value)}`, { url: this.rpc.origin });
    return hexToNumber(value as Hex);
  }

  private remember(block: unknown, n: number): void {
    const b = block as { timestamp?: string; hash?: string } | null;
    if (!b || typeof b.timestamp !== 'string') throw new TerminalError(`${this.rpc.origin} has no block ${n} (eth_getBlockByNumber answered ${JSON.stringify(block)})`, { url: this.rpc.origin });
    this.timestamps.set(n, hexToNumber(b.timestamp as Hex));
    if (typeof b.hash === 'string') this.hashes.set(n, b.hash.toLowerCase());
  }

  /** Timestamp (s) of one block. */
  timestampOf = async (n: number): Promise<number> => {
    if (!this.timestamps.has(n)) this.remember((await this.rpc.call('eth_getBlockByNumber', [toHex(n), false])).value, n);
    return this.timestamps.get(n)!;
  };

  /** Fetches the timestamps of `blocks` not known yet, in batches; returns the bodies received. */
  async loadTimestamps(blocks: number[]): Promise<Uint8Array[]> {
    const missing = [...new Set(blocks)].filter((n) => !this.timestamps.has(n));
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < missing.length; i += this.p.batchSize) {
      const part = missing.slice(i, i + this.p.batchSize);
      if (part.length === 1 || this.p.batchSize === 1) {
        for (const n of part) {
          const { value, body } = await this.rpc.call('eth_getBlockByNumber', [toHex(n), false]);
          this.remember(value, n);
          bodies.push(body);
        }
        continue;
      }
      const calls: RpcCall[] = part.map((n) => ({ method: 'eth_getBlockByNumber', params: [toHex(n), false] }));
      const { value, body } = await this.rpc.batch(calls);
      bodies.push(body);
      value.forEach((outcome, j) => {
        if (!outcome.ok) throw new TerminalError(`${this.rpc.origin} refused eth_getBlockByNumber(${part[j]}): ${outcome.error.message}`, { url: this.rpc.origin });
        this.remember(outcome.result, part[j]);
      });
    }
    return bodies;
  }

  /** Reads the metadata of tokens not known yet (at block `at`); returns the bodies received. */
  async loadTokens(addresses: string[], at: number): Promise<Uint8Array[]> {
    const missing = [...new Set(addresses)].filter((a) => !this.tokens.has(a));
    if (missing.length === 0) return [];
    const { metadata, bodies } = await readTokenMetadata(this.rpc, missing, toHex(at), this.p.batchSize);
    for (const [a, m] of metadata) this.tokens.set(a, m);
    return bodies;
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/**
 * The raw page of one range: the eth_getLogs request and every response body it took (logs, blocks, token
 * metadata), each embedded exactly as received.
 */
function rawPage(request: unknown, logs: Uint8Array, blocks: Uint8Array[], tokens: Uint8Array[]): Uint8Array {
  const json = `{"request":${JSON.stringify(request)},"eth_getLogs":${text(logs)},"eth_getBlockByNumber":[${blocks.map(text).join(',')}],"eth_call":[${tokens.map(text).join(',')}]}`;
  return new TextEncoder().encode(json);
}

/**
 * The block range a read covers: explicit blocks, else the window or the state, widened to whole UTC days.
 * `completeUntil` (ms) is set when the range ends with the window's last day rather than at the safe head.
 */
async function blockRange(view: ChainView, ctx: ReadContext<TransfersState>, p: TransfersParams, safe: number): Promise<{ from: number; to: number; completeUntil?: number } | undefined> {
  if (p.fromBlock !== undefined) return { from: p.fromBlock, to: Math.min(p.toBlock ?? safe, safe) };
  const resume = ctx.state?.watermark === undefined ? undefined : startOfDay(ctx.state.watermark + 1000);
  const startMs = Math.max(ctx.window ? startOfDay(ctx.window.start.getTime()) : -Infinity, resume ?? -Infinity);
  if (!Number.isFinite(startMs)) {
    throw new TerminalError(`${EVM_TRANSFERS_JOB} needs a window (--from YYYY-MM-DD) or the job parameter from_block`, { hint: 'e.g. coinlake run evm.erc20_transfers --from 2024-06-10 --to 2024-06-11' });
  }
  const from = await firstBlockAtOrAfter(startMs / 1000, safe, view.timestampOf);
  let to = safe;
  let completeUntil: number | undefined;
  if (ctx.window) {
    const dayEnd = endOfDay(ctx.window.end.getTime());
    const next = await firstBlockAtOrAfter(dayEnd / 1000, safe, view.timestampOf);
    if (next <= safe) completeUntil = dayEnd - 1000; // a safe block of the next day exists: the last day is complete
    to = Math.min(safe, next - 1);
  }
  if (p.toBlock !== undefined && p.toBlock < to) {
    to = p.toBlock;
    completeUntil = undefined;
  }
  return from <= to ? { from, to, completeUntil } : undefined;
}

/** The pages of one read of the stream, its parameters already checked. */
export async function* readTransfers(ctx: ReadContext<TransfersState>, p: TransfersParams): AsyncGenerator<Page<TransfersState>> {
  const rpc = new JsonRpcClient(ctx.baseUrl, ctx.http, { signal: ctx.signal });
  const view = new ChainView(rpc, p);
  const safe = (await view.head()) - p.confirmations;
  if (safe < 0) return;
  const range = await blockRange(view, ctx, p, safe);
  if (!range) return;
  const filterBase = { address: p.tokens && (p.tokens.length === 1 ? p.tokens[0] : p.tokens), topics: [TRANSFER_TOPIC] };
  let lastRequest: unknown;
  const getLogs = async (a: number, b: number) => {
    lastRequest = { method: 'eth_getLogs', params: [{ ...filterBase, fromBlock: toHex(a), toBlock: toHex(b) }] };
    return rpc.call('eth_getLogs', [{ ...filterBase, fromBlock: toHex(a), toBlock: toHex(b) }]);
  };
  for await (const r of adaptiveRanges(range.from, range.to, p.blockRange, getLogs)) {
    const request = lastRequest;
    const logs = asLogs(r.value.value, rpc.origin);
    const records: Record<string, unknown>[] = [];
    const stamped = new Map<number, number>();
    for (const log of logs) {
      const rec = transferRecord(log);
      if (!rec) continue;
      records.push(rec);
      if (typeof log.blockTimestamp === 'string' && isHex(log.blockTimestamp)) stamped.set(rec.block_number as number, hexToNumber(log.blockTimestamp as Hex));
    }
    for (const [n, ts] of stamped) view.timestamps.set(n, ts);
    const blockBodies = await view.loadTimestamps([...records.map((x) => x.block_number as number), r.to]);
    const tokenBodies = await view.loadTokens(records.map((x) => x.token_address as string), r.to);
    for (const rec of records) {
      rec.block_timestamp = view.timestamps.get(rec.block_number as number)! * 1000;
      Object.assign(rec, view.tokens.get(rec.token_address as string));
    }
    yield {
      raw: rawPage(request, r.value.body, blockBodies, tokenBodies),
      records,
      origin: `${rpc.origin} eth_getLogs ${r.from}-${r.to}`,
      nextState: { watermark: Math.max(view.timestamps.get(r.to)! * 1000, r.to === range.to ? (range.completeUntil ?? 0) : 0), block: r.to, job: EVM_TRANSFERS_JOB, params: stateParams(ctx.params) },
    };
  }
}
