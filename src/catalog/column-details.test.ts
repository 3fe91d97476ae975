// Column details → typed tables: datatypes, renames, order, derived columns, keys.
import { describe, expect, it } from 'vitest';
import { findStream } from '../sources/registry.ts';
import { withOrdinals, type ColumnDetailInput } from './catalog-schema.ts';
import { loadBuiltinCatalog } from './config-file.ts';
import { datatypeText, ingestionTable, parseDatatype } from './column-details.ts';

const detail = (column_name: string, mapping_column: string, datatype: string, extra: Partial<ColumnDetailInput> = {}): ColumnDetailInput => ({
  column_name,
  mapping_column,
  datatype,
  is_nullable: true,
  ordinal_position: undefined,
  ...extra,
});

describe('datatypes', () => {
  it('accepts the documented forms and common aliases, case-insensitively', () => {
    expect(
      ['VARCHAR', 'text', 'DOUBLE', 'double precision', 'BIGINT', 'INTEGER', 'int', 'BOOLEAN', 'TIMESTAMPTZ', 'timestamp with time zone', 'DATE', 'JSON'].map(parseDatatype),
    ).toEqual(['varchar', 'varchar', 'double', 'double', 'bigint', 'integer', 'integer', 'boolean', 'timestamptz', 'timestamptz', 'date', 'json']);
    expect(parseDatatype('DECIMAL(38,18)')).toBe('decimal(38,18)');
    expect(parseDatatype('numeric( 20 , 8 )')).toBe('decimal(20,8)');
    expect(datatypeText('decimal(20,8)')).toBe('DECIMAL(20,8)');
  });

  it('refuses what it cannot map', () => {
    expect(['VARCHAR(10)', 'DECIMAL(39,2)', 'DECIMAL(5,6)', 'FLOAT', 'TIMESTAMP', ''].map(parseDatatype)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('ingestionTable', () => {
  const rates = findStream('coincap.rates').stream;
  const markets = findStream('coincap.markets').stream;

  it('the built-in column details give exactly the stream tables', async () => {
    const c = await loadBuiltinCatalog();
    for (const ing of c.ingestions) {
      const { stream } = findStream(ing.source);
      expect(ingestionTable(stream, ing, withOrdinals(ing.columns ?? []))).toEqual(stream.table);
    }
  });

  it('renames, types and orders by ordinal_position; keeps volatility and derived columns', () => {
    const t = ingestionTable(
      markets,
      { asset: 'M', target_table: 'my_markets', primary_key: ['ex', 'base', 'quote'] },
      withOrdinals([
        detail('priceUsd', 'usd', 'DECIMAL(30,10)', { ordinal_position: 4 }),
        detail('exchangeId', 'ex', 'VARCHAR', { ordinal_position: 1 }),
        detail('baseId', 'base', 'VARCHAR', { ordinal_position: 2 }),
        detail('quoteId', 'quote', 'VARCHAR', { ordinal_position: 3, is_nullable: false }),
        detail('timestamp', 'seen_at', 'TIMESTAMPTZ', { ordinal_position: 5 }),
      ]),
    );
    expect(t).toEqual({
      schema: 'coinlake',
      name: 'my_markets',
      primaryKey: ['ex', 'base', 'quote'],
      columns: [
        { name: 'ex', type: 'varchar', source: 'exchangeId' },
        { name: 'base', type: 'varchar', source: 'baseId' },
        { name: 'quote', type: 'varchar', source: 'quoteId', nullable: false },
        { name: 'usd', type: 'decimal(30,10)', source: 'priceUsd' },
        { name: 'seen_at', type: 'timestamptz', source: 'timestamp', volatile: true },
        { name: 'pair', type: 'varchar', derived: true },
      ],
    });
  });

  it('without column details: the stream table under the target name', () => {
    const t = ingestionTable(rates, { asset: 'R', target_table: 'rates_copy', clustered_by: ['symbol'] });
    expect(t).toEqual({ ...rates.table, name: 'rates_copy', clusteredBy: ['symbol'] });
  });

  it('key, partition and clustering must name target columns', () => {
    const cols = withOrdinals([detail('id', 'rate_id', 'VARCHAR')]);
    expect(() => ingestionTable(rates, { asset: 'R', target_table: 'r' }, cols)).toThrow(
      'R: primary key column id is not a column of r; expected primary_key to name target columns',
    );
    expect(() => ingestionTable(rates, { asset: 'R', target_table: 'r', primary_key: ['rate_id'], partitioned_by: 'day' }, cols)).toThrow(
      'R: partitioned_by column day is not a column of r',
    );
    expect(() => ingestionTable(rates, { asset: 'R', target_table: 'r', primary_key: ['rate_id'], clustered_by: ['x'] }, cols)).toThrow(
      'R: clustered_by column x is not a column of r',
    );
    expect(() => ingestionTable(markets, { asset: 'M', target_table: 'm', primary_key: ['pair'] }, withOrdinals([detail('baseSymbol', 'pair', 'VARCHAR')]))).toThrow(
      'M: column pair appears twice in m (the stream derives pair itself)',
    );
  });
});
