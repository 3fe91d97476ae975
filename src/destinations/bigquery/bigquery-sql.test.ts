// BigQuery's types and DDL, checked exactly (the write-mode scripts and jobs: bigquery-conformance.test.ts). The same
// text runs in the live conformance run (test/bigquery-live.test.ts) when credentials are given.
import { describe, expect, it } from 'vitest';
import type { TableSpec } from '../../core/table.ts';
import { bigQueryTable, bigQueryType, createTableSql } from './bigquery-sql.ts';

const assets: TableSpec = {
  schema: 'coinlake',
  name: 'coincap_assets',
  columns: [
    { name: 'id', type: 'varchar', nullable: false },
    { name: 'rank', type: 'integer' },
    { name: 'price_usd', type: 'double' },
    { name: 'supply', type: 'decimal(38,18)' },
    { name: 'snapshot_time', type: 'timestamptz', volatile: true },
  ],
  primaryKey: ['id'],
  partitionBy: 'snapshot_time',
  clusteredBy: ['id'],
};
const T = { projectId: 'coinlake-demo', datasetId: 'coinlake', tableId: 'coincap_assets' };

describe('BigQuery SQL', () => {
  it('maps every logical type', () => {
    expect(['varchar', 'double', 'bigint', 'integer', 'boolean', 'timestamptz', 'date', 'json', 'decimal(18,8)', 'decimal(38,18)', 'decimal(38,0)'].map(bigQueryType)).toEqual([
      'STRING', 'FLOAT64', 'INT64', 'INT64', 'BOOL', 'TIMESTAMP', 'DATE', 'JSON', 'NUMERIC(18, 8)', 'BIGNUMERIC(38, 18)', 'BIGNUMERIC(38, 0)',
    ]);
    expect(() => bigQueryType('money')).toThrow('unknown column type "money"');
  });

  it('creates the table partitioned by the UTC date of its partition column and clustered by id', () => {
    expect(createTableSql(T, assets)).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `coinlake-demo.coinlake.coincap_assets` (',
        '  `id` STRING NOT NULL,',
        '  `rank` INT64,',
        '  `price_usd` FLOAT64,',
        '  `supply` BIGNUMERIC(38, 18),',
        '  `snapshot_time` TIMESTAMP,',
        '  `_run_id` STRING,',
        '  `_loaded_at` TIMESTAMP',
        ')',
        'PARTITION BY DATE(`snapshot_time`)',
        'CLUSTER BY `id`',
      ].join('\n'),
    );
    // No partition column: the load time partitions it; no clustering given: the key clusters it.
    const rates: TableSpec = { schema: 'coinlake', name: 'coincap_rates', columns: [{ name: 'id', type: 'varchar' }], primaryKey: ['id'] };
    expect(createTableSql({ ...T, tableId: 'coincap_rates' }, rates).split('\n').slice(-2)).toEqual(['PARTITION BY DATE(`_loaded_at`)', 'CLUSTER BY `id`']);
  });

  it('refuses names that are not identifiers or project ids', () => {
    expect(() => bigQueryTable({ ...T, tableId: 'coincap_assets; DROP TABLE x' })).toThrow(/coincap_assets; DROP TABLE x/);
    expect(() => bigQueryTable({ ...T, projectId: 'My Project' })).toThrow('BigQuery project "My Project" is not a project id; expected 6–30 lower-case letters, digits and hyphens, starting with a letter');
  });
});
