// BigQuery cannot be reached from here: the generated SQL and job configurations are checked exactly. The same
// text runs in the live conformance run (test/bigquery-live.test.ts) when credentials are given.
import { describe, expect, it } from 'vitest';
import type { TableSpec } from '../../core/table.ts';
import { loadToBigQuery, stagingTableId, type BigQueryPort } from './bigquery-loader.ts';
import { bigQueryTable, bigQueryType, createTableSql, stagingLoadConfig, writeModeSql } from './bigquery-sql.ts';

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
const S = { projectId: 'coinlake-demo', datasetId: 'coinlake', tableId: '_stg_coincap_assets_r1' };

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

  it('the load job config: Parquet into staging, first file truncates, later ones append', () => {
    expect(stagingLoadConfig(S, { append: false })).toEqual({
      sourceFormat: 'PARQUET',
      destinationTable: { projectId: 'coinlake-demo', datasetId: 'coinlake', tableId: '_stg_coincap_assets_r1' },
      writeDisposition: 'WRITE_TRUNCATE',
      createDisposition: 'CREATE_IF_NEEDED',
      parquetOptions: { enableListInference: true },
    });
    expect(stagingLoadConfig(S, { append: true, sourceUris: ['gs://b/curated/coincap_assets/*.parquet'] })).toMatchObject({
      writeDisposition: 'WRITE_APPEND',
      sourceUris: ['gs://b/curated/coincap_assets/*.parquet'],
    });
  });

  it('merge: one MERGE on the key over the newest staged row per key; volatile columns never make a change', () => {
    expect(writeModeSql('merge', T, S, assets)).toBe(
      [
        'MERGE `coinlake-demo.coinlake.coincap_assets` AS t',
        'USING (SELECT * FROM `coinlake-demo.coinlake._stg_coincap_assets_r1` WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY `id` ORDER BY `_loaded_at` DESC, `_run_id` DESC) = 1) AS s',
        'ON t.`id` = s.`id`',
        'WHEN MATCHED AND (t.`rank` IS DISTINCT FROM s.`rank` OR t.`price_usd` IS DISTINCT FROM s.`price_usd` OR t.`supply` IS DISTINCT FROM s.`supply`) THEN',
        '  UPDATE SET `rank` = s.`rank`, `price_usd` = s.`price_usd`, `supply` = s.`supply`, `snapshot_time` = s.`snapshot_time`, `_run_id` = s.`_run_id`, `_loaded_at` = s.`_loaded_at`',
        'WHEN NOT MATCHED THEN',
        '  INSERT (`id`, `rank`, `price_usd`, `supply`, `snapshot_time`, `_run_id`, `_loaded_at`) VALUES (s.`id`, s.`rank`, s.`price_usd`, s.`supply`, s.`snapshot_time`, s.`_run_id`, s.`_loaded_at`);',
      ].join('\n'),
    );
    expect(writeModeSql('merge', T, S, { ...assets, deleteMissing: true }).split('\n').slice(-2)).toEqual(['WHEN NOT MATCHED BY SOURCE THEN', '  DELETE;']);
  });

  it('replace, append and delete_insert', () => {
    const cols = '`id`, `rank`, `price_usd`, `supply`, `snapshot_time`, `_run_id`, `_loaded_at`';
    const deduped = '(SELECT * FROM `coinlake-demo.coinlake._stg_coincap_assets_r1` WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY `id` ORDER BY `_loaded_at` DESC, `_run_id` DESC) = 1)';
    expect(writeModeSql('append', T, S, assets)).toBe(`INSERT INTO \`coinlake-demo.coinlake.coincap_assets\` (${cols})\nSELECT ${cols} FROM \`coinlake-demo.coinlake._stg_coincap_assets_r1\` AS s;`);
    expect(writeModeSql('replace', T, S, assets)).toBe(
      ['BEGIN TRANSACTION;', 'DELETE FROM `coinlake-demo.coinlake.coincap_assets` WHERE TRUE;', `INSERT INTO \`coinlake-demo.coinlake.coincap_assets\` (${cols})\nSELECT ${cols} FROM ${deduped} AS s;`, 'COMMIT TRANSACTION;'].join('\n'),
    );
    expect(writeModeSql('delete_insert', T, S, assets)).toBe(
      [
        'BEGIN TRANSACTION;',
        'DELETE FROM `coinlake-demo.coinlake.coincap_assets` AS t',
        'WHERE DATE(t.`snapshot_time`) IN (SELECT DISTINCT DATE(s.`snapshot_time`) FROM `coinlake-demo.coinlake._stg_coincap_assets_r1` AS s WHERE s.`snapshot_time` IS NOT NULL)',
        '   OR (t.`snapshot_time` IS NULL AND EXISTS (SELECT 1 FROM `coinlake-demo.coinlake._stg_coincap_assets_r1` AS s WHERE s.`snapshot_time` IS NULL));',
        `INSERT INTO \`coinlake-demo.coinlake.coincap_assets\` (${cols})\nSELECT ${cols} FROM ${deduped} AS s;`,
        'COMMIT TRANSACTION;',
      ].join('\n'),
    );
  });

  it('refuses what cannot be expressed, with the reason', () => {
    expect(() => writeModeSql('merge', T, S, { ...assets, primaryKey: [] })).toThrow('write mode merge needs a primary key on coinlake.coincap_assets');
    expect(() => writeModeSql('delete_insert', T, S, { ...assets, partitionBy: undefined })).toThrow('write mode delete_insert needs a partition column on coinlake.coincap_assets');
    expect(() => writeModeSql('scd2', T, S, assets)).toThrow('write mode scd2 is not available on BigQuery yet (coinlake.coincap_assets)');
    expect(() => bigQueryTable({ ...T, tableId: 'coincap_assets; DROP TABLE x' })).toThrow(/coincap_assets; DROP TABLE x/);
    expect(() => bigQueryTable({ ...T, projectId: 'My Project' })).toThrow('BigQuery project "My Project" is not a project id; expected 6–30 lower-case letters, digits and hyphens, starting with a letter');
  });
});

