// End to end: ERC-20 transfers from an EVM JSON-RPC node → lake → warehouse, on DuckDB and PostgreSQL.
// 1. A REAL local chain (ganache, in-process, started by the test): three tokens deployed — string metadata,
//    bytes32 metadata, none — known transfers made, then ingested by day; every row must equal the chain's receipts.
// 2. The replay server's JSON-RPC node, which refuses wide eth_getLogs ranges: adaptive splitting, confirmations,
//    resuming from the committed state, delete_insert by block date.
import { readFileSync } from 'node:fs';
import ganache from 'ganache';
import { createPublicClient, createWalletClient, defineChain, http, type Abi, type Hex, type TransactionReceipt } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EvmChain, REPLAY_TOKENS } from '../src/replay/index.ts';
import { buildJob, type JobOptions } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';

const artifacts = JSON.parse(readFileSync(new URL('./fixtures/evm/test-tokens.json', import.meta.url), 'utf8')) as {
  contracts: Record<'PlainToken' | 'Bytes32Token' | 'BareToken', { abi: Abi; bytecode: Hex }>;
};

const GENESIS = new Date('2024-06-10T00:00:00Z');
/** Every block is 2 hours after the previous one: 12 blocks a day. */
const BLOCK_SECONDS = 7200;
const JOB_NAMES = { connectionName: 'EVM', tableName: 'ERC20_TRANSFERS' };
const lineage = ({ _run_id: _r, _loaded_at: _l, ...rest }: Record<string, unknown>) => rest;

interface Chain {
  url: string;
  close(): Promise<void>;
  tokens: { plain: Hex; bytes32: Hex; bare: Hex };
  /** The rows erc20_transfers must hold for the chain's transfers, by block date. */
  expected: Record<string, unknown>[];
  head: number;
}

/** Starts ganache, deploys the three tokens and makes known transfers; returns what the table must hold. */
async function startChain(): Promise<Chain> {
  const server = ganache.server({
    logging: { quiet: true },
    wallet: { deterministic: true, totalAccounts: 4 },
    chain: { chainId: 1337, time: GENESIS },
    miner: { timestampIncrement: BLOCK_SECONDS },
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const chain = defineChain({ id: 1337, name: 'ganache', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [url] } } });
  const pub = createPublicClient({ chain, transport: http(url) });
  const [alice, bob, carol, dave] = (await pub.request({ method: 'eth_accounts' } as never)) as Hex[];
  const wallet = createWalletClient({ chain, transport: http(url), account: alice });
  const receipts: TransactionReceipt[] = [];
  const mined = async (hash: Hex) => {
    const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 10 });
    receipts.push(r);
    if (r.status !== 'success') throw new Error(`transaction ${hash} in block ${r.blockNumber} reverted`);
    return r;
  };
  const { PlainToken, Bytes32Token, BareToken } = artifacts.contracts;
  const deploy = async (c: { abi: Abi; bytecode: Hex }, args: unknown[]) => (await mined(await wallet.deployContract({ abi: c.abi, bytecode: c.bytecode, args, gas: 3_000_000n }))).contractAddress!;
  const plain = await deploy(PlainToken, ['Coinlake Test Dollar', 'CTUSD', 6, 1_000_000_000_000n]);
  const bytes32 = await deploy(Bytes32Token, [10n ** 24n]);
  const bare = await deploy(BareToken, [2n ** 255n]);
  const send = async (address: Hex, abi: Abi, functionName: string, args: unknown[], from: Hex = alice) =>
    mined(await wallet.writeContract({ address, abi, functionName, args, account: from, chain, gas: 200_000n }));
  await send(plain, PlainToken.abi, 'transfer', [bob, 1_500_000n]);
  await send(bytes32, Bytes32Token.abi, 'transfer', [carol, 5n * 10n ** 18n]);
  await send(bare, BareToken.abi, 'transfer', [bob, 2n ** 200n + 7n]); // beyond DECIMAL(38) and a double's precision
  await send(plain, PlainToken.abi, 'approve', [carol, 400_000n]); // an Approval log: not a transfer
  await send(plain, PlainToken.abi, 'transferFrom', [alice, dave, 400_000n], carol);
  await send(plain, PlainToken.abi, 'transfer', [carol, 1n], bob);
  await send(bytes32, Bytes32Token.abi, 'transfer', [dave, 1n], carol);
  await send(plain, PlainToken.abi, 'transfer', [alice, 0n], dave); // a zero transfer is still a transfer
  await send(bare, BareToken.abi, 'transfer', [carol, 3n]);
  await send(plain, PlainToken.abi, 'transfer', [bob, 123_456n]);
  await send(bytes32, Bytes32Token.abi, 'transfer', [bob, 10n ** 18n]);
  await send(plain, PlainToken.abi, 'transfer', [dave, 42n]);
  await send(bare, BareToken.abi, 'transfer', [dave, 1n], carol);
  const metadata: Record<string, Record<string, unknown>> = {
    [plain.toLowerCase()]: { symbol: 'CTUSD', name: 'Coinlake Test Dollar', decimals: 6, total_supply: '1000000000000' },
    [bytes32.toLowerCase()]: { symbol: 'MKR', name: 'Maker', decimals: 18, total_supply: (10n ** 24n).toString() },
    [bare.toLowerCase()]: { symbol: null, name: null, decimals: null, total_supply: (2n ** 255n).toString() },
  };
  const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
  const expected: Record<string, unknown>[] = [];
  for (const r of receipts) {
    const block = await pub.getBlock({ blockNumber: r.blockNumber });
    for (const log of r.logs) {
      if (log.topics[0] !== TRANSFER) continue;
      expected.push({
        token_address: log.address.toLowerCase(),
        ...metadata[log.address.toLowerCase()],
        from_address: `0x${log.topics[1]!.slice(26)}`,
        to_address: `0x${log.topics[2]!.slice(26)}`,
        value: BigInt(log.data).toString(),
        transaction_hash: log.transactionHash,
        log_index: log.logIndex,
        block_timestamp: new Date(Number(block.timestamp) * 1000),
        block_number: Number(log.blockNumber),
        block_hash: log.blockHash,
      });
    }
  }
  return { url, close: () => server.close(), tokens: { plain, bytes32, bare }, expected, head: Number(await pub.getBlockNumber()) };
}

