// COPY text encoding: exact field text per column type, hostile strings, and a round trip of random strings
// through a real COPY into PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError } from '../../core/errors.ts';
import type { ColumnSpec, Row, TableSpec } from '../../core/table.ts';
import { COPY_NULL, copyTextChunks, encodeCopyValue, escapeCopyText } from './postgres-copy.ts';
import { openPostgresSession } from './postgres-destination.ts';
import type { PostgresSession } from './postgres-session.ts';
import { createTestDatabase, type TestDatabase } from './postgres-test-database.ts';

describe('escapeCopyText', () => {
  it('escapes exactly backslash, tab, newline and carriage return', () => {
    expect(escapeCopyText('plain Zürich 東京 Україна "q" \'s\' ,;|')).toBe('plain Zürich 東京 Україна "q" \'s\' ,;|');
    expect(escapeCopyText('a\tb')).toBe('a\\tb');
    expect(escapeCopyText('a\nb')).toBe('a\\nb');
    expect(escapeCopyText('a\r\nb')).toBe('a\\r\\nb');
    expect(escapeCopyText('a\\b')).toBe('a\\\\b');
    expect(escapeCopyText('\\N')).toBe('\\\\N');
    expect(escapeCopyText('\\.')).toBe('\\\\.');
    expect(escapeCopyText('\\\\\t\t')).toBe('\\\\\\\\\\t\\t');
    expect(escapeCopyText('')).toBe('');
    // Other control characters are taken literally by the text format.
    expect(escapeCopyText('\b\f\v\x1b')).toBe('\b\f\v\x1b');
  });

  it('refuses NUL, which PostgreSQL text cannot hold', () => {
    expect(() => escapeCopyText('a\0b')).toThrow('NUL');
  });
});

describe('encodeCopyValue', () => {
  it('writes NULL as \\N and never confuses it with text', () => {
    expect(encodeCopyValue('varchar', null)).toBe(COPY_NULL);
    expect(encodeCopyValue('varchar', undefined)).toBe('\\N');
    expect(encodeCopyValue('varchar', '\\N')).toBe('\\\\N');
    expect(encodeCopyValue('varchar', 'NULL')).toBe('NULL');
    expect(encodeCopyValue('varchar', '')).toBe('');
  });

  it('timestamptz as ISO-8601 UTC, from Dates, zoned strings, zone-less strings and epochs', () => {
    expect(encodeCopyValue('timestamptz', new Date('2024-01-02T03:04:05.678Z'))).toBe('2024-01-02T03:04:05.678Z');
    expect(encodeCopyValue('timestamptz', '2024-03-31T23:30:00-02:00')).toBe('2024-04-01T01:30:00.000Z');
    expect(encodeCopyValue('timestamptz', '2024-03-31 23:59:59')).toBe('2024-03-31T23:59:59.000Z');
    expect(encodeCopyValue('timestamptz', 1704067200)).toBe('2024-01-01T00:00:00.000Z');
    expect(encodeCopyValue('timestamptz', 1704067200123)).toBe('2024-01-01T00:00:00.123Z');
    expect(() => encodeCopyValue('timestamptz', new Date(Number.NaN))).toThrow('invalid Date');
    expect(() => encodeCopyValue('timestamptz', true)).toThrow('not a timestamp');
  });

  it('date as YYYY-MM-DD (UTC date of an instant)', () => {
    expect(encodeCopyValue('date', '2024-02-29')).toBe('2024-02-29');
    expect(encodeCopyValue('date', new Date('2024-12-31T23:59:59Z'))).toBe('2024-12-31');
  });

  it('doubles as their shortest round-trip text, specials by name', () => {
    expect(encodeCopyValue('double', 0.1)).toBe('0.1');
    expect(encodeCopyValue('double', 1 / 3)).toBe('0.3333333333333333');
    expect(encodeCopyValue('double', 5e-324)).toBe('5e-324');
    expect(encodeCopyValue('double', 1e21)).toBe('1e+21');
    expect(encodeCopyValue('double', Number.NaN)).toBe('NaN');
    expect(encodeCopyValue('double', -Infinity)).toBe('-Infinity');
    expect(encodeCopyValue('double', ' 42.5 ')).toBe('42.5');
    expect(() => encodeCopyValue('double', 'abc')).toThrow('not a number');
    expect(() => encodeCopyValue('double', '')).toThrow('not a number');
  });

  it('integers exactly, with range checks', () => {
    expect(encodeCopyValue('bigint', 9007199254740991)).toBe('9007199254740991');
    expect(encodeCopyValue('bigint', 9223372036854775807n)).toBe('9223372036854775807');
    expect(encodeCopyValue('bigint', ' -9223372036854775808 ')).toBe('-9223372036854775808');
    expect(() => encodeCopyValue('bigint', 9223372036854775808n)).toThrow('out of range');
    expect(() => encodeCopyValue('bigint', 1.5)).toThrow('not an integer');
    expect(encodeCopyValue('integer', -2147483648)).toBe('-2147483648');
    expect(() => encodeCopyValue('integer', 2147483648)).toThrow('out of range');
  });

  it('booleans as t / f', () => {
    expect(encodeCopyValue('boolean', true)).toBe('t');
    expect(encodeCopyValue('boolean', false)).toBe('f');
    expect(encodeCopyValue('boolean', 'TRUE')).toBe('t');
    expect(encodeCopyValue('boolean', 0)).toBe('f');
    expect(() => encodeCopyValue('boolean', 'yes please')).toThrow('not a boolean');
  });

  it('decimals as exact text', () => {
    expect(encodeCopyValue('decimal(38,18)', '12345678901234567890.123456789012345678')).toBe('12345678901234567890.123456789012345678');
    expect(encodeCopyValue('decimal(38,18)', 0.1)).toBe('0.1');
    expect(encodeCopyValue('decimal(38,18)', 10n ** 19n)).toBe('10000000000000000000');
    expect(encodeCopyValue('decimal(10,2)', ' 1.5e3 ')).toBe('1.5e3');
    expect(() => encodeCopyValue('decimal(10,2)', 'NaN')).toThrow('not a decimal');
    expect(() => encodeCopyValue('decimal(10,2)', Infinity)).toThrow('not a finite number');
    expect(() => encodeCopyValue('decimal(10,2)', '1;DROP TABLE x')).toThrow('not a decimal');
  });

  it('json as JSON text, escaped for COPY', () => {
    expect(encodeCopyValue('json', { a: 'tab\tnew\nline', b: 'back\\slash' })).toBe('{"a":"tab\\\\tnew\\\\nline","b":"back\\\\\\\\slash"}');
    expect(encodeCopyValue('json', '{"raw":\t1}')).toBe('{"raw":\\t1}');
    expect(() => encodeCopyValue('json', '{not json')).toThrow();
  });
});

