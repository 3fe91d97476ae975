// DDL of the metadata tables in schema coinlake_meta (DESIGN §4); the same columns on every warehouse.
import type { Session } from '../core/destination.ts';

export const META_SCHEMA = 'coinlake_meta';
export const DATA_SCHEMA = 'coinlake';

/** Sequence of workflow_action_history.process_id (the dialect creates it and draws from it). */
export const PROCESS_ID_SEQ = 'process_id_seq';
/** Sequence of change_event.event_id. */
export const EVENT_ID_SEQ = 'event_id_seq';

/** The catalog's three tables: connections, ingestion configs and their column details. */
export const CATALOG_TABLES = {
  connections: `${META_SCHEMA}.ingestion_connection_info`,
  ingestions: `${META_SCHEMA}.ingestion_config`,
  columns: `${META_SCHEMA}.ingestion_column_details`,
};

/** Portable DDL: types both DuckDB and PostgreSQL accept; JSON kept as text for portability. */
const META_DDL: string[] = [
  `CREATE TABLE IF NOT EXISTS coinlake_meta.ingestion_connection_info (
    connection_id BIGINT PRIMARY KEY,
    connection_name VARCHAR NOT NULL UNIQUE,
    connection_url VARCHAR,
    auth_type VARCHAR,
    user_name VARCHAR,
    secret_encrypted VARCHAR,
    driver_name VARCHAR,
    sandbox BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMPTZ,
    modified_at TIMESTAMPTZ,
    rate_limit_per_minute INTEGER,
    rate_limit_shared BOOLEAN)`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.ingestion_config (
    ingestion_config_id BIGINT PRIMARY KEY,
    connection_name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    target_table VARCHAR NOT NULL,
    ingestion_type VARCHAR NOT NULL,
    source_path VARCHAR,
    primary_key_column VARCHAR,
    incremental_date_column VARCHAR,
    load_type VARCHAR,
    write_mode VARCHAR,
    on_missing VARCHAR,
    on_invalid VARCHAR,
    quality_checks VARCHAR,
    extra_parameters VARCHAR,
    file_format VARCHAR,
    delimiter VARCHAR,
    partitioned_by VARCHAR,
    clustered_by VARCHAR,
    is_parquet BOOLEAN DEFAULT TRUE,
    is_external BOOLEAN DEFAULT FALSE,
    lake_destination VARCHAR,
    schedule VARCHAR,
    enabled BOOLEAN DEFAULT TRUE,
    created_by VARCHAR,
    created_at TIMESTAMPTZ,
    modified_by VARCHAR,
    modified_at TIMESTAMPTZ,
    UNIQUE (connection_name, table_name))`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.ingestion_column_details (
    table_name VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    mapping_column VARCHAR NOT NULL,
    datatype VARCHAR NOT NULL,
    ordinal_position INTEGER NOT NULL,
    is_nullable BOOLEAN DEFAULT TRUE,
    PRIMARY KEY (table_name, column_name))`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.workflow_action_history (
    process_id BIGINT PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    connection_name VARCHAR,
    table_name VARCHAR,
    executed_by VARCHAR,
    execution_start_datetime TIMESTAMPTZ,
    execution_end_datetime TIMESTAMPTZ,
    execution_status INTEGER NOT NULL,
    rows_extracted BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,
    lake_paths VARCHAR,
    log_path VARCHAR,
    error_message VARCHAR,
    details VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.workflow_audit_details (
    process_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    record_cnt_before BIGINT,
    record_cnt_after BIGINT,
    record_cnt_delta BIGINT,
    delta_running_avg DOUBLE PRECISION,
    delta_running_variance DOUBLE PRECISION,
    delta_running_stddev DOUBLE PRECISION,
    created_at TIMESTAMPTZ)`,
  // event_id comes from event_id_seq, unique by construction: no PRIMARY KEY, whose index (DuckDB's ART) more than
  // doubled the cost of writing a million events and grows with the table.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.change_event (
    event_id BIGINT NOT NULL,
    process_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    primary_key VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    "before" VARCHAR,
    "after" VARCHAR,
    changed_columns VARCHAR,
    event_time TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.quality_result (
    process_id BIGINT,
    table_name VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    check_type VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    failing_rows BIGINT,
    observed VARCHAR,
    message VARCHAR,
    checked_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.ingestion_state (
    connection_name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    process_id BIGINT,
    PRIMARY KEY (connection_name, table_name))`,
  `CREATE TABLE IF NOT EXISTS coinlake_meta.backfill_chunk (
    process_id BIGINT NOT NULL,
    job VARCHAR NOT NULL,
    chunk_start TIMESTAMPTZ NOT NULL,
    chunk_end TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    rows_loaded BIGINT,
    committed_at TIMESTAMPTZ NOT NULL,
    worker VARCHAR,
    PRIMARY KEY (job, chunk_start, chunk_end))`,
  // One row per chunk task of a distributed backfill (src/distributed/): queued by the coordinator, then running,
  // retrying, failed or committed as workers take it; written outside the data transaction except `committed`.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.backfill_task (
    process_id BIGINT NOT NULL,
    job VARCHAR NOT NULL,
    chunk_start TIMESTAMPTZ NOT NULL,
    chunk_end TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    worker VARCHAR,
    attempts INTEGER NOT NULL,
    pages BIGINT,
    rows_extracted BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_inserted BIGINT,
    rows_updated BIGINT,
    message VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (process_id, job, chunk_start))`,
  // The warehouse's identity: ONE row (id = 1) holding a random id written once (catalog/warehouse-identity.ts), so
  // processes sharing a NATS server tell warehouses apart (distributed task subjects and consumers carry it).
  `CREATE TABLE IF NOT EXISTS coinlake_meta.warehouse_identity (
    id INTEGER PRIMARY KEY,
    warehouse_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL)`,
  // One row per scheduled job (scheduler/job-lease.ts): which `coinlake schedule` process runs it until when, and the
  // newest fire time a run was started for, so no two schedulers anywhere run one job at once or one fire time twice.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.job_lease (
    job_key VARCHAR PRIMARY KEY,
    holder VARCHAR,
    fire_at TIMESTAMPTZ,
    taken_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ NOT NULL)`,
  // Candle times a venue was asked for and answered without a candle (`coinlake repair`, runner/candle-repair.ts):
  // the gap finder counts them as present, so they are not requested again. Written with the repaired rows.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.candle_known_missing (
    table_name VARCHAR NOT NULL,
    exchange VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (table_name, exchange, symbol, ts))`,
  // Identity (models/identity/): a user's pin (link this source id to that asset) or forbid (never to that asset),
  // from `identity.assets` of the catalog YAML or written by hand; they win over the matching's scores.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.asset_alias (
    source VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    note VARCHAR,
    origin VARCHAR,
    created_at TIMESTAMPTZ,
    PRIMARY KEY (source, source_id, asset_id))`,
  // An id a source gives an exchange → the exchange's key; adds to and overrides the built-in renames.
  `CREATE TABLE IF NOT EXISTS coinlake_meta.exchange_alias (
    alias VARCHAR PRIMARY KEY,
    exchange_key VARCHAR NOT NULL,
    note VARCHAR,
    origin VARCHAR,
    created_at TIMESTAMPTZ)`,
];

