// The guards: AES-GCM secrets detect any tampering (a flipped byte in IV, tag or ciphertext, another connection's
// ciphertext, a wrong key) with one clear error; identifiers from config (`coincap_assets; DROP TABLE x`) are refused
// with a message naming the file and key, from a YAML file and from tampered meta tables alike, before any SQL runs;
// lake paths stay under the lake root (`../` refused); the dashboard listens on 127.0.0.1 by default and runs no SQL
// from a request — random parameter names and SQL-looking values are 400s, and the warehouse is unchanged after them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogJob } from '../../src/catalog/catalog-job.ts';
import { syncCatalog } from '../../src/catalog/catalog-sync.ts';
import { storeSecret } from '../../src/catalog/connection-secret.ts';
import { catalogOf, parseCatalogText } from '../../src/catalog/config-file.ts';
import { ensureMetaTables } from '../../src/catalog/meta-tables.ts';
import { openSecret, sealSecret } from '../../src/catalog/secret-box.ts';
import type { Session } from '../../src/core/destination.ts';
import { ConfigError, TerminalError } from '../../src/core/errors.ts';
import { assertIdentifier } from '../../src/core/table.ts';
import { duckdbDialect } from '../../src/destinations/duckdb/duckdb-dialect.ts';
import { postgresDialect } from '../../src/destinations/postgres/postgres-dialect.ts';
import { openWarehouse } from '../../src/destinations/registry.ts';
import { confined } from '../../src/lake/lake-paths.ts';
import { LocalLake } from '../../src/lake/local-lake.ts';
import { startReplayServer, type ReplayServer } from '../../src/replay/index.ts';
import { buildJob } from '../../src/runner/job-builder.ts';
import { runJob } from '../../src/runner/run-job.ts';
import { startServeServer, type ServeServer } from '../../src/server/serve-server.ts';
import { TRIALS } from './api-fault-env.ts';
import { recordTrial } from './fault-ledger.ts';