describe('copyTextChunks', () => {
  const columns: ColumnSpec[] = [
    { name: 'id', type: 'bigint' },
    { name: 'label', type: 'varchar' },
  ];

  it('writes one line per row, tab-separated, with the trailing fields', () => {
    const rows = [{ id: 1, label: 'a\tb' }, { id: 2 }, { id: 3, label: '\\N' }];
    const text = [...copyTextChunks(rows, columns, { table: 's.t', trailing: (i) => `\trun\t${i}` })].join('');
    expect(text).toBe('1\ta\\tb\trun\t0\n2\t\\N\trun\t1\n3\t\\\\N\trun\t2\n');
  });

  it('streams in chunks of whole lines', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, label: 'x'.repeat(50) }));
    const chunks = [...copyTextChunks(rows, columns, { table: 's.t', chunkChars: 4096 })];
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.endsWith('\n')).toBe(true);
    expect(chunks.join('').split('\n')).toHaveLength(1001);
  });

  it('names the row and column of a value it cannot encode', () => {
    const rows = [{ id: 1 }, { id: 'two' }];
    const err = (() => {
      try {
        [...copyTextChunks(rows, columns, { table: 'coinlake.t' })];
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toBe('cannot load "two" into coinlake.t.id (bigint), row 2 of the batch: not an integer');
    expect((err as TerminalError).context).toMatchObject({ row: 2, field: 'id' });
  });
});

describe('COPY round trip on PostgreSQL', () => {
  let db: TestDatabase;
  let s: PostgresSession;
  beforeAll(async () => {
    db = await createTestDatabase();
    s = await openPostgresSession(db.url);
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  /** Deterministic pseudo-random strings over every code point class that matters: controls, specials, BMP, astral. */
  function hostileStrings(count: number): string[] {
    let seed = 20240601;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const pool = ['\\', '\t', '\n', '\r', '\\N', '\\.', '"', "'", ',', ' ', 'a', 'Z', 'ü', '東', 'ї', '😀', '\x01', '\x1f', '\x7f', '\u00a0', '\u2028', '\ufeff'];
    return Array.from({ length: count }, () => {
      const len = next() % 40;
      let text = '';
      for (let i = 0; i < len; i++) {
        const pick = next() % (pool.length + 1);
        text += pick < pool.length ? pool[pick] : String.fromCodePoint(1 + (next() % 0xd7fe));
      }
      return text;
    });
  }

  it('5,000 random hostile strings come back identical', async () => {
    const t: TableSpec = { schema: 'coinlake', name: 'copy_hostile', columns: [{ name: 'id', type: 'bigint' }, { name: 'label', type: 'varchar' }], primaryKey: ['id'] };
    const labels = hostileStrings(5000);
    const rows: Row[] = labels.map((label, id) => ({ id, label }));
    const staging = await s.stage(t, rows, { runId: 'run\t"1"\\', processId: 1, loadedAt: new Date('2024-01-01T00:00:00Z') });
    const back = await s.query<{ id: number; label: string; _run_id: string }>(`SELECT id, label, _run_id FROM ${staging} ORDER BY id`);
    expect(back.map((r) => r.label)).toEqual(labels);
    expect(new Set(back.map((r) => r._run_id))).toEqual(new Set(['run\t"1"\\']));
    await s.dropStaging(staging);
  });
});
