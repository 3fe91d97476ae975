// An exchange's keys: from the catalog connection (its encrypted secret handed to the source, never sent as an
// Authorization header) or the environment, set on ccxt's exchange and masked wherever they would be printed.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { catalogJob } from '../../catalog/catalog-job.ts';
import { connectionSchema, ingestionSchema } from '../../catalog/catalog-schema.ts';
import { sealSecret } from '../../catalog/secret-box.ts';
import { redactText } from '../../http/redact.ts';
import { openVenue, venueCredentials } from './ccxt-venue.ts';

const KEY = randomBytes(32);
const env = { COINLAKE_SECRET_KEY: KEY.toString('hex') };

/** A catalog job of `source` on a connection whose secret is `secret` (user_name `user`). */
function job(source: string, secret: string, user?: string) {
  const conn = connectionSchema.parse({ name: 'CONN', url: 'http://127.0.0.1:9/x', auth_type: user ? 'basic' : 'bearer', user_name: user, secret_encrypted: sealSecret(secret, 'CONN', KEY) });
  const ing = ingestionSchema.parse({ connection: 'CONN', asset: 'A', target_table: 't', source, params: { exchange: 'kraken', asset: 'bitcoin' }, load_type: 'FULL' });
  return catalogJob(conn, ing, { env });
}

describe('ccxt keys', () => {
  it('a catalog connection\'s secret goes to the ccxt source as credentials, not out as an Authorization header', () => {
    const ccxt = job('ccxt.markets', 'exchange-secret-1', 'exchange-key-1');
    expect(ccxt.headers).toBeUndefined();
    expect(ccxt.credentials).toEqual({ user: 'exchange-key-1', secret: 'exchange-secret-1' });
    // Every other source still sends it as a header.
    const coincap = job('coincap.assets', 'coincap-key-1');
    expect(coincap.headers).toEqual({ authorization: 'Bearer coincap-key-1' });
    expect(coincap.credentials).toBeUndefined();
  });

  it('reads the keys from the connection (JSON, or user_name + secret), else from the environment', () => {
    const vars = { COINLAKE_CCXT_KRAKEN_API_KEY: 'env-key-1', COINLAKE_CCXT_KRAKEN_SECRET: 'env-secret-1' };
    expect(venueCredentials('kraken', vars)).toEqual({ apiKey: 'env-key-1', secret: 'env-secret-1', password: undefined });
    expect(venueCredentials('kraken', vars, { user: 'conn-key-1', secret: 'conn-secret-1' })).toEqual({ apiKey: 'conn-key-1', secret: 'conn-secret-1' });
    expect(venueCredentials('okx', {}, { secret: '{"apiKey": "okx-key-1", "secret": "okx-secret-1", "password": "okx-pass-1"}' })).toEqual({ apiKey: 'okx-key-1', secret: 'okx-secret-1', password: 'okx-pass-1' });
    expect(redactText('sent okx-secret-1 and okx-pass-1')).toBe('sent *** and ***');
    expect(() => venueCredentials('okx', {}, { secret: '{"apiKey": ' })).toThrow(/^the connection secret of ccxt exchange okx starts like JSON but does not parse$/);
  });

  it('sets them on ccxt\'s exchange', async () => {
    const venue = await openVenue('kraken', 'http://127.0.0.1:9/ccxt/{exchange}', { user: 'venue-key-1', secret: 'venue-secret-1' }, {});
    expect([venue.exchange.apiKey, venue.exchange.secret, venue.apiUrl]).toEqual(['venue-key-1', 'venue-secret-1', 'http://127.0.0.1:9/ccxt/kraken']);
  });
});
