// The EVM source in the source conformance suite (src/sources/conformance/): ERC-20 transfers of one token over the
// first whole UTC day of the replay server's deterministic chain (src/replay/evm-chain.ts), read over JSON-RPC.
import type { SourceConformance } from '../conformance/conformance-spec.ts';
import type { Rewrite } from '../conformance/exchange-server.ts';
import { evmSource } from './evm-source.ts';

const TOKEN = '0x1111111111111111111111111111111111111111';

/** An eth_getLogs answer with no logs (the only call answered with an array); other calls as recorded. */
const noLogs: Rewrite = (response) => {
  const r = response as { result?: unknown };
  if (r && !Array.isArray(r) && Array.isArray(r.result)) r.result = [];
  return response;
};

export const conformance: SourceConformance = {
  source: evmSource,
  streams: [
    {
      stream: 'erc20_transfers',
      // Day one is blocks 0–7199 (12 s blocks from 2024-06-10T00:00Z); the head at 7300 leaves day two incomplete.
      record: {
        basePath: '/evm',
        params: { tokens: '0x1111111111111111111111111111111111111111', block_range: 2500 },
        window: { start: '2024-06-10T00:00:00Z', end: '2024-06-10T23:59:59Z' },
        rerunWindow: { start: '2024-06-10T00:00:00Z', end: '2024-06-11T23:59:59Z' },
        replay: { evmHead: 7300, evmMaxBlockRange: 5000 },
      },
      rows: 95,
      pages: 3,
      values: [
        {
          transaction_hash: '0x27c54497824f0c6b6d31d6e4fdb7a189c74b908d74821a09b6a0be80ffa022d3', log_index: 1, token_address: TOKEN, symbol: 'USDR', name: 'Replay Dollar', decimals: 6,
          total_supply: '1000000000000000', from_address: '0x000000000000000000000000000000000000a003', to_address: '0x000000000000000000000000000000000000a006', value: '2000001',
          block_number: 100, block_timestamp: new Date('2024-06-10T00:20:00Z'),
        },
        { transaction_hash: '0x7ac363abdf159daebf0d44c36f15c8fbb21331b6f0721b61010980a555fd9770', log_index: 1, value: '143000001', block_number: 7150, block_timestamp: new Date('2024-06-10T23:50:00Z') },
      ],
      // Day one read whole: the watermark is its last second (not the last transfer's time, 23:50Z), so the rerun
      // starts with day two (blocks 7200 on, up to the safe head 7288).
      state: { watermark: 1718063999000, block: 7199, job: 'evm.erc20_transfers', params: { tokens: TOKEN, block_range: 2500 } },
      rerunRequestsMatching: /eth_getLogs/,
      rerunRequests: [`/evm eth_getLogs([{"address":"${TOKEN}","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],"fromBlock":"0x1c20","toBlock":"0x1c78"}])`],
      empty: noLogs,
      // Longer than the JSON-RPC client's own backoff (250–500 ms), so only a wait for Retry-After passes.
      retryAfterSeconds: 0.6,
      skip: {
        drift: 'records are decoded Transfer events (topics and data by the ABI): a log\'s other keys are no record fields, and the raw lake keeps every response',
      },
    },
  ],
};