const BIN = path.resolve('bin/coinlake.mjs');
const DROP = 'coincap_assets; DROP TABLE x';
const HOSTILE_IDENTIFIERS = [DROP, 'x"; DROP TABLE y; --', "a'b", 'a b', '1abc', 'coinlake.x', '../x', 'x\u0000y', 'ä', 'x-y', ''];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-guards-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('AES-GCM secrets', () => {
  const key = randomBytes(32);
  const tamperedMessage = (c: string) => `cannot decrypt the secret of connection ${c}: wrong COINLAKE_SECRET_KEY or tampered ciphertext`;
  const openError = (sealed: string, connection: string, k: Buffer = key) => {
    try {
      openSecret(sealed, connection, k);
      return undefined;
    } catch (err) {
      return err;
    }
  };

  it('any flipped bit in the IV, the tag or the ciphertext is detected with one clear error', () => {
    let detected = 0;
    let tried = 0;
    try {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom(1, 2, 3), fc.nat(), fc.integer({ min: 1, max: 255 }), (plain, part, at, mask) => {
          const sealed = sealSecret(plain, 'SECURE', key);
          expect(openSecret(sealed, 'SECURE', key)).toBe(plain);
          const parts = sealed.split(':');
          const bytes = Buffer.from(parts[part], 'base64');
          if (bytes.length === 0) return;
          bytes[at % bytes.length] ^= mask;
          parts[part] = bytes.toString('base64');
          tried++;
          const err = openError(parts.join(':'), 'SECURE');
          expect(err).toBeInstanceOf(TerminalError);
          expect((err as Error).message).toBe(tamperedMessage('SECURE'));
          detected++;
        }),
        { numRuns: 200 * TRIALS },
      );
    } finally {
      recordTrial({ suite: 'security', case: 'AES-GCM: flipped byte (iv, tag, ciphertext)', faults: tried, rowsLost: 0, rowsDuplicated: 0, clearError: tried > 0 && detected === tried });
    }
  });

  it("another connection's ciphertext, a wrong key, a cut or extended text, another version: the same error", () => {
    const sealed = sealSecret('s3cret-value', 'SECURE', key);
    const [, iv, tag, body] = sealed.split(':');
    const cases: [string, string, Buffer][] = [
      [sealed, 'OTHER', key],
      [sealed, 'SECURE', randomBytes(32)],
      [`v1:${iv}:${tag}`, 'SECURE', key],
      [`${sealed}:extra`, 'SECURE', key],
      [`v2:${iv}:${tag}:${body}`, 'SECURE', key],
      [`v1:${iv}:${tag}:${Buffer.from(body, 'base64').subarray(1).toString('base64')}`, 'SECURE', key],
      [`v1:${Buffer.from(iv, 'base64').subarray(1).toString('base64')}:${tag}:${body}`, 'SECURE', key],
      ['', 'SECURE', key],
      ['not a secret at all', 'SECURE', key],
    ];
    for (const [text, connection, k] of cases) {
      const err = openError(text, connection, k);
      expect(err, text).toBeInstanceOf(TerminalError);
      expect((err as Error).message).toBe(tamperedMessage(connection));
    }
    recordTrial({ suite: 'security', case: 'AES-GCM: wrong connection/key, cut, version', faults: cases.length, rowsLost: 0, rowsDuplicated: 0, clearError: true });
  });

  it('a tampered secret in coinlake_meta stops the run before any request, with the error and its hint', async () => {
    const replay = await startReplayServer({ apiKey: 'the-right-key' });
    const session = await openWarehouse(path.join(dir, 'secret.duckdb'));
    const previous = process.env.COINLAKE_SECRET_KEY;
    process.env.COINLAKE_SECRET_KEY = key.toString('hex');
    try {
      const catalog = parseCatalogText(
        YAML.stringify({
          connections: [{ name: 'SECURE', url: replay.coincapV3Url, auth_type: 'bearer' }],
          ingestions: [{ connection: 'SECURE', asset: 'EXT_RATES', target_table: 'coincap_rates', source: 'coincap.rates', primary_key: ['id'] }],
        }),
        'secure.yaml',
      );
      await ensureMetaTables(session);
      await syncCatalog(session, catalogOf(catalog));
      await storeSecret(session, 'SECURE', sealSecret('the-right-key', 'SECURE', key));
      const ref = { connection: 'SECURE', asset: 'EXT_RATES', seed: { connections: [], ingestions: [] }, seedLabel: 'secure.yaml' };
      // Untampered: the job runs with the key.
      const ok = await runJob(await loadCatalogJob(session, ref), { session, lake: new LocalLake(path.join(dir, 'lake-secret')), progress: false });
      expect(ok.status).toBe(1);
      const [{ secret_encrypted: sealed }] = await session.query<{ secret_encrypted: string }>(
        `SELECT secret_encrypted FROM coinlake_meta.ingestion_connection_info WHERE connection_name = 'SECURE'`,
      );
      const parts = sealed.split(':');
      const body = Buffer.from(parts[3], 'base64');
      body[0] ^= 1;
      parts[3] = body.toString('base64');
      await session.exec(`UPDATE coinlake_meta.ingestion_connection_info SET secret_encrypted = $1 WHERE connection_name = 'SECURE'`, [parts.join(':')]);
      const requests = replay.requests.length;
      const err = await loadCatalogJob(session, ref).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TerminalError);
      expect((err as TerminalError).message).toBe(tamperedMessage('SECURE'));
      expect((err as TerminalError).hint).toBe('set the key the secret was stored with, or store it again: coinlake catalog set-secret SECURE');
      expect(replay.requests.length).toBe(requests);
      recordTrial({ suite: 'security', case: 'AES-GCM: tampered row in coinlake_meta', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: true });
    } finally {
      if (previous === undefined) delete process.env.COINLAKE_SECRET_KEY;
      else process.env.COINLAKE_SECRET_KEY = previous;
      await session.close();
      await replay.close();
    }
  });
});

