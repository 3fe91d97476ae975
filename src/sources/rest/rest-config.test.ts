import { describe, expect, it } from 'vitest';
import { fillTemplate, restConfig, valueAtPath } from './rest-config.ts';
import { nextLink } from './rest-source.ts';

describe('REST source settings', () => {
  it('query.<name> params, defaults and a URL template', () => {
    const cfg = restConfig({ path: '/coins/{id}/tickers', id: 'bitcoin', 'query.vs_currency': 'usd', pagination: 'page' });
    expect(cfg).toMatchObject({ path: '/coins/bitcoin/tickers', query: { vs_currency: 'usd' }, pagination: 'page', pageParam: 'page', sizeParam: 'per_page', pageSize: 100, firstPage: 1, recordsPath: '' });
  });

  it('errors name the param and what is accepted', () => {
    expect(() => restConfig({ path: '/x', pagination: 'scroll' })).toThrow('rest: pagination must be one of none, offset, page, cursor, link, got "scroll"');
    expect(() => restConfig({ pagination: 'none' })).toThrow('needs params.path');
    expect(() => restConfig({ path: '/x', pagination: 'cursor' })).toThrow('needs params.cursor_path');
    expect(() => fillTemplate('/coins/{id}', {})).toThrow('uses {id}, but the ingestion has no param id');
  });

  it('dot paths and Link headers', () => {
    expect(valueAtPath({ meta: { next: 'abc' } }, 'meta.next')).toEqual({ found: true, value: 'abc' });
    expect(valueAtPath({ data: [] }, 'result.items')).toEqual({ found: false, at: '', value: { data: [] } });
    expect(nextLink('<https://api.example/x?page=3>; rel="next", <https://api.example/x?page=9>; rel="last"')).toBe('https://api.example/x?page=3');
    expect(nextLink('<https://api.example/x?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});
