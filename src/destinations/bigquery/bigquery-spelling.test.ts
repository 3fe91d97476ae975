// The core's portable SQL in BigQuery's spelling, checked exactly: the meta tables' DDL and the statements a run sends.
import { describe, expect, it } from 'vitest';
import { parseBigQueryLocation } from './bigquery-location.ts';
import { bigQuerySpelling } from './bigquery-spelling.ts';

const inDataset = parseBigQueryLocation('bigquery://coinlake-demo/analytics?location=EU');
const asNamed = parseBigQueryLocation('bigquery://coinlake-demo');

describe('bigQuerySpelling', () => {
  it('meta-table DDL: datasets of the location, BigQuery types, backticked names, no PRIMARY KEY or UNIQUE', () => {
    const ddl = `CREATE TABLE IF NOT EXISTS coinlake_meta.ingestion_config (
    ingestion_config_id BIGINT PRIMARY KEY,
    connection_name VARCHAR NOT NULL UNIQUE,
    "before" VARCHAR,
    ratio DOUBLE PRECISION,
    n INTEGER,
    is_parquet BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ,
    UNIQUE (connection_name, table_name),
    PRIMARY KEY (ingestion_config_id))`;
    expect(bigQuerySpelling(ddl, inDataset)).toBe(`CREATE TABLE IF NOT EXISTS \`coinlake-demo.analytics_meta.ingestion_config\` (
    ingestion_config_id INT64,
    connection_name STRING NOT NULL,
    \`before\` STRING,
    ratio FLOAT64,
    n INT64,
    is_parquet BOOL DEFAULT TRUE,
    created_at TIMESTAMP)`);
    expect(bigQuerySpelling('CREATE TABLE IF NOT EXISTS coinlake_meta.x (id BIGINT PRIMARY KEY)', asNamed)).toBe('CREATE TABLE IF NOT EXISTS `coinlake-demo.coinlake_meta.x` (id INT64)');
  });

  it("a run's statements: $n as @pn, two-part names qualified, casts respelled, literals and backticked names untouched", () => {
    expect(
      bigQuerySpelling(
        `INSERT INTO coinlake_meta.change_event (event_id, "before") SELECT CAST($1 AS BIGINT), CAST($3 AS TIMESTAMPTZ) FROM coinlake.coincap_assets AS t WHERE t.x = 'coinlake_meta.y "z" $2 VARCHAR' AND \`coinlake-demo.a.b\`.c = $2`,
        inDataset,
      ),
    ).toBe(
      "INSERT INTO `coinlake-demo.analytics_meta.change_event` (event_id, `before`) SELECT CAST(@p1 AS INT64), CAST(@p3 AS TIMESTAMP) FROM `coinlake-demo.analytics.coincap_assets` AS t WHERE t.x = 'coinlake_meta.y \"z\" $2 VARCHAR' AND `coinlake-demo.a.b`.c = @p2",
    );
    expect(bigQuerySpelling('SELECT 1 FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = $1', inDataset)).toBe(
      "SELECT 1 FROM `coinlake-demo`.`region-eu`.INFORMATION_SCHEMA.COLUMNS WHERE table_catalog = 'coinlake-demo' AND table_schema = @p1",
    );
    expect(bigQuerySpelling('ALTER TABLE coinlake_meta.backfill_chunk ADD COLUMN worker VARCHAR', inDataset)).toBe(
      'ALTER TABLE `coinlake-demo.analytics_meta.backfill_chunk` ADD COLUMN IF NOT EXISTS worker STRING',
    );
    // Other schemas and aliases stay as they are.
    expect(bigQuerySpelling('SELECT s.coinlake_x FROM other.t AS s', inDataset)).toBe('SELECT s.coinlake_x FROM other.t AS s');
  });

  it('a NULL value goes into the text as NULL (it fits any column type), wherever it is named', () => {
    expect(bigQuerySpelling('INSERT INTO coinlake_meta.r (a, b, c) VALUES ($1, $2, CAST(@p3 AS BIGINT))', asNamed, ['x', null, undefined])).toBe(
      'INSERT INTO `coinlake-demo.coinlake_meta.r` (a, b, c) VALUES (@p1, NULL, CAST(NULL AS INT64))',
    );
  });

  it('SQL already in BigQuery spelling passes through unchanged', () => {
    const script = "DECLARE n INT64 DEFAULT 0;\nSELECT CAST(@p1 AS STRING), `coinlake-demo.analytics.t`.`time` FROM `coinlake-demo.analytics.t` WHERE x = '\"a\"';";
    expect(bigQuerySpelling(script, inDataset)).toBe(script);
  });
});
