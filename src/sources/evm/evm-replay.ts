// An EVM node on the replay server: JSON-RPC (POST) at /evm over a deterministic chain of ERC-20 transfers.
import type { SourceReplayRoutes } from '../../replay/replay-mount.ts';
import { EvmChain } from './evm-replay-chain.ts';
import { EvmRpcNode } from './evm-replay-rpc.ts';

export interface EvmReplayOptions {
  /** Latest block of the /evm JSON-RPC node. Default 20 000 (blocks every 12 s from 2024-06-10T00:00Z). */
  evmHead?: number;
  /** Widest eth_getLogs block range the /evm node accepts. Default 1000. */
  evmMaxBlockRange?: number;
}

export interface EvmReplayApi {
  /** url + '/evm': the JSON-RPC node (POST). */
  evmUrl: string;
  /** The JSON-RPC node: its chain and per-method call counts. */
  evm: EvmRpcNode;
}

/** The EVM node's replay route for one server start. */
export async function evmReplay(opts: EvmReplayOptions): Promise<SourceReplayRoutes<EvmReplayApi>> {
  const evm = new EvmRpcNode(new EvmChain({ head: opts.evmHead }), { maxBlockRange: opts.evmMaxBlockRange });
  return {
    mounts: [{ prefix: '/evm', bare: 'exact', method: 'POST', answer: ({ req }) => evm.answer(req) }],
    api: (url) => ({ evmUrl: `${url}/evm`, evm }),
  };
}