describe('identifiers from config', () => {
  const base = () => ({
    connections: [{ name: 'CONN', url: 'https://api.example/v2', auth_type: 'none' }],
    ingestions: [
      {
        connection: 'CONN',
        asset: 'EXT_X',
        target_table: 'coincap_assets',
        source: 'coincap.assets',
        primary_key: ['id'],
        partitioned_by: 'snapshot_time',
        clustered_by: ['id'],
        incremental_date_column: 'snapshot_time',
        columns: [{ column_name: 'id', mapping_column: 'id', datatype: 'VARCHAR' }],
        checks: [{ type: 'not_null', columns: ['id'] }],
      },
    ],
  });
  type Doc = ReturnType<typeof base> & { ingestions: Record<string, unknown>[] };
  const FORM = '(letters, digits and _, not starting with a digit)';
  const KEYS: { key: string; set(d: Doc, v: string): void; message(v: string): string }[] = [
    { key: 'target_table', set: (d, v) => (d.ingestions[0].target_table = v), message: () => `hostile.yaml: ingestions[0] (EXT_X).target_table: expected a table name ${FORM}` },
    { key: 'mapping_column', set: (d, v) => ((d.ingestions[0].columns as { mapping_column: string }[])[0].mapping_column = v), message: () => `hostile.yaml: ingestions[0] (EXT_X).columns[0].mapping_column: expected a column name ${FORM}` },
    { key: 'primary_key', set: (d, v) => (d.ingestions[0].primary_key = [v]), message: () => `hostile.yaml: ingestions[0] (EXT_X).primary_key[0]: expected a column name ${FORM}` },
    { key: 'partitioned_by', set: (d, v) => (d.ingestions[0].partitioned_by = v), message: () => `hostile.yaml: ingestions[0] (EXT_X).partitioned_by: expected a column name ${FORM}` },
    { key: 'clustered_by', set: (d, v) => (d.ingestions[0].clustered_by = [v]), message: () => `hostile.yaml: ingestions[0] (EXT_X).clustered_by[0]: expected a column name ${FORM}` },
    { key: 'incremental_date_column', set: (d, v) => (d.ingestions[0].incremental_date_column = v), message: () => `hostile.yaml: ingestions[0] (EXT_X).incremental_date_column: expected a column name ${FORM}` },
    { key: 'checks column', set: (d, v) => (d.ingestions[0].checks = [{ type: 'not_null', columns: [v] }]), message: () => `hostile.yaml: ingestions[0] (EXT_X).checks[0].columns[0]: expected a column name ${FORM}` },
    { key: 'asset', set: (d, v) => (d.ingestions[0].asset = v), message: (v) => `hostile.yaml: ingestions[0] (${v}).asset: expected an asset name ${FORM}` },
    { key: 'schema', set: (d, v) => (d.ingestions[0].schema = v), message: () => `hostile.yaml: ingestions[0] (EXT_X): unknown key "schema"` },
  ];

  it('`coincap_assets; DROP TABLE x` and other non-identifiers in every identifier key of a YAML catalog: refused, naming file and key', () => {
    let refused = 0;
    let tried = 0;
    try {
      for (const k of KEYS) {
        for (const v of HOSTILE_IDENTIFIERS) {
          // An empty name in a list is dropped (`primary_key: [""]` gives no key): nothing reaches SQL, nothing to refuse.
          if (v === '' && ['primary_key', 'clustered_by', 'checks column'].includes(k.key)) continue;
          const doc = base() as Doc;
          k.set(doc, v);
          tried++;
          const err = (() => {
            try {
              parseCatalogText(YAML.stringify(doc), 'hostile.yaml');
            } catch (e) {
              return e;
            }
          })();
          expect(err, `${k.key} = ${JSON.stringify(v)}`).toBeInstanceOf(ConfigError);
          expect((err as Error).message.split('\n')).toContain(k.message(v));
          refused++;
        }
      }
      // Random text that is not an identifier, as a table name and as a column name.
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((v) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)),
          fc.constantFrom(KEYS[0], KEYS[1]),
          (v, k) => {
            const doc = base() as Doc;
            k.set(doc, v);
            tried++;
            expect(() => parseCatalogText(YAML.stringify(doc), 'hostile.yaml')).toThrow(k.message(v));
            refused++;
          },
        ),
        { numRuns: 100 * TRIALS },
      );
    } finally {
      recordTrial({ suite: 'security', case: 'identifiers in catalog YAML', faults: tried, rowsLost: 0, rowsDuplicated: 0, clearError: tried > 0 && refused === tried });
    }
  });

  it('both SQL dialects refuse to quote a non-identifier', () => {
    for (const v of HOSTILE_IDENTIFIERS) {
      expect(() => assertIdentifier(v, 'table name'), v).toThrow(ConfigError);
      for (const d of [duckdbDialect, postgresDialect]) {
        expect(() => d.ident(v), v).toThrow(`invalid identifier "${v}": expected letters, digits and _ (not starting with a digit)`);
        expect(() => d.table('coinlake', v), v).toThrow(ConfigError);
        expect(() => d.table(v, 'coincap_assets'), v).toThrow(ConfigError);
      }
    }
  });

  it('a hostile name written straight into coinlake_meta is refused when the job is built; no table is dropped', async () => {
    const session = await openWarehouse(path.join(dir, 'meta.duckdb'));
    try {
      await ensureMetaTables(session);
      await syncCatalog(session, catalogOf(parseCatalogText(YAML.stringify(base()), 'ok.yaml')));
      await session.exec('CREATE TABLE coinlake.x (v INTEGER)');
      await session.exec(`UPDATE coinlake_meta.ingestion_config SET target_table = $1`, [DROP]);
      const ref = { connection: 'CONN', asset: 'EXT_X', seed: { connections: [], ingestions: [] }, seedLabel: 'ok.yaml' };
      const err = await loadCatalogJob(session, ref).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(`coinlake_meta: ingestions[0] (EXT_X).target_table: expected a table name ${FORM}`);
      expect(await session.query(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = 'coinlake' AND table_name = 'x'`)).toEqual([{ n: 1 }]);
      recordTrial({ suite: 'security', case: 'identifiers in tampered coinlake_meta', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: true });
    } finally {
      await session.close();
    }
  });
});

describe('lake paths', () => {
  it('`../`, absolute and odd segments in source, stream, table or run id are refused; nothing is written outside the root', async () => {
    const root = path.join(dir, 'confined', 'lake');
    const lake = new LocalLake(root);
    const day = new Date('2024-06-10T00:00:00Z');
    const attempts: [string, () => Promise<unknown>][] = [];
    await mkdir(path.join(dir, 'confined'));
    attempts.push([`raw source .`, () => lake.writeRawPage('.', 'assets', day, 'run1', 1, Buffer.from('{}'))], [`raw stream .`, () => lake.writeRawPage('coincap', '.', day, 'run1', 1, Buffer.from('{}'))]);
    for (const bad of ['..', '../x', '../../etc', 'a/../../b', '/etc', 'x/..', 'a..b', '%2e%2e', 'x\u0000']) {
      attempts.push(
        [`raw source ${bad}`, () => lake.writeRawPage(bad, 'assets', day, 'run1', 1, Buffer.from('{}'))],
        [`raw stream ${bad}`, () => lake.writeRawPage('coincap', bad, day, 'run1', 1, Buffer.from('{}'))],
        [`raw run id ${bad}`, () => lake.writeRawPage('coincap', 'assets', day, bad, 1, Buffer.from('{}'))],
        [`quarantine table ${bad}`, () => lake.quarantine(bad, 'run1', [{ table: bad, reason: 'x' }])],
        [`quarantine run id ${bad}`, () => lake.quarantine('coincap_assets', bad, [{ table: 'coincap_assets', reason: 'x' }])],
        [`curated table ${bad}`, async () => lake.curatedTarget(bad, '2024-06-10', 'run1')],
        [`curated day ${bad}`, async () => lake.curatedTarget('coincap_assets', bad, 'run1')],
        [`log run id ${bad}`, () => lake.logFile(bad)],
      );
    }
    let refused = 0;
    for (const [label, attempt] of attempts) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, label).toBeInstanceOf(Error);
      expect((err as Error).message, label).toMatch(/^(lake path segment ".*" is not allowed \(letters, digits, _ \. = - only, no "\.\."\)|invalid table name ".*": expected letters, digits and _ \(not starting with a digit\)|lake path .* is outside the lake root .*)$/s);
      refused++;
    }
    // Nothing landed anywhere: not under the root, not beside it.
    expect(await readdir(path.join(dir, 'confined'))).toEqual([]);
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { minLength: 1, maxLength: 4 }), (segments) => {
        let full: string;
        try {
          full = confined(root, ...segments);
        } catch {
          return;
        }
        expect(full === root || full.startsWith(root + path.sep), JSON.stringify(segments)).toBe(true);
      }),
      { numRuns: 200 * TRIALS },
    );
    recordTrial({ suite: 'security', case: 'lake paths confined', faults: attempts.length, rowsLost: 0, rowsDuplicated: 0, clearError: refused === attempts.length });
  });
});

describe('the dashboard', () => {
  let replay: ReplayServer;
  let server: ServeServer;
  let warehouse: string;
  const counts = async (s: Session) =>
    s.query<{ t: string; n: number }>(
      `SELECT 'assets' AS t, count(*)::INTEGER AS n FROM coinlake.coincap_assets UNION ALL SELECT 'runs', count(*)::INTEGER FROM coinlake_meta.workflow_action_history
       UNION ALL SELECT 'canary', count(*)::INTEGER FROM coinlake.canary ORDER BY t`,
    );
  let before: { t: string; n: number }[];

  beforeAll(async () => {
    replay = await startReplayServer();
    warehouse = path.join(dir, 'dashboard.duckdb');
    const session = await openWarehouse(warehouse);
    await runJob(buildJob('coincap.assets', {}, { baseUrls: { coincap: replay.coincapV2Url }, rateLimitPerMinute: 0 }), { session, lake: new LocalLake(path.join(dir, 'lake-dash')), progress: false });
    await session.exec('CREATE TABLE coinlake.canary AS SELECT 42 AS v');
    before = await counts(session);
    await session.close();
    server = await startServeServer({ warehouse, lake: path.join(dir, 'lake-dash'), port: 0, onError: () => {} });
  }, 60_000);

  afterAll(async () => {
    await replay?.close();
  });

  it('listens on 127.0.0.1 by default: not on the other addresses of the machine', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of others) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: address, port: server.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      expect(refused, `connecting to ${address}:${server.port}`).toBe(true);
    }
    // A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) is refused by its Host header.
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: server.port, path: '/api/health', headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(403);
    console.log(`dashboard bind check: ${others.length} non-loopback address(es) refused (${others.join(', ') || 'none on this machine'})`);
    recordTrial({ suite: 'security', case: 'dashboard binds 127.0.0.1', faults: others.length + 1, rowsLost: 0, rowsDuplicated: 0, clearError: null });
  });

  it('`coinlake serve` without --host says and listens on 127.0.0.1', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: dir,
      env: { ...process.env, COINLAKE_WAREHOUSE: path.join(dir, 'serve-cli.duckdb'), COINLAKE_LAKE: path.join(dir, 'lake-serve-cli') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      expect(first).toMatch(/^coinlake serve — dashboard on http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${first.replace(/^.* on /, '')}/api/health`);
      expect(health.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  const ENDPOINTS: { path: string; valid: Record<string, string> }[] = [
    { path: '/api/overview', valid: {} },
    { path: '/api/assets', valid: {} },
    { path: '/api/assets/trends', valid: { ids: 'bitcoin' } },
    { path: '/api/exchanges', valid: {} },
    { path: '/api/exchanges/trends', valid: { ids: 'binance' } },
    { path: '/api/candles/catalog', valid: {} },
    { path: '/api/candles', valid: { symbol: 'BTC-USDT', interval: '1m' } },
    { path: '/api/runs', valid: {} },
    { path: '/api/freshness', valid: {} },
    { path: '/api/quality', valid: {} },
  ];
  /** Parameters each endpoint declares besides those of its valid request (src/server/api-routes.ts). */
  const DECLARED: Record<string, string[]> = {
    '/api/assets/trends': ['interval', 'from', 'to'],
    '/api/exchanges/trends': ['from', 'to'],
    '/api/candles': ['exchange', 'limit', 'from', 'to'],
    '/api/runs': ['limit'],
  };
  const SQLISH = [
    "1; DROP TABLE coinlake.canary",
    "' OR '1'='1",
    'coinlake.canary',
    'SELECT * FROM coinlake_meta.ingestion_connection_info',
    "bitcoin'); DELETE FROM coinlake.coincap_assets; --",
    '1m; DROP TABLE coinlake.canary',
    'ohlcv_1m UNION SELECT 1',
    '../../etc/passwd',
    'canary',
  ];

  it('random parameter names and SQL-looking values: 400 with a reason, never a 500; the warehouse is unchanged', async () => {
    let requests = 0;
    let refused = 0;
    let unclear = 0;
    const param = fc.oneof(
      fc.constantFrom('sql', 'query', 'q', 'where', 'table', 'select', 'order_by', 'filter', 'columns', 'db', 'schema'),
      fc.string({ minLength: 1, maxLength: 10 }),
    );
    const value = fc.oneof(fc.constantFrom(...SQLISH), fc.string({ maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), fc.boolean(), param, value, async (endpoint, knownName, name, v) => {
        // Either an unknown parameter, or a known one (e.g. ids, symbol, interval, limit, table-choosing interval) with a hostile value.
        const names = Object.keys(endpoint.valid).concat(DECLARED[endpoint.path] ?? []);
        const useKnown = knownName && names.length > 0;
        const key = useKnown ? names[Math.abs(v.length) % names.length] : name;
        const query = new URLSearchParams({ ...endpoint.valid, [key]: v });
        const res = await fetch(`${server.url}${endpoint.path}?${query}`);
        requests++;
        const body = await res.text();
        expect(res.status, `${endpoint.path}?${query} → ${body}`).not.toBe(500);
        // 404: a declared parameter with an accepted value that names nothing held (no candles of that symbol).
        if (res.status === 200 || (res.status === 404 && endpoint.path === '/api/candles')) {
          // Only a parameter the endpoint declares, with a value its rule accepts, gets an answer (as a bound value).
          expect(names.includes(key), `${endpoint.path}?${query}`).toBe(true);
          return;
        }
        expect(res.status, `${endpoint.path}?${query}`).toBe(400);
        const json = JSON.parse(body) as { error?: string };
        if (typeof json.error !== 'string' || json.error.length === 0 || json.error.includes('\n')) unclear++;
        expect(json.error).toBeTruthy();
        if (!names.includes(key)) expect(json.error).toBe(`unknown parameter "${key}"`);
        refused++;
      }),
      { numRuns: 60 * TRIALS },
    );
    recordTrial({ suite: 'security', case: 'dashboard: no SQL from requests', faults: requests, rowsLost: 0, rowsDuplicated: 0, clearError: unclear === 0 && refused > 0 });
  });

  it('a table outside the allow-list cannot be named: interval, symbol and unknown paths', async () => {
    const cases: [string, number, string][] = [
      ['/api/candles?symbol=BTC-USDT&interval=canary', 400, 'interval: expected one of'],
      ['/api/candles?symbol=BTC-USDT&interval=1m%3B%20DROP%20TABLE%20coinlake.canary', 400, 'interval: expected one of'],
      ['/api/candles?symbol=BTC-USDT&interval=1m&exchange=binance%3BDROP%20TABLE%20coinlake.canary', 400, 'exchange: "binance;DROP TABLE coinlake.canary" is not an exchange id'],
      ['/api/candles?symbol=BTC-USDT%3B--&interval=1m', 400, 'symbol: "BTC-USDT;--" is not a symbol'],
      ['/api/canary', 404, 'no endpoint GET /api/canary'],
      ['/api/tables/canary', 404, 'no endpoint GET /api/tables/canary'],
      ['/api/freshness?table=canary', 400, 'unknown parameter "table"'],
    ];
    for (const [p, status, error] of cases) {
      const res = await fetch(server.url + p);
      expect(res.status, p).toBe(status);
      expect(((await res.json()) as { error: string }).error, p).toContain(error);
    }
    const control = await fetch(`${server.url}/api/control/run`, { method: 'POST', body: JSON.stringify({ job: 'coincap.assets', sql: 'DROP TABLE coinlake.canary' }) });
    expect(control.status).toBe(401);
    // After every request above and the fuzzing: the server closed, the warehouse holds what it held.
    await server.close();
    const session = await openWarehouse(warehouse);
    try {
      expect(await counts(session)).toEqual(before);
    } finally {
      await session.close();
    }
    recordTrial({ suite: 'security', case: 'dashboard: allow-listed tables only', faults: cases.length + 1, rowsLost: 0, rowsDuplicated: 0, clearError: true });
  });
});
