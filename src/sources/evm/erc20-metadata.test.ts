import { encodeAbiParameters, pad, stringToHex } from 'viem';
import { describe, expect, it } from 'vitest';
import { decodeText, metadataOf } from './erc20-metadata.ts';
import { redactRpcUrl } from './json-rpc-client.ts';

const uint = (n: bigint) => encodeAbiParameters([{ type: 'uint256' }], [n]);

describe('ERC-20 metadata answers', () => {
  it('string, bytes32 (MKR) and broken answers', () => {
    expect(decodeText(encodeAbiParameters([{ type: 'string' }], ['USD Coin']))).toBe('USD Coin');
    expect(decodeText(pad(stringToHex('MKR'), { size: 32, dir: 'right' }))).toBe('MKR');
    expect(decodeText('0x')).toBeNull();
    expect(decodeText(undefined)).toBeNull();
    expect(decodeText(pad('0x00', { size: 32 }))).toBeNull();
    expect(decodeText(uint(18n) + 'ff')).toBeNull();
  });

  it('decimals beyond uint8 and missing answers become NULL; totalSupply stays exact', () => {
    expect(metadataOf({ symbol: encodeAbiParameters([{ type: 'string' }], ['X']), decimals: uint(6n), totalSupply: uint(2n ** 255n) })).toEqual({
      symbol: 'X',
      name: null,
      decimals: 6,
      total_supply: (2n ** 255n).toString(),
    });
    expect(metadataOf({ decimals: uint(1000n) }).decimals).toBeNull();
  });

  it('a key in the node URL path or query is masked', () => {
    expect(redactRpcUrl('https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef')).toBe('https://mainnet.infura.io/v3/***');
    expect(redactRpcUrl('http://127.0.0.1:8545/evm?apikey=abc')).toBe('http://127.0.0.1:8545/evm?apikey=***');
  });
});