let chain: Chain;
beforeAll(async () => {
  chain = await startChain();
});
afterAll(async () => chain?.close());

let env: SpineEnv;
afterEach(async () => {
  const done = env;
  env = undefined as unknown as SpineEnv;
  await done?.close();
});

const transfers = async () =>
  (await env.session.query<Record<string, unknown>>('SELECT * FROM coinlake.erc20_transfers ORDER BY block_number, log_index')).map(lineage);
/** Runs the transfers job against the ganache node. */
const runOnChain = (opts: JobOptions) =>
  runJob(buildJob('evm.erc20_transfers', { ...JOB_NAMES, ...opts }, { baseUrls: { evm: chain.url }, rateLimitPerMinute: 0, http: { minBackoffMs: 20, maxBackoffMs: 200, retries: 4 } }), {
    session: env.session,
    lake: env.lake,
    progress: false,
  });
const onDay = (rows: Record<string, unknown>[], day: string) => rows.filter((r) => (r.block_timestamp as Date).toISOString().startsWith(day));

describe.each(WAREHOUSES)('ERC-20 transfers on %s', (kind) => {
  describe('from a real local chain (ganache)', () => {
    it('the chain is what the test meant: 16 blocks, 2 hours apart, 15 transfers over two days', () => {
      expect(chain.head).toBe(16);
      expect(chain.expected).toHaveLength(15); // 3 mints + 12 transfers (the approve is no transfer)
      expect(onDay(chain.expected, '2024-06-10')).toHaveLength(10); // blocks 1–11
      expect(onDay(chain.expected, '2024-06-11')).toHaveLength(5); // blocks 12–16
    });

    it('day by day: exactly the transfers of each block date, with metadata, exact uint256 values, block hash', async () => {
      env = await spineEnv(kind);
      const day1 = await runOnChain({ from: '2024-06-10', to: '2024-06-11', params: { confirmations: 0 } });
      expect(day1.rowsLoaded).toBe(10);
      expect(day1.load).toEqual({ inserted: 10, updated: 0, deleted: 0 });
      expect(await transfers()).toEqual(onDay(chain.expected, '2024-06-10'));
      expect(day1.state).toMatchObject({ watermark: Date.parse('2024-06-10T23:59:59Z'), block: 11, job: 'evm.erc20_transfers' });
      // The next run resumes at the next day from the committed state, and keeps 2 confirmations off the head.
      const day2 = await runOnChain({ params: { confirmations: 2 } });
      expect(day2.rowsLoaded).toBe(3); // blocks 12–14
      expect(await transfers()).toEqual(chain.expected.filter((r) => (r.block_number as number) <= chain.head - 2));
      // Rerun of the last (incomplete) day with every block: delete_insert replaces that day's rows.
      const again = await runOnChain({ params: { confirmations: 0 } });
      expect(again.load).toEqual({ inserted: 5, updated: 0, deleted: 3 });
      expect(await transfers()).toEqual(chain.expected);
    });

    it('a token filter and an explicit block range read only those logs', async () => {
      env = await spineEnv(kind);
      const s = await runOnChain({ params: { tokens: chain.tokens.bare, from_block: 1, to_block: 12, confirmations: 0 } });
      expect(s.rowsLoaded).toBe(3); // the mint, block 6 and block 12 (block 16 is past to_block)
      expect(await transfers()).toEqual(chain.expected.filter((r) => r.token_address === chain.tokens.bare.toLowerCase() && (r.block_number as number) <= 12));
      const big = await env.session.query<{ value: string; total_supply: string }>(`SELECT value, total_supply FROM coinlake.erc20_transfers WHERE block_number = 6`);
      expect(big).toEqual([{ value: '1606938044258990275541962092341162602522202993782792835301383', total_supply: (2n ** 255n).toString() }]);
      expect(big[0].value).toBe((2n ** 200n + 7n).toString());
    });
  });

  describe('from the replay JSON-RPC node (refuses wide ranges)', () => {
    const replayChain = new EvmChain();
    /** The rows the replay chain's blocks [from, to] must give. */
    const replayRows = (from: number, to: number) => {
      const out: Record<string, unknown>[] = [];
      for (let n = from; n <= to; n++) {
        for (const log of replayChain.logsOf(n)) {
          const token = REPLAY_TOKENS.find((t) => t.address === log.address)!;
          out.push({
            token_address: log.address,
            symbol: token.symbol?.value ?? null,
            name: token.name?.value ?? null,
            decimals: token.decimals ?? null,
            total_supply: token.totalSupply.toString(),
            from_address: `0x${log.topics[1].slice(26)}`,
            to_address: `0x${log.topics[2].slice(26)}`,
            value: BigInt(log.data).toString(),
            transaction_hash: log.transactionHash,
            log_index: Number(log.logIndex),
            block_timestamp: new Date(replayChain.timestamp(n) * 1000),
            block_number: n,
            block_hash: log.blockHash,
          });
        }
      }
      return out;
    };

    it('splits refused eth_getLogs ranges, reads one whole UTC day, and the rows match the chain', async () => {
      env = await spineEnv(kind, { evmMaxBlockRange: 300 });
      const s = await env.run('evm.erc20_transfers', { ...JOB_NAMES, from: '2024-06-10', to: '2024-06-11' });
      // 7200 blocks of 12 s make the day; every 50th carries 1–3 transfers.
      const expected = replayRows(0, 7199);
      expect(s.rowsLoaded).toBe(expected.length);
      expect(expected.length).toBe(287);
      expect(await transfers()).toEqual(expected);
      const calls = env.replay.evm.calls;
      expect(calls.eth_getLogs).toBeGreaterThan(s.pages); // some ranges were refused and split
      expect(s.pages * 250).toBeGreaterThanOrEqual(7200);
      expect(s.state).toMatchObject({ watermark: Date.parse('2024-06-10T23:59:59Z'), block: 7199 });
      // delete_insert by block date: the same day again replaces exactly its rows.
      // (under another table name: the first job's committed state says the day is read already)
      const again = await env.run('evm.erc20_transfers', { ...JOB_NAMES, tableName: 'ERC20_TRANSFERS_AGAIN', from: '2024-06-10', to: '2024-06-11', params: { block_range: 250 } });
      expect(again.load).toEqual({ inserted: 287, updated: 0, deleted: 287 });
    });

    it('stops `confirmations` blocks below the head (default 12) and resumes from the committed state', async () => {
      env = await spineEnv(kind, { evmHead: 9000 });
      const first = await env.run('evm.erc20_transfers', { ...JOB_NAMES, from: '2024-06-10' });
      expect(first.state).toMatchObject({ block: 8988 });
      expect(await transfers()).toEqual(replayRows(0, 8988));
      // The next run re-reads the incomplete day 2024-06-11 (rows are replaced per block date), not day 1.
      const second = await env.run('evm.erc20_transfers', { ...JOB_NAMES, params: { confirmations: 0 } });
      expect(second.load).toEqual({ inserted: replayRows(7200, 9000).length, updated: 0, deleted: replayRows(7200, 8988).length });
      expect(await transfers()).toEqual(replayRows(0, 9000));
    });

    it('a job without a window or a start block says what it needs', async () => {
      env = await spineEnv(kind);
      await expect(env.run('evm.erc20_transfers', JOB_NAMES)).rejects.toThrow('evm.erc20_transfers needs a window (--from YYYY-MM-DD) or the job parameter from_block');
    });
  });
});
