// Loads the recorded CoinCap captures under test/fixtures/ that its replay routes serve.
// Read once per server start so a test can edit copies (setData) without touching the files.
import { readFile } from 'node:fs/promises';
import { TerminalError } from '../../core/errors.ts';
import { fixturesRoot, type ApiRecord } from '../../replay/recorded-fixtures.ts';

export type CollectionName = 'assets' | 'exchanges' | 'rates' | 'markets';

export interface RecordedFixtures {
  collections: Record<CollectionName, ApiRecord[]>;
  /** The `data` array of the recorded bitcoin h1 history envelope. */
  bitcoinHistory: ApiRecord[];
  /** The 2025 v2 deprecation body, byte-for-byte as captured. */
  deprecatedV2Body: Buffer;
}

const FIXTURE_HINT = 'the recorded payloads under test/fixtures/ were changed: restore the file from the repository';

async function readJson(relativePath: string): Promise<unknown> {
  return JSON.parse(await readFile(new URL(relativePath, fixturesRoot), 'utf8'));
}

async function readRecordArray(relativePath: string): Promise<ApiRecord[]> {
  const parsed = await readJson(relativePath);
  if (!Array.isArray(parsed)) throw new TerminalError(`fixture ${relativePath} is not a JSON array`, { file: relativePath, hint: FIXTURE_HINT });
  return parsed as ApiRecord[];
}

/** Read every capture the replay server needs; fails loudly when one is missing or malformed. */
export async function loadRecordedFixtures(): Promise<RecordedFixtures> {
  const [assets, exchanges, rates, markets, history, deprecatedV2Body] = await Promise.all([
    readRecordArray('coincap-v2/assets.json'),
    readRecordArray('coincap-v2/exchanges.json'),
    readRecordArray('coincap-v2/rates.json'),
    readRecordArray('coincap-v2/markets.json'),
    readJson('coincap-v2/bitcoin-history.json'),
    readFile(new URL('formats/coincap-v2-deprecated-2025.json', fixturesRoot)),
  ]);
  const historyData = (history as { data?: unknown }).data;
  if (!Array.isArray(historyData)) {
    throw new TerminalError('fixture coincap-v2/bitcoin-history.json has no data array', { file: 'coincap-v2/bitcoin-history.json', hint: FIXTURE_HINT });
  }
  return {
    collections: { assets, exchanges, rates, markets },
    bitcoinHistory: historyData as ApiRecord[],
    deprecatedV2Body,
  };
}