/** Records what the loader asks BigQuery to do (Google cannot be reached from here). */
function recordingPort(fail?: (what: string) => boolean): { port: BigQueryPort; calls: string[] } {
  const calls: string[] = [];
  const step = (what: string) => {
    calls.push(what);
    if (fail?.(what)) throw new Error(`boom at ${what.split('\n')[0]}`);
  };
  return {
    calls,
    port: {
      ensureDataset: async (p, d, l) => step(`dataset ${p}.${d} ${l}`),
      load: async (config, file) => {
        step(`load ${file ?? config.sourceUris?.join(',')} → ${config.destinationTable.tableId} ${config.writeDisposition}`);
        return { outputRows: 10 };
      },
      query: async (sql) => {
        step(sql.split('\n')[0]);
        return { rows: [], dmlAffectedRows: sql.startsWith('MERGE') ? 7 : undefined };
      },
      dropTable: async (ref) => step(`drop ${ref.tableId}`),
    },
  };
}

describe('loadToBigQuery', () => {
  it('ensures dataset and table, loads every file into staging, merges, drops staging', async () => {
    const { port, calls } = recordingPort();
    const r = await loadToBigQuery({ port, projectId: 'coinlake-demo', datasetId: 'coinlake', table: assets, mode: 'merge', files: ['/lake/a.parquet', '/lake/b.parquet'], runId: '20260302T100000Z-ab12' });
    expect(calls).toEqual([
      'dataset coinlake-demo.coinlake US',
      'CREATE TABLE IF NOT EXISTS `coinlake-demo.coinlake.coincap_assets` (',
      'load /lake/a.parquet → _stg_coincap_assets_20260302T100000Z_ab12 WRITE_TRUNCATE',
      'load /lake/b.parquet → _stg_coincap_assets_20260302T100000Z_ab12 WRITE_APPEND',
      'MERGE `coinlake-demo.coinlake.coincap_assets` AS t',
      'drop _stg_coincap_assets_20260302T100000Z_ab12',
    ]);
    expect([r.target, r.stagedRows, r.affectedRows]).toEqual(['`coinlake-demo.coinlake.coincap_assets`', 20, 7]);
  });

  it('a failing load names the table, and staging is dropped anyway', async () => {
    const { port, calls } = recordingPort((w) => w.startsWith('load /lake/b'));
    await expect(loadToBigQuery({ port, projectId: 'coinlake-demo', datasetId: 'coinlake', table: assets, mode: 'merge', files: ['/lake/a.parquet', '/lake/b.parquet'], runId: 'r1' })).rejects.toThrow(
      'BigQuery load of `coinlake-demo.coinlake.coincap_assets` failed: boom at load /lake/b.parquet → _stg_coincap_assets_r1 WRITE_APPEND',
    );
    expect(calls.at(-1)).toBe('drop _stg_coincap_assets_r1');
    expect(calls.some((c) => c.startsWith('MERGE'))).toBe(false);
  });

  it('no files: a clear error before anything is sent', async () => {
    const { port, calls } = recordingPort();
    await expect(loadToBigQuery({ port, projectId: 'coinlake-demo', datasetId: 'coinlake', table: assets, mode: 'merge', files: [], runId: 'r1' })).rejects.toThrow('no curated files for coincap_assets: nothing to load into BigQuery');
    expect(calls).toEqual([]);
    expect(stagingTableId('t', 'a-b.c')).toBe('_stg_t_a_b_c');
  });
});
