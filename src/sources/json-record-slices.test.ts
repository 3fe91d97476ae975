import { describe, expect, it } from 'vitest';
import { scanRecords } from './json-record-slices.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const all = (text: string, path: string, size: number) => {
  const s = scanRecords(bytes(text), path, size);
  if (!s) return undefined;
  return { count: s.count, envelope: s.envelope, slices: [...s.slices()] };
};

describe('scanRecords', () => {
  const records = [
    { id: 'a', v: 1 },
    { id: 'quote " and \\ backslash', v: [1, [2, { x: ']' }]] },
    { id: 'brackets ]}[{ , in a string', v: null },
    { id: 'ends in a backslash \\', v: true },
    { id: 'ünïcødé ✓', v: -1.5e-7 },
    'a bare string',
    7,
  ];

  it('gives the elements of the array at the path, slice by slice, as JSON.parse reads them', () => {
    const body = JSON.stringify({ meta: { next: 'c2', note: '[{"data":[1]}]' }, data: records, total: 7 }, null, 1);
    for (const size of [1, 2, 3, 7, 10]) {
      const r = all(body, 'data', size)!;
      expect(r.count).toBe(7);
      expect(r.slices.flat()).toEqual(records);
      expect(r.slices.map((s) => s.length)).toEqual(Array.from({ length: Math.ceil(7 / size) }, (_, i) => Math.min(size, 7 - i * size)));
      expect(r.envelope).toEqual({ meta: { next: 'c2', note: '[{"data":[1]}]' }, data: [], total: 7 });
    }
  });

  it('reads a body that is the array itself, a nested path, and an empty array', () => {
    expect(all(` \n${JSON.stringify(records)}\n`, '', 3)!.slices.flat()).toEqual(records);
    expect(all(JSON.stringify({ result: { items: records } }), 'result.items', 4)!.slices.flat()).toEqual(records);
    expect(all('{"data": [ ], "n": 0}', 'data', 2)).toEqual({ count: 0, envelope: { data: [], n: 0 }, slices: [] });
    expect(all('[]', '', 2)).toEqual({ count: 0, envelope: [], slices: [] });
  });

  it('leaves to JSON.parse what it does not expect: no array there, a path through an array, a repeated key, broken brackets', () => {
    expect(scanRecords(bytes('{"data": {"a": 1}}'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('{"other": []}'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('{"data": [{"items": [1]}]}'), 'data.0')).toBeUndefined();
    expect(scanRecords(bytes('{"data": [1], "data": [2, 3]}'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('{"data": [1, {"a": 2]}'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('{"data": [1, "open'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('[1, 2] trailing'), '')).toBeUndefined();
    expect(scanRecords(bytes('{"data": [1, 2], oops}'), 'data')).toBeUndefined();
    expect(scanRecords(bytes('<html>'), '')).toBeUndefined();
  });

  it('throws a SyntaxError from the slice that holds bad JSON, after the slices before it', () => {
    const s = scanRecords(bytes('{"data": [1, 2, 3, tru, 5]}'), 'data', 2)!;
    const it = s.slices();
    expect(it.next().value).toEqual([1, 2]);
    expect(() => it.next()).toThrow(SyntaxError);
    for (const text of ['[1,2,]', '[,1,2]', '[1,,2]']) {
      for (const size of [1, 2, 3]) expect(() => [...scanRecords(bytes(text), '', size)!.slices()], `${text} by ${size}`).toThrow(SyntaxError);
    }
  });
});
