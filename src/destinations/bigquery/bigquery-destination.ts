// The BigQuery warehouse: `bigquery://<project>[/<dataset>][?location=US]`; credentials as Google's client finds them
// (GOOGLE_APPLICATION_CREDENTIALS, or the environment's default credentials).
import type { BigQuery, BigQueryOptions } from '@google-cloud/bigquery';
import type { Destination } from '../../core/destination.ts';
import { isBigQueryLocation, parseBigQueryLocation } from './bigquery-location.ts';
import { BigQueryDialect } from './bigquery-dialect.ts';
import { BigQuerySession } from './bigquery-session.ts';

/** How a BigQuery session is opened: client options (e.g. apiEndpoint), or a client made elsewhere. */
export interface BigQuerySessionOptions {
  clientOptions?: BigQueryOptions;
  client?: BigQuery;
}

/** Opens a session on a bigquery:// location. No request is sent until the first statement. */
export async function openBigQuerySession(location: string, options: BigQuerySessionOptions = {}): Promise<BigQuerySession> {
  const where = parseBigQueryLocation(location);
  let client = options.client;
  if (!client) {
    // Loaded on first use: the client library is large and most commands never reach BigQuery.
    const { BigQuery: Client } = await import('@google-cloud/bigquery');
    client = new Client({ projectId: where.projectId, location: where.location, ...options.clientOptions });
  }
  return new BigQuerySession(client, where);
}

/** The BigQuery destination: handles `bigquery://` locations. */
export class BigQueryDestination implements Destination {
  readonly name = 'bigquery';

  constructor(private readonly options: BigQuerySessionOptions = {}) {}

  accepts(location: string): boolean {
    return isBigQueryLocation(location);
  }

  open(location: string): Promise<BigQuerySession> {
    return openBigQuerySession(location, this.options);
  }

  /** How the BigQuery console or bq names `schema.table` at this location: `project.dataset.table` in backticks. */
  tableReference(location: string, schema: string, table: string): string {
    return new BigQueryDialect(parseBigQueryLocation(location)).table(schema, table);
  }
}

/** The BigQuery destination with default options, for the destination registry. */
export const bigqueryDestination = new BigQueryDestination();
