// A small Ethereum JSON-RPC node over the deterministic chain of evm-chain.ts, mounted at POST /evm: eth_chainId,
// eth_blockNumber, eth_getBlockByNumber, eth_getLogs (refusing ranges wider than a limit with the error real
// providers send) and eth_call for symbol/name/decimals/totalSupply; single requests and batches.
import type { IncomingMessage } from 'node:http';
import type { Hex } from 'viem';
// From viem/utils: the main entry point loads all of viem (clients, chains, …), twice the start-up CPU.
import { hexToNumber, isHex } from 'viem/utils';
import { type EvmChain, TRANSFER_TOPIC, encodeMetadata } from './evm-replay-chain.ts';
import { jsonResponse, type ReplayResponse } from '../../replay/replay-response.ts';

export interface EvmRpcOptions {
  /** Widest eth_getLogs range (blocks, inclusive) accepted. Default 1000. */
  maxBlockRange?: number;
}

interface RpcRequest {
  jsonrpc?: string;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

class RpcError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
  }
}

const SELECTORS: Record<string, 'symbol' | 'name' | 'decimals' | 'totalSupply'> = {
  '0x95d89b41': 'symbol',
  '0x06fdde03': 'name',
  '0x313ce567': 'decimals',
  '0x18160ddd': 'totalSupply',
};

/** Reads a request body in full (JSON-RPC bodies are small). */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The JSON-RPC node; `calls` counts requests per method (a batch counts each of its calls). */
export class EvmRpcNode {
  readonly calls: Record<string, number> = {};
  readonly maxBlockRange: number;

  constructor(readonly chain: EvmChain, opts: EvmRpcOptions = {}) {
    this.maxBlockRange = opts.maxBlockRange ?? 1000;
  }

  /** Answers a POST /evm request. */
  async answer(req: IncomingMessage): Promise<ReplayResponse> {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return jsonResponse(200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    }
    if (Array.isArray(body)) return jsonResponse(200, body.map((r) => this.one(r as RpcRequest)));
    return jsonResponse(200, this.one(body as RpcRequest));
  }

  private one(r: RpcRequest): Record<string, unknown> {
    const id = r?.id ?? null;
    try {
      if (typeof r?.method !== 'string') throw new RpcError(-32600, 'invalid request');
      this.calls[r.method] = (this.calls[r.method] ?? 0) + 1;
      const params = Array.isArray(r.params) ? r.params : [];
      return { jsonrpc: '2.0', id, result: this.call(r.method, params) };
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError(-32603, String(err));
      return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } };
    }
  }

  private blockNumber(tag: unknown): number {
    if (tag === 'latest' || tag === 'safe' || tag === 'finalized' || tag === undefined) return this.chain.head;
    if (tag === 'earliest') return 0;
    if (typeof tag === 'string' && isHex(tag)) return hexToNumber(tag);
    throw new RpcError(-32602, `invalid block tag ${JSON.stringify(tag)}`);
  }

  private call(method: string, params: unknown[]): unknown {
    const chain = this.chain;
    switch (method) {
      case 'eth_chainId':
        return '0x539';
      case 'eth_blockNumber':
        return `0x${chain.head.toString(16)}`;
      case 'eth_getBlockByNumber': {
        const n = this.blockNumber(params[0]);
        return n > chain.head ? null : chain.block(n);
      }
      case 'eth_getLogs': {
        const filter = (params[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; address?: unknown; topics?: unknown[] };
        const from = this.blockNumber(filter.fromBlock ?? 'latest');
        const to = Math.min(this.blockNumber(filter.toBlock ?? 'latest'), chain.head);
        if (to - from + 1 > this.maxBlockRange) {
          throw new RpcError(-32005, 'query returned more than 10000 results', { from: `0x${from.toString(16)}`, to: `0x${to.toString(16)}`, limit: this.maxBlockRange });
        }
        const addresses = filter.address === undefined || filter.address === null ? undefined : (Array.isArray(filter.address) ? filter.address : [filter.address]).map((a) => String(a).toLowerCase());
        const topic0 = filter.topics?.[0];
        const logs = [];
        for (let n = Math.max(from, 0); n <= to; n++) {
          for (const log of chain.logsOf(n)) {
            if (addresses && !addresses.includes(log.address.toLowerCase())) continue;
            if (topic0 && (Array.isArray(topic0) ? !topic0.includes(TRANSFER_TOPIC) : topic0 !== TRANSFER_TOPIC)) continue;
            logs.push(log);
          }
        }
        return logs;
      }
      case 'eth_call': {
        const tx = (params[0] ?? {}) as { to?: string; data?: string; input?: string };
        const token = tx.to ? chain.token(tx.to) : undefined;
        const selector = (tx.data ?? tx.input ?? '').slice(0, 10).toLowerCase();
        if (!token) return '0x'; // no code at the address: calls succeed with empty output
        const field = SELECTORS[selector];
        const out = field === undefined ? undefined : encodeMetadata(field === 'totalSupply' ? token.totalSupply : token[field]);
        if (out === undefined) throw new RpcError(3, 'execution reverted', '0x');
        return out as Hex;
      }
      default:
        throw new RpcError(-32601, `the method ${method} does not exist/is not available`);
    }
  }
}
