// Secrets never leak: jobs run through the real CLI with every kind of secret configured — a CoinCap key
// (COINCAP_API_KEY, sent as Bearer), a wrong key (401), a catalog connection secret (AES-GCM in coinlake_meta, sent
// as Bearer), a key in a node URL (`?apikey=`), a PostgreSQL password in the warehouse URL — in runs that succeed and
// runs that fail (5xx, 401, a database that does not exist), at debug level with --print-log. Then every byte they
// left is scanned for every secret (and its base64 / basic-auth / URL-encoded forms): stdout and stderr, every file under
// the test directory (logs, raw pages gunzipped, quarantine, curated Parquet read back, config and exports, the DuckDB
// files as bytes and as tables) and every table of the PostgreSQL warehouse. Nothing may match.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/core/destination.ts';
import { createTestDatabase, type TestDatabase } from '../../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { recordTrial } from './fault-ledger.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const hex = (n: number) => randomBytes(n).toString('hex');

const SECRETS = {
  coincapKey: `ck_${hex(16)}`,
  wrongKey: `wrong_${hex(12)}`,
  catalogSecret: `cs_${hex(16)}`,
  urlKey: `uk${hex(14)}`,
  pgPassword: `pgPw_${hex(10)}`,
  secretKey: hex(32), // COINLAKE_SECRET_KEY itself
};

/** Every form a secret could leak in, by name. */
function forms(secret: string): [string, string][] {
  const all: [string, string][] = [
    ['plain', secret],
    ['base64', Buffer.from(secret).toString('base64')],
    ['basic auth', Buffer.from(`postgres:${secret}`).toString('base64')],
    ['url-encoded', encodeURIComponent(secret)],
  ];
  return all.filter(([, text], i) => all.findIndex(([, t]) => t === text) === i);
}

let dir: string;
let keyed: ReplayServer; // demands SECRETS.coincapKey on /v3
let catalogReplay: ReplayServer; // demands SECRETS.catalogSecret on /v3
let db: TestDatabase;
const outputs: { label: string; text: string }[] = [];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; stdout and stderr are kept for the scan. */
function cli(label: string, args: string[], env: Record<string, string | undefined>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, COINLAKE_REPLAY: '', COINCAP_API_KEY: '', COINLAKE_SECRET_KEY: SECRETS.secretKey, COINLAKE_LAKE: path.join(dir, 'lake'), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push({ label: `${label} (stdout)`, text: stdout }, { label: `${label} (stderr)`, text: stderr });
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** The `error: …` line a failed command printed (after any --print-log lines). */
const errorLine = (r: CliResult) => r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? `(no error line in: ${r.stderr.slice(-300)})`;

/** Every file under `root`, recursively. */
async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every table of the given schemas as JSON text. */
async function dumpTables(s: Session, schemas: string[]): Promise<{ label: string; text: string }[]> {
  const tables = await s.query<{ table_schema: string; table_name: string }>(
    `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (${schemas.map((_, i) => `$${i + 1}`).join(', ')})`,
    schemas,
  );
  const out: { label: string; text: string }[] = [];
  for (const t of tables) {
    const rows = await s.query(`SELECT * FROM ${s.dialect.table(t.table_schema, t.table_name)}`);
    out.push({ label: `${t.table_schema}.${t.table_name}`, text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) });
  }
  return out;
}

/** What the scan read: one text per place, labelled. */
async function everything(): Promise<{ label: string; text: string }[]> {
  const texts = [...outputs];
  const duck = await openWarehouse(':memory:');
  try {
    for (const file of await filesUnder(dir)) {
      const bytes = await readFile(file);
      texts.push({ label: file, text: bytes.toString('latin1') });
      if (file.endsWith('.gz')) texts.push({ label: `${file} (gunzipped)`, text: gunzipSync(bytes).toString('utf8') });
      if (file.endsWith('.parquet')) {
        const rows = await duck.query(`SELECT * FROM read_parquet('${file.replaceAll("'", "''")}')`);
        texts.push({ label: `${file} (rows)`, text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) });
      }
      if (file.endsWith('.duckdb')) {
        const s = await openWarehouse(file);
        try {
          for (const t of await dumpTables(s, ['coinlake', 'coinlake_meta'])) texts.push({ label: `${file}: ${t.label}`, text: t.text });
        } finally {
          await s.close();
        }
      }
    }
  } finally {
    await duck.close();
  }
  const pg = await openWarehouse(db.url);
  try {
    for (const t of await dumpTables(pg, ['coinlake', 'coinlake_meta'])) texts.push({ label: `postgres ${db.name}: ${t.label}`, text: t.text });
  } finally {
    await pg.close();
  }
  return texts;
}

