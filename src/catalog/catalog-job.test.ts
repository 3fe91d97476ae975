// Catalog entry → Job: write modes from load types, windows from params, endpoints, credentials, and the checks.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { catalogJob, planIngestion, validateCatalog } from './catalog-job.ts';
import { parseCatalogObject, catalogOf, loadBuiltinCatalog } from './config-file.ts';
import type { Catalog } from './catalog-schema.ts';
import { sealSecret } from './secret-box.ts';

const catalog = (doc: unknown): Catalog => catalogOf(parseCatalogObject(doc, 'test.yaml'));
const one = (ingestion: Record<string, unknown>, connection: Record<string, unknown> = {}) =>
  catalog({ connections: [{ name: 'C', url: 'https://example.test/v2', ...connection }], ingestions: [{ connection: 'C', asset: 'A', target_table: 't', ...ingestion }] });

describe('planIngestion', () => {
  it('FULL → replace, INCR → merge, write_mode wins', async () => {
    const c = await loadBuiltinCatalog();
    expect(c.ingestions.map((i) => [i.asset, planIngestion(i).writeMode, planIngestion(i).incremental])).toEqual([
      ['EXTERNAL_COINCAP_ASSETS', 'replace', false],
      ['EXTERNAL_COINCAP_BITCOIN_HISTORY', 'merge', true],
      ['EXTERNAL_COINCAP_EXCHANGES', 'replace', false],
      ['EXTERNAL_COINCAP_RATES', 'replace', false],
      ['EXTERNAL_COINCAP_MARKETS', 'replace', false],
    ]);
    expect(planIngestion(one({ source: 'coincap.rates', write_mode: 'append' }).ingestions[0]).writeMode).toBe('append');
  });

  it('problems name the entry and the expected form', () => {
    const c = catalog({
      connections: [{ name: 'C' }],
      ingestions: [
        { connection: 'C', asset: 'A1', target_table: 't1', source: 'coincap.nope' },
        { connection: 'C', asset: 'A2', target_table: 't2', source: 'coincap.rates', load_type: 'INCR' },
        { connection: 'C', asset: 'A3', target_table: 't3', source: 'coincap.asset_history', load_type: 'INCR', incremental_date_column: 'date' },
        { connection: 'C', asset: 'A4', target_table: 't4', source: 'coincap.rates', columns: [{ column_name: 'id', mapping_column: 'rate_id', datatype: 'VARCHAR' }] },
        { connection: 'C', asset: 'A5', target_table: 't5', source: 'coincap.rates' },
        { connection: 'C', asset: 'A6', target_table: 't6', source: 'coincap.rates', write_mode: 'scd2', is_external: true },
      ],
    });
    expect(validateCatalog(c)).toEqual([
      'ingestions[0] (C/A1): source "coincap.nope" is not a known stream; expected one of coincap.assets, coincap.exchanges, coincap.rates, coincap.markets, coincap.asset_history, binance.klines, coinlore.tickers, coinlore.ticker, coinlore.global, coinlore.exchanges, coinlore.exchange, coinlore.coin_markets, coinlore.social_stats, evm.erc20_transfers, rest.records, ccxt.ohlcv, ccxt.trades, ccxt.tickers, ccxt.markets',
      'ingestions[1] (C/A2): load_type INCR needs a stream that keeps a watermark, and coincap.rates keeps none; expected load_type FULL',
      'ingestions[2] (C/A3): incremental_date_column is date, but coincap.asset_history keeps its watermark on time; expected time',
      'ingestions[3] (C/A4): primary key column id is not a column of t4; expected primary_key to name target columns',
      'ingestions[5] (C/A6): is_external: write mode scd2 keeps versions (valid_from, valid_to, is_current) that the curated files do not hold, so a view over them cannot equal the table; external views support write modes append, replace, merge, delete_insert',
    ]);
  });
});

describe('catalogJob', () => {
  it('keys history and state by connection and asset; params give the window and stream parameters', async () => {
    const c = await loadBuiltinCatalog();
    const job = catalogJob(c.connections[1], c.ingestions[1]);
    expect(job).toMatchObject({
      name: 'COINCAP_BITCOIN_HISTORY/EXTERNAL_COINCAP_BITCOIN_HISTORY',
      connectionName: 'COINCAP_BITCOIN_HISTORY',
      tableName: 'EXTERNAL_COINCAP_BITCOIN_HISTORY',
      baseUrl: 'https://api.coincap.io/v2',
      writeMode: 'merge',
      incremental: true,
      onMissing: 'null',
      params: { asset: 'bitcoin', interval: 'h1' },
    });
    expect(job.headers).toBeUndefined();
    expect(job.window?.start).toEqual(new Date('2024-12-01T00:00:00Z'));
    const narrowed = catalogJob(c.connections[1], c.ingestions[1], { from: '2024-03-01', to: '2024-03-02', asset: 'ethereum', mode: 'delete_insert' });
    expect(narrowed).toMatchObject({ params: { asset: 'ethereum', interval: 'h1' }, window: { start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z') }, writeMode: 'delete_insert' });
  });

  it('endpoint overrides (replay) win; an INI connection_url replaces the connection URL', () => {
    const c = one({ source: 'coincap.rates' });
    expect(catalogJob(c.connections[0], c.ingestions[0], {}, { baseUrls: { coincap: 'http://127.0.0.1:1/v2' }, rateLimitPerMinute: 0 })).toMatchObject({
      baseUrl: 'http://127.0.0.1:1/v2',
      rateLimitPerMinute: 0,
    });
    expect(catalogJob(c.connections[0], c.ingestions[0], { connectionUrl: 'http://127.0.0.1:2/v2' }).baseUrl).toBe('http://127.0.0.1:2/v2');
  });

  it('a stored secret becomes the Authorization header (bearer or basic); none sends nothing', () => {
    const hex = randomBytes(32).toString('hex');
    const env = { COINLAKE_SECRET_KEY: hex };
    const secret = `s3cr3t-${randomBytes(6).toString('hex')}`;
    const sealed = sealSecret(secret, 'C', Buffer.from(hex, 'hex'));
    const bearer = one({ source: 'coincap.rates' }, { auth_type: 'bearer', secret_encrypted: sealed });
    expect(catalogJob(bearer.connections[0], bearer.ingestions[0], { env }).headers).toEqual({ authorization: `Bearer ${secret}` });
    const basic = one({ source: 'coincap.rates' }, { auth_type: 'basic', user_name: 'me', secret_encrypted: sealed });
    expect(catalogJob(basic.connections[0], basic.ingestions[0], { env }).headers).toEqual({ authorization: `Basic ${Buffer.from(`me:${secret}`).toString('base64')}` });
    const none = one({ source: 'coincap.rates' }, { auth_type: 'none', secret_encrypted: sealed });
    expect(catalogJob(none.connections[0], none.ingestions[0], { env: {} }).headers).toBeUndefined();
    expect(() => catalogJob(bearer.connections[0], bearer.ingestions[0], { env: {} })).toThrow('COINLAKE_SECRET_KEY is not set');
  });

  it('a disabled ingestion does not run', () => {
    const c = one({ source: 'coincap.rates', enabled: false });
    expect(() => catalogJob(c.connections[0], c.ingestions[0])).toThrow('C/A is disabled (enabled: false)');
  });
});
