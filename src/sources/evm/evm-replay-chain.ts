// A deterministic EVM chain for the replay server's JSON-RPC node: blocks every 12 s from a genesis time, three
// ERC-20 tokens of the shapes met in the wild (string metadata; bytes32 name/symbol; none at all) and Transfer logs
// in every 50th block. Everything is a pure function of the block number, so tests can compute what to expect.
import type { Hex } from 'viem';
// From viem/utils: the main entry point loads all of viem (clients, chains, …), twice the start-up CPU.
import { encodeAbiParameters, keccak256, pad, stringToHex, toHex } from 'viem/utils';

/** keccak256("Transfer(address,address,uint256)"). */
export const TRANSFER_TOPIC: Hex = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

export interface ReplayToken {
  address: Hex;
  /** undefined: the call reverts. */
  symbol?: { type: 'string' | 'bytes32'; value: string };
  name?: { type: 'string' | 'bytes32'; value: string };
  decimals?: number;
  totalSupply: bigint;
}

/** The three tokens: a plain one, one with bytes32 name/symbol (the MKR shape), one without name/symbol/decimals. */
export const REPLAY_TOKENS: ReplayToken[] = [
  { address: '0x1111111111111111111111111111111111111111', symbol: { type: 'string', value: 'USDR' }, name: { type: 'string', value: 'Replay Dollar' }, decimals: 6, totalSupply: 1_000_000_000_000_000n },
  { address: '0x2222222222222222222222222222222222222222', symbol: { type: 'bytes32', value: 'MKR' }, name: { type: 'bytes32', value: 'Maker' }, decimals: 18, totalSupply: 977_631_036_950_000_000_000_000n },
  { address: '0x3333333333333333333333333333333333333333', totalSupply: 2n ** 255n + 12345n },
];

export interface EvmChainOptions {
  /** ISO time of block 0. Default 2024-06-10T00:00:00Z. */
  genesis?: string;
  /** Seconds between blocks. Default 12. */
  blockSeconds?: number;
  /** Number of the latest block. Default 20 000 (about 2.8 days). */
  head?: number;
  /** Blocks whose number is a multiple of this carry transfers. Default 50. */
  transferEvery?: number;
}

/** One Transfer log as a node returns it, plus its decoded parts for tests. */
export interface ReplayLog {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  logIndex: Hex;
  removed: false;
}

const holder = (i: number): Hex => pad(toHex(0xa000 + i), { size: 20 });

/** The deterministic chain; `logsOf(n)` gives block n's Transfer logs. */
export class EvmChain {
  readonly genesisSeconds: number;
  readonly blockSeconds: number;
  readonly head: number;
  readonly transferEvery: number;

  constructor(opts: EvmChainOptions = {}) {
    this.genesisSeconds = Date.parse(opts.genesis ?? '2024-06-10T00:00:00Z') / 1000;
    this.blockSeconds = opts.blockSeconds ?? 12;
    this.head = opts.head ?? 20_000;
    this.transferEvery = opts.transferEvery ?? 50;
  }

  timestamp(n: number): number {
    return this.genesisSeconds + n * this.blockSeconds;
  }

  blockHash(n: number): Hex {
    return keccak256(stringToHex(`replay-block-${n}`));
  }

  block(n: number): Record<string, unknown> {
    return {
      number: toHex(n),
      hash: this.blockHash(n),
      parentHash: n === 0 ? pad('0x0', { size: 32 }) : this.blockHash(n - 1),
      timestamp: toHex(this.timestamp(n)),
      gasLimit: toHex(30_000_000),
      gasUsed: '0x0',
      miner: pad('0x0', { size: 20 }),
      transactions: [],
    };
  }

  /** Block n's Transfer logs: none unless n is a multiple of transferEvery; then 1 to 3, rotating over the tokens. */
  logsOf(n: number): ReplayLog[] {
    if (n === 0 || n % this.transferEvery !== 0) return [];
    const k = n / this.transferEvery;
    const count = 1 + (k % 3);
    const logs: ReplayLog[] = [];
    for (let i = 0; i < count; i++) {
      const token = REPLAY_TOKENS[(k + i) % REPLAY_TOKENS.length];
      const from = k % 7 === 0 && i === 0 ? pad('0x0', { size: 20 }) : holder((k + i) % 11);
      const to = holder((k + i + 3) % 13);
      // Token 3 moves amounts beyond 2^128 (and beyond DECIMAL(38)); the others ordinary ones.
      const value = token === REPLAY_TOKENS[2] ? 2n ** 200n + BigInt(k * 1000 + i) : BigInt(k) * 1_000_000n + BigInt(i);
      logs.push({
        address: token.address,
        topics: [TRANSFER_TOPIC, pad(from, { size: 32 }), pad(to, { size: 32 })],
        data: encodeAbiParameters([{ type: 'uint256' }], [value]),
        blockNumber: toHex(n),
        blockHash: this.blockHash(n),
        transactionHash: keccak256(stringToHex(`replay-tx-${n}-${i}`)),
        transactionIndex: toHex(i),
        logIndex: toHex(i),
        removed: false,
      });
    }
    return logs;
  }

  token(address: string): ReplayToken | undefined {
    return REPLAY_TOKENS.find((t) => t.address.toLowerCase() === address.toLowerCase());
  }
}

/** ABI encoding of a token's metadata answer, or undefined when the token reverts. */
export function encodeMetadata(field: { type: 'string' | 'bytes32'; value: string } | number | bigint | undefined): Hex | undefined {
  if (field === undefined) return undefined;
  if (typeof field === 'number' || typeof field === 'bigint') return encodeAbiParameters([{ type: 'uint256' }], [BigInt(field)]);
  if (field.type === 'bytes32') return pad(stringToHex(field.value), { size: 32, dir: 'right' });
  return encodeAbiParameters([{ type: 'string' }], [field.value]);
}