/** Places where a secret shows, as `label: secret-name (form)`. */
function leaks(texts: { label: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const [form, text] of forms(secret)) {
      for (const t of texts) if (t.text.includes(text)) found.push(`${t.label}: ${name} (${form})`);
    }
  }
  return found;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-secrets-'));
  keyed = await startReplayServer({ apiKey: SECRETS.coincapKey });
  catalogReplay = await startReplayServer({ apiKey: SECRETS.catalogSecret });
  db = await createTestDatabase();
});

afterAll(async () => {
  await keyed?.close();
  await catalogReplay?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('secrets scan', () => {
  it('no secret in any output, log, lake file, run row or table after successful and failed runs', async () => {
    const duckdb = { COINLAKE_WAREHOUSE: path.join(dir, 'coinlake.duckdb') };
    const pgUrl = new URL(db.url);
    pgUrl.password = SECRETS.pgPassword;
    const postgres = { COINLAKE_WAREHOUSE: pgUrl.toString() };
    const coincap = { COINCAP_API_KEY: SECRETS.coincapKey, COINLAKE_COINCAP_URL: keyed.coincapV3Url };
    const debug = ['-l', 'debug', '--print-log'];
    const results: Record<string, CliResult> = {};

    // CoinCap key from the environment: a run that succeeds, one that meets 503s, one with a wrong key (401).
    results.keyOk = await cli('coincap key, ok', [...debug, 'run', 'coincap.assets'], { ...duckdb, ...coincap });
    // Failures that are not retried for long: an HTML page in place of JSON (two re-reads), a 401.
    keyed.inject({ kind: 'htmlOk', path: '/v3/rates', times: Infinity });
    results.keyHtml = await cli('coincap key, HTML page', [...debug, 'run', 'coincap.rates'], { ...duckdb, ...coincap });
    keyed.clearFaults();
    results.wrongKey = await cli('wrong key, 401', [...debug, 'run', 'coincap.exchanges'], { ...duckdb, ...coincap, COINCAP_API_KEY: SECRETS.wrongKey });

    // A catalog connection's secret, stored AES-GCM encrypted, sent as Bearer.
    const config = path.join(dir, 'secure.yaml');
    await writeFile(
      config,
      [
        'connections:',
        `  - { name: SECURE_RATES, url: "${catalogReplay.coincapV3Url}", auth_type: bearer, driver: coincap }`,
        'ingestions:',
        '  - { connection: SECURE_RATES, asset: EXTERNAL_SECURE_RATES, target_table: coincap_rates, source: coincap.rates, primary_key: [id] }',
        '',
      ].join('\n'),
    );
    results.setup = await cli('setup', ['-p', config, 'setup'], duckdb);
    results.setSecret = await cli('set-secret', ['-p', config, 'catalog', 'set-secret', 'SECURE_RATES'], duckdb, `${SECRETS.catalogSecret}\n`);
    results.catalogOk = await cli('catalog secret, ok', ['-p', config, ...debug, 'run', '-s', 'SECURE_RATES', '-a', 'EXTERNAL_SECURE_RATES'], duckdb);
    catalogReplay.inject({ kind: 'htmlOk', path: '/v3/rates', times: Infinity });
    results.catalogHtml = await cli('catalog secret, HTML page', ['-p', config, ...debug, 'run', '-s', 'SECURE_RATES', '-a', 'EXTERNAL_SECURE_RATES'], duckdb);
    catalogReplay.clearFaults();
    results.show = await cli('catalog show', ['-p', config, 'catalog', 'show', 'EXTERNAL_SECURE_RATES'], duckdb);
    results.export = await cli('catalog export', ['-p', config, 'catalog', 'export', path.join(dir, 'exported.yaml')], duckdb);
    results.validate = await cli('catalog validate', ['-p', config, 'catalog', 'validate'], duckdb);

    // A key in the node URL's query.
    const evm = { COINLAKE_EVM_URL: `${keyed.evmUrl}?apikey=${SECRETS.urlKey}` };
    results.evmOk = await cli('evm url key, ok', [...debug, 'run', 'evm.erc20_transfers', '--from', '2024-06-10', '--to', '2024-06-10T06:00:00Z'], { ...duckdb, ...evm });
    keyed.inject({ kind: 'htmlOk', path: '/evm', times: Infinity });
    results.evmHtml = await cli('evm url key, HTML page', [...debug, 'run', 'evm.erc20_transfers', '--from', '2024-06-10', '--to', '2024-06-10T06:00:00Z'], { ...duckdb, ...evm });
    keyed.clearFaults();

    // A PostgreSQL password in the warehouse URL: a run, a failing run, status, and a database that does not exist.
    results.pgOk = await cli('postgres password, ok', [...debug, 'run', 'coincap.rates'], { ...postgres, ...coincap });
    keyed.inject({ kind: 'htmlOk', path: '/v3/rates', times: Infinity });
    results.pgHtml = await cli('postgres password, HTML page', [...debug, 'run', 'coincap.rates'], { ...postgres, ...coincap });
    keyed.clearFaults();
    results.pgStatus = await cli('postgres status', ['status'], postgres);
    const nowhere = new URL(pgUrl);
    nowhere.pathname = `/coinlake_missing_${hex(4)}`;
    results.pgMissing = await cli('postgres missing database', ['run', 'coincap.rates'], { COINLAKE_WAREHOUSE: nowhere.toString(), ...coincap });

    // The runs did what they should: the scan is only worth something if the secrets were really in play.
    expect(results.keyOk.code, results.keyOk.stderr).toBe(0);
    expect(errorLine(results.keyHtml)).toMatch(`error: invalid JSON from ${keyed.coincapV3Url}/rates (content-type text/html`);
    expect(results.wrongKey.stderr.slice(results.wrongKey.stderr.indexOf('error: '))).toContain(`error: HTTP 401 from ${keyed.coincapV3Url}/exchanges: {"error":"Unauthorized"}\nhint: check the API key of this connection`);
    expect(results.setSecret.code, results.setSecret.stderr).toBe(0);
    expect(results.catalogOk.code, results.catalogOk.stderr).toBe(0);
    expect(results.catalogHtml.code).toBe(1);
    expect(results.evmOk.code, results.evmOk.stderr).toBe(0);
    expect(results.evmHtml.code).toBe(1);
    expect(errorLine(results.evmHtml)).toMatch(/^error: .*apikey=\*\*\*/);
    expect(results.pgOk.code, results.pgOk.stderr).toBe(0);
    expect(results.pgHtml.code).toBe(1);
    expect(results.pgStatus.code, results.pgStatus.stderr).toBe(0);
    expect(results.pgMissing.code).toBe(1);
    expect(errorLine(results.pgMissing)).toContain(nowhere.pathname.slice(1));
    const auth = (r: ReplayServer) => new Set(r.requests.map((q) => q.headers.authorization).filter(Boolean));
    expect(auth(keyed)).toEqual(new Set([`Bearer ${SECRETS.coincapKey}`, `Bearer ${SECRETS.wrongKey}`]));
    expect(auth(catalogReplay)).toEqual(new Set([`Bearer ${SECRETS.catalogSecret}`]));
    expect(keyed.requests.some((q) => q.path === '/evm' && q.query.apikey === SECRETS.urlKey)).toBe(true);

    const texts = await everything();
    // The scanner finds what it looks for (a planted copy), so an empty result means something.
    expect(leaks([{ label: 'planted', text: `x Bearer ${SECRETS.catalogSecret} ${Buffer.from(SECRETS.urlKey).toString('base64')}` }])).toEqual(['planted: catalogSecret (plain)', 'planted: urlKey (base64)']);
    const found = leaks(texts);
    const runs = Object.keys(results).length;
    recordTrial({ suite: 'security', case: 'secret scan (CLI runs, logs, lake, tables)', faults: runs, rowsLost: 0, rowsDuplicated: 0, clearError: found.length === 0 });
    console.log(`secret scan: ${texts.length} texts from ${runs} CLI runs, ${found.length} leak(s)`);
    expect(found).toEqual([]);
  }, 300_000);
});
