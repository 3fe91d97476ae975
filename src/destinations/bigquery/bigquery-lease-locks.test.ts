// BigQuery's named locks (lease rows) against the fake of BigQuery's REST API executing on DuckDB: the exact
// statements, a second session waiting until the first gives the lease back, and a dead holder's lease expiring.
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigQueryDuckdbEngine, type BigQueryDuckdbEngine } from '../../../test/helpers/bigquery-duckdb-engine.ts';
import { fakeBigQuery, type FakeBigQuery } from '../../../test/helpers/bigquery-fake-api.ts';
import { parseBigQueryLocation } from './bigquery-location.ts';
import { BigQuerySession } from './bigquery-session.ts';
import type { LeaseTiming } from './bigquery-lease-locks.ts';

let engine: BigQueryDuckdbEngine;
let fake: FakeBigQuery;
beforeAll(async () => {
  engine = await bigQueryDuckdbEngine();
  fake = await fakeBigQuery((sql, params) => engine.query(sql, params), (data, load) => engine.load(data, load));
});
afterAll(async () => {
  await fake?.close();
  await engine?.close();
});

function open(timing: Partial<LeaseTiming> = {}): BigQuerySession {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'fake-token', expiry_date: Date.now() + 3_600_000 });
  const client = new BigQuery({ projectId: 'coinlake-demo', location: 'EU', apiEndpoint: fake.url, authClient: auth as never, autoRetry: false });
  return new BigQuerySession(client, parseBigQueryLocation('bigquery://coinlake-demo/locks?location=EU'), timing);
}

const TABLE = '`coinlake-demo.locks_meta.lock_lease`';

describe('BigQuery lease locks', () => {
  it('lockKey takes a lease row by one UPDATE; the holder is given back when the transaction ends; the exact statements', async () => {
    const s = open();
    fake.jobs.length = 0;
    await s.transaction(async () => {
      await s.lockKey('COINCAP/ASSETS');
      await s.lockKey('COINCAP/ASSETS'); // held already: nothing sent
    });
    const holder = (s as unknown as { locks: { holder: string } }).locks.holder;
    expect(fake.jobs.map((j) => [j.configuration.query!.query, (j.configuration.query!.queryParameters ?? []).map((p) => p.parameterValue.value)])).toEqual([
      ["CREATE SCHEMA IF NOT EXISTS `coinlake-demo.locks_meta` OPTIONS (location = 'EU')", []],
      [`CREATE TABLE IF NOT EXISTS ${TABLE} (\n  lock_key STRING NOT NULL,\n  holder STRING,\n  expires_at TIMESTAMP\n)`, []],
      [
        `INSERT INTO ${TABLE} (lock_key, holder, expires_at)\nSELECT @p1, CAST(NULL AS STRING), CAST(NULL AS TIMESTAMP) FROM (SELECT 1 AS one)\nWHERE NOT EXISTS (SELECT 1 FROM ${TABLE} WHERE lock_key = @p1)`,
        ['COINCAP/ASSETS'],
      ],
      [
        `UPDATE ${TABLE} SET holder = @p2, expires_at = @p3\nWHERE lock_key = @p1 AND (holder IS NULL OR holder = @p2 OR expires_at < CURRENT_TIMESTAMP())`,
        ['COINCAP/ASSETS', holder, expect.stringMatching(/^\d{4}-\d\d-\d\dT/)],
      ],
      [`UPDATE ${TABLE} SET holder = CAST(NULL AS STRING), expires_at = CAST(NULL AS TIMESTAMP)\nWHERE lock_key = @p1 AND holder = @p2`, ['COINCAP/ASSETS', holder]],
    ]);
    expect(await s.query(`SELECT lock_key, holder, expires_at FROM coinlake_meta.lock_lease`)).toEqual([{ lock_key: 'COINCAP/ASSETS', holder: null, expires_at: null }]);
    await s.close();
  });

  it('a second session waits until the first one’s transaction ends', async () => {
    const a = open();
    const b = open();
    fake.jobs.length = 0;
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.transaction(async () => {
      await a.lockKey('job/x');
      events.push('a locked');
      await held;
      events.push('a ends');
    });
    const second = (async () => {
      while (!events.includes('a locked')) await new Promise((r) => setTimeout(r, 10));
      await b.transaction(async () => {
        await b.lockKey('job/x');
        events.push('b locked');
      });
    })();
    // b is polling while a holds the lease: its refused attempts (after a's one that took it), not a time, say so.
    while (fake.queries.filter((q) => q.startsWith('UPDATE') && q.includes('holder IS NULL')).length < 4) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['a locked']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['a locked', 'a ends', 'b locked']);
    await a.close();
    await b.close();
  });

  it("a dead holder's lease is taken over once it has expired", async () => {
    const dead = open({ ttlMs: 1 });
    await dead.transaction(async () => {
      await dead.lockKey('job/y');
      // The process "dies" holding it: its lease is never given back.
      (dead as unknown as { locks: { held: Set<string> } }).locks.held.clear();
    });
    const next = open();
    await next.transaction(() => next.lockKey('job/y'));
    const rows = await next.query<{ holder: string | null }>(`SELECT holder FROM coinlake_meta.lock_lease WHERE lock_key = $1`, ['job/y']);
    expect(rows).toEqual([{ holder: null }]); // taken, then given back by next
    await next.close();
  });
});

describe('BigQuery lease locks against a concurrent update', () => {
  it('an UPDATE that loses the race on the table counts as not taken; the next attempt takes the lease', async () => {
    let refused = 0;
    const scripted = await fakeBigQuery((sql) => {
      if (sql.startsWith('UPDATE') && sql.includes('holder IS NULL')) {
        if (refused++ === 0) return { error: { code: 400, message: 'Could not serialize access to table coinlake-demo:locks_meta.lock_lease due to concurrent update' } };
        return { affected: 1 };
      }
      return {};
    });
    try {
      const auth = new OAuth2Client();
      auth.setCredentials({ access_token: 'fake-token', expiry_date: Date.now() + 3_600_000 });
      const client = new BigQuery({ projectId: 'coinlake-demo', location: 'EU', apiEndpoint: scripted.url, authClient: auth as never, autoRetry: false });
      const s = new BigQuerySession(client, parseBigQueryLocation('bigquery://coinlake-demo/locks?location=EU'), { pollMs: 1 });
      await s.transaction(() => s.lockKey('job/z'));
      expect(refused).toBe(2);
      expect(scripted.queries.map((q) => q.split(' ')[0])).toEqual(['CREATE', 'CREATE', 'INSERT', 'UPDATE', 'UPDATE', 'UPDATE']);
      await s.close();
    } finally {
      await scripted.close();
    }
  });
});
