// The BigQuery warehouse plug-in.
export { BigQueryDestination, bigqueryDestination, openBigQuerySession, type BigQuerySessionOptions } from './bigquery-destination.ts';
export { BigQuerySession, BIGQUERY_CAPABILITIES } from './bigquery-session.ts';
export { BigQueryDialect } from './bigquery-dialect.ts';
export { parseBigQueryLocation, type BigQueryLocation } from './bigquery-location.ts';