/** Columns added after a table was first released: [table, column, type], added where missing. */
const ADDED_COLUMNS: [string, string, string][] = [
  ['ingestion_config', 'on_missing', 'VARCHAR'],
  ['ingestion_config', 'on_invalid', 'VARCHAR'],
  ['ingestion_config', 'quality_checks', 'VARCHAR'],
  ['backfill_chunk', 'worker', 'VARCHAR'],
  ['ingestion_connection_info', 'rate_limit_per_minute', 'INTEGER'],
  ['ingestion_connection_info', 'rate_limit_shared', 'BOOLEAN'],
];

/** Creates the schemas and metadata tables if missing. Idempotent: a second call changes nothing. */
export async function ensureMetaTables(s: Session): Promise<void> {
  await s.ensureSchema(META_SCHEMA);
  await s.ensureSchema(DATA_SCHEMA);
  const sequences = [PROCESS_ID_SEQ, EVENT_ID_SEQ].map((seq) => s.dialect.createSequence(META_SCHEMA, seq));
  if (s.execAll) {
    // One request for all of it where each costs (BigQuery: one script instead of some 25 jobs).
    const added = ADDED_COLUMNS.map(([table, column, type]) => `ALTER TABLE ${META_SCHEMA}.${table} ADD COLUMN IF NOT EXISTS ${column} ${type}`);
    await s.execAll([...sequences, ...META_DDL, ...added]);
    return;
  }
  for (const sql of sequences) await s.exec(sql);
  for (const ddl of META_DDL) await s.exec(ddl);
  for (const [table, column, type] of ADDED_COLUMNS) {
    const found = await s.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`,
      [META_SCHEMA, table, column],
    );
    if (found.length === 0) await s.exec(`ALTER TABLE ${META_SCHEMA}.${table} ADD COLUMN ${column} ${type}`);
  }
}
