import { describe, expect, it } from 'vitest';
import { decodeBatch } from './message-batch.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('decodeBatch', () => {
  it('lands every payload on its own line and parses each into its record', () => {
    const { raw, records } = decodeBatch([bytes('{"a":1}'), bytes('{"b":"ü€"}'), bytes('[2,3]')]);
    expect(Buffer.from(raw).toString('utf8')).toBe('{"a":1}\n{"b":"ü€"}\n[2,3]\n');
    expect(records).toEqual([{ a: 1 }, { b: 'ü€' }, [2, 3]]);
  });

  it('keeps a payload that is not one JSON value as its text, and parses the others', () => {
    const { raw, records } = decodeBatch([bytes('{"a":1}'), bytes('not json'), bytes('1,2'), bytes(''), bytes('{"c":null}')]);
    expect(Buffer.from(raw).toString('utf8')).toBe('{"a":1}\nnot json\n1,2\n\n{"c":null}\n');
    expect(records).toEqual([{ a: 1 }, 'not json', '1,2', '', { c: null }]);
  });

  it('tells two payloads that join into valid JSON apart ("1,2" then "3" is not three records)', () => {
    expect(decodeBatch([bytes('1,2'), bytes('3')]).records).toEqual(['1,2', 3]);
  });

  it('decodes payloads that are views into a larger buffer (as NATS delivers them)', () => {
    const frame = bytes('xx{"a":1}yy{"b":2}zz');
    const { raw, records } = decodeBatch([frame.subarray(2, 9), frame.subarray(11, 18)]);
    expect(Buffer.from(raw).toString('utf8')).toBe('{"a":1}\n{"b":2}\n');
    expect(records).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('gives an empty page for an empty batch', () => {
    const { raw, records } = decodeBatch([]);
    expect(raw.length).toBe(0);
    expect(records).toEqual([]);
  });
});
