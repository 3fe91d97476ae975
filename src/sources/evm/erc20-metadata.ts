// ERC-20 metadata by eth_call: symbol, name, decimals, totalSupply. Optional in EIP-20 and irregular in the wild:
// a call may revert, answer nothing, answer bytes32 instead of string (MKR), or decimals beyond uint8; each of
// those becomes NULL for that field, never a failed run.
import type { Hex } from 'viem';
// From viem/utils: the main entry point loads all of viem (clients, chains, …), twice the start-up CPU.
import { decodeAbiParameters, hexToBigInt, hexToString, isHex, trim } from 'viem/utils';
import type { JsonRpcClient, RpcCall } from './json-rpc-client.ts';

/** Selectors of the four metadata functions. */
export const METADATA_SELECTORS = {
  symbol: '0x95d89b41',
  name: '0x06fdde03',
  decimals: '0x313ce567',
  totalSupply: '0x18160ddd',
} as const;

export interface TokenMetadata {
  symbol: string | null;
  name: string | null;
  decimals: number | null;
  /** The exact integer as decimal text (uint256 does not fit a double or DECIMAL(38)). */
  total_supply: string | null;
}

const WORD = 66; // '0x' + 64 hex digits

/** Text from a `string` or `bytes32` answer; null when it is neither or not printable. */
export function decodeText(data: unknown): string | null {
  if (typeof data !== 'string' || !isHex(data) || data.length < WORD) return null;
  let text: string | null = null;
  if (data.length === WORD) {
    const trimmed = trim(data as Hex, { dir: 'right' });
    text = trimmed === '0x00' ? '' : hexToString(trimmed);
  } else {
    try {
      [text] = decodeAbiParameters([{ type: 'string' }], data as Hex);
    } catch {
      return null;
    }
  }
  text = text.replace(/\u0000+$/, '');
  return text !== '' && !/[\u0000-\u001f\ufffd]/.test(text) ? text : null;
}

/** A uint256 answer as bigint; null when the answer is not one word. */
function decodeUint(data: unknown): bigint | null {
  if (typeof data !== 'string' || !isHex(data) || data.length !== WORD) return null;
  return hexToBigInt(data as Hex);
}

/** Metadata of a token from the four call answers (undefined answers are failed calls). */
export function metadataOf(answers: { symbol?: unknown; name?: unknown; decimals?: unknown; totalSupply?: unknown }): TokenMetadata {
  const decimals = decodeUint(answers.decimals);
  const supply = decodeUint(answers.totalSupply);
  return {
    symbol: decodeText(answers.symbol),
    name: decodeText(answers.name),
    decimals: decimals !== null && decimals <= 255n ? Number(decimals) : null,
    total_supply: supply === null ? null : supply.toString(),
  };
}

/**
 * Reads the metadata of `tokens` at block `blockTag` in batches of `batchSize` calls (4 per token). Returns the
 * metadata per lower-case address and the response bodies as received.
 */
export async function readTokenMetadata(rpc: JsonRpcClient, tokens: string[], blockTag: string, batchSize: number): Promise<{ metadata: Map<string, TokenMetadata>; bodies: Uint8Array[] }> {
  const fields = Object.keys(METADATA_SELECTORS) as (keyof typeof METADATA_SELECTORS)[];
  const calls: { token: string; field: (typeof fields)[number]; call: RpcCall }[] = [];
  for (const token of tokens) {
    for (const field of fields) calls.push({ token, field, call: { method: 'eth_call', params: [{ to: token, data: METADATA_SELECTORS[field] }, blockTag] } });
  }
  const answers = new Map<string, Record<string, unknown>>(tokens.map((t) => [t, {}]));
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < calls.length; i += batchSize) {
    const part = calls.slice(i, i + batchSize);
    if (batchSize === 1) {
      const c = part[0];
      try {
        const { value, body } = await rpc.call(c.call.method, c.call.params);
        answers.get(c.token)![c.field] = value;
        bodies.push(body);
      } catch (err) {
        if (!(err instanceof Error && err.name === 'JsonRpcError')) throw err;
      }
      continue;
    }
    const { value, body } = await rpc.batch(part.map((c) => c.call));
    bodies.push(body);
    value.forEach((outcome, j) => {
      if (outcome.ok) answers.get(part[j].token)![part[j].field] = outcome.result;
    });
  }
  return { metadata: new Map(tokens.map((t) => [t, metadataOf(answers.get(t)!)])), bodies };
}
