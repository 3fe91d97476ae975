// `identity:` in a config file, through the CLI as a user runs it: a file of pins, forbids and exchange aliases alone
// is imported without touching the catalog proper (even with --prune), exported back exactly, and refused with the
// line at fault when it contradicts itself.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');

describe('identity: in config files', () => {
  let dir: string;
  const coinlake = (args: string[]) =>
    run(process.execPath, [BIN, '--warehouse', path.join(dir, 'w.duckdb'), ...args], { cwd: dir, env: { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', NO_COLOR: '1' } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );
  const IDENTITY = `identity:
  assets:
    - { source: coinlore, source_id: "2353", asset: hinto-network, action: pin, note: not Helium }
    - { source: coinlore, source_id: 33, asset: helium, action: forbid }
  exchanges:
    - { alias: CBX, exchange: Coinbase }
`;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-identity-'));
    await writeFile(path.join(dir, 'catalog.yaml'), `connections:\n  - { name: BINANCE }\ningestions:\n  - { connection: BINANCE, asset: BTC_1M, target_table: ohlcv_1m, source: binance.klines, params: { symbol: BTCUSDT } }\n`);
    await writeFile(path.join(dir, 'identity.yaml'), IDENTITY);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('an identity-only file changes only the alias rows, --prune included; export writes them back; a re-import changes nothing', async () => {
    expect((await coinlake(['catalog', 'import', 'catalog.yaml'])).code).toBe(0);
    const imported = await coinlake(['catalog', 'import', 'identity.yaml', '--prune']);
    expect(imported.code).toBe(0);
    expect(imported.stdout.split('\n').slice(1).join('\n')).toBe(
      ['table           added  updated  unchanged  removed', '--------------  -----  -------  ---------  -------', 'asset_alias     2      0        0          0', 'exchange_alias  1      0        0          0', ''].join('\n'),
    );
    const exported = await coinlake(['catalog', 'export', 'back.yaml']);
    expect(exported.code).toBe(0);
    const text = await readFile(path.join(dir, 'back.yaml'), 'utf8');
    expect(text).toContain('  - connection: BINANCE\n    asset: BTC_1M\n');
    expect(text.slice(text.indexOf('identity:'))).toBe(`identity:
  assets:
    - { source: coinlore, source_id: "2353", asset: hinto-network, action: pin, note: not Helium }
    - { source: coinlore, source_id: "33", asset: helium, action: forbid }
  exchanges:
    - { alias: cbx, exchange: coinbase }
`);
    const again = await coinlake(['catalog', 'import', 'back.yaml']);
    const line = (name: string) => again.stdout.split('\n').find((l) => l.startsWith(`${name} `))?.split(/\s+/);
    expect([line('asset_alias'), line('exchange_alias')]).toEqual([
      ['asset_alias', '0', '0', '2', '0'],
      ['exchange_alias', '0', '0', '1', '0'],
    ]);
    const aliases = await coinlake(['identity', '--exchanges']);
    expect(aliases.stdout.split('\n').find((l) => l.startsWith('cbx'))).toBe('cbx           coinbase      catalog');
  });

  it('a pin and a forbid of one link, or two pins of one id, are refused naming the entry', async () => {
    await writeFile(
      path.join(dir, 'bad.yaml'),
      `identity:\n  assets:\n    - { source: coinlore, source_id: "1", asset: helium, action: pin }\n    - { source: coinlore, source_id: "1", asset: helium, action: forbid }\n    - { source: coinlore, source_id: "2", asset: a, action: pin }\n    - { source: coinlore, source_id: "2", asset: b, action: pin }\n`,
    );
    const bad = await coinlake(['catalog', 'import', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.yaml: identity.assets[1] (helium).action: coinlore 1 is both pinned to and forbidden from helium');
    expect(bad.stderr).toContain('bad.yaml: identity.assets[3] (b).asset: coinlore 2 is pinned to both a and b');
  });
});
