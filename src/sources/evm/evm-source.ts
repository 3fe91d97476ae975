// ERC-20 transfers from any EVM JSON-RPC node: eth_getLogs on the Transfer topic over block ranges (split when the
// node refuses one as too large), block timestamps, token metadata by eth_call. Reads whole UTC days of blocks with
// at least `confirmations` confirmations, so `delete_insert` by block date replaces complete days (reorg safety).
// The reading itself (viem's decoding, the node's answers) is in evm-transfers-read.ts, loaded when a read starts.
import type { Hex } from 'viem';
import { TerminalError } from '../../core/errors.ts';
import type { Page, Source, Stream, StreamParams } from '../../core/source.ts';
import { erc20TransfersTable } from './evm-tables.ts';

/** A local node's default endpoint (geth, anvil, hardhat); real jobs set the connection URL. */
export const EVM_DEFAULT_URL = 'http://127.0.0.1:8545';
export const EVM_TRANSFERS_JOB = 'evm.erc20_transfers';
/** keccak256("Transfer(address,address,uint256)"). */
export const TRANSFER_TOPIC: Hex = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
const DAY_MS = 86_400_000;

/** Defaults of the stream's parameters. */
export const EVM_DEFAULTS = { confirmations: 12, blockRange: 2000, batchSize: 100 } as const;

/** State after a read: the timestamp (ms) and number of the last block read. */
export interface TransfersState {
  watermark: number;
  block?: number;
  /** What `coinlake daily` reruns: the job and its params (without from_block / to_block). */
  job: typeof EVM_TRANSFERS_JOB;
  params?: StreamParams;
}

/** The params a state keeps: those that say what to read, not where a run started or stopped. */
export function stateParams(params: StreamParams): StreamParams {
  const { from_block: _f, to_block: _t, ...rest } = params;
  return rest;
}

/** Parameters of the stream, from the job (`tokens`, `from_block`, `to_block`, `confirmations`, `block_range`, `batch_size`). */
export interface TransfersParams {
  tokens?: string[];
  fromBlock?: number;
  toBlock?: number;
  confirmations: number;
  blockRange: number;
  batchSize: number;
}

function intParam(params: StreamParams, name: string, fallback: number | undefined, min = 0): number | undefined {
  const raw = params[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new TerminalError(`${EVM_TRANSFERS_JOB}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Checks and reads the stream's parameters. */
function transfersParams(params: StreamParams): TransfersParams {
  const tokens = params.tokens === undefined || params.tokens === '' ? undefined : String(params.tokens).split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
  for (const t of tokens ?? []) {
    if (!/^0x[0-9a-f]{40}$/.test(t)) throw new TerminalError(`${EVM_TRANSFERS_JOB}: tokens must be 0x-prefixed 20-byte addresses, got "${t}"`);
  }
  return {
    tokens,
    fromBlock: intParam(params, 'from_block', undefined),
    toBlock: intParam(params, 'to_block', undefined),
    confirmations: intParam(params, 'confirmations', EVM_DEFAULTS.confirmations)!,
    blockRange: intParam(params, 'block_range', EVM_DEFAULTS.blockRange, 1)!,
    batchSize: intParam(params, 'batch_size', EVM_DEFAULTS.batchSize, 1)!,
  };
}

/** Midnight UTC at or before `ms`. */
export const startOfDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
/** Midnight UTC at or after `ms`. */
export const endOfDay = (ms: number) => Math.ceil(ms / DAY_MS) * DAY_MS;

/** The stream of ERC-20 Transfer events. */
export const erc20TransfersStream: Stream<TransfersState> = {
  name: 'erc20_transfers',
  table: erc20TransfersTable,
  defaultWriteMode: 'delete_insert',
  cursor: 'block_timestamp',
  // A job without --asset/--interval keeps the state name it always had (ERC20_TRANSFERS_BITCOIN_H1).
  stateNameDefaults: { asset: 'bitcoin', interval: 'h1' },
  stateAfter(params, window) {
    return { watermark: endOfDay(window.end.getTime()) - 1000, job: EVM_TRANSFERS_JOB, params: stateParams(params) };
  },
  async *read(ctx): AsyncGenerator<Page<TransfersState>> {
    const p = transfersParams(ctx.params);
    // viem decodes the logs: loaded when a read starts, not with the source registry (every command loads that).
    const { readTransfers } = await import('./evm-transfers-read.ts');
    yield* readTransfers(ctx, p);
  },
};

/** The EVM source: one stream, ERC-20 transfers. The node URL is the connection's (a key in its path is masked). */
export const evmSource: Source = {
  name: 'evm',
  defaultBaseUrl: EVM_DEFAULT_URL,
  rateLimitPerMinute: 600,
  variables: { baseUrl: 'COINLAKE_EVM_URL' },
  replay: { baseUrl: (serverUrl) => `${serverUrl}/evm` },
  streams: [erc20TransfersStream],
};

