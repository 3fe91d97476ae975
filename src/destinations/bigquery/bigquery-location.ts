// Where a BigQuery warehouse lives: `bigquery://<project>[/<dataset>][?location=US]`. coinlake's schemas are datasets;
// a dataset in the URL takes the place of `coinlake` in their names (coinlake → <dataset>, coinlake_meta → <dataset>_meta).
import { ConfigError } from '../../core/errors.ts';
import { assertIdentifier } from '../../core/table.ts';

/** A parsed bigquery:// location. */
export interface BigQueryLocation {
  projectId: string;
  /** Replaces `coinlake` at the start of every schema name; absent: schemas are datasets as named. */
  dataset?: string;
  /** Location of the datasets coinlake creates and of every job. Default US. */
  location: string;
}

const URL_FORM = /^bigquery:\/\//i;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const LOCATION = /^[A-Za-z][A-Za-z0-9-]*$/;
const HINT = 'use bigquery://<project>[/<dataset>][?location=US], e.g. bigquery://my-project/coinlake';

/** True for a `bigquery://` location. */
export function isBigQueryLocation(location: string): boolean {
  return URL_FORM.test(location);
}

/** Parses `bigquery://<project>[/<dataset>][?location=…]`; every part validated. */
export function parseBigQueryLocation(location: string): BigQueryLocation {
  const m = /^bigquery:\/\/([^/?]*)(?:\/([^/?]*))?\/?(?:\?(.*))?$/i.exec(location);
  if (!m) throw new ConfigError(`"${location}" is not a BigQuery location`, { hint: HINT });
  const [, projectId, dataset, query] = m;
  if (!PROJECT.test(projectId)) {
    throw new ConfigError(`BigQuery project "${projectId}" in ${location} is not a project id; expected 6–30 lower-case letters, digits and hyphens, starting with a letter`, { hint: HINT });
  }
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (key !== 'location') throw new ConfigError(`unknown parameter "${key}" in ${location}`, { hint: HINT });
  }
  const where = params.get('location') ?? 'US';
  if (!LOCATION.test(where)) throw new ConfigError(`BigQuery location "${where}" in ${location} is not a location name (e.g. US, EU, europe-west1)`, { hint: HINT });
  return { projectId, dataset: dataset ? assertIdentifier(dataset, 'BigQuery dataset') : undefined, location: where };
}

/** The dataset that holds coinlake schema `schema` at this location. */
export function datasetOf(where: BigQueryLocation, schema: string): string {
  assertIdentifier(schema, 'schema');
  if (where.dataset && (schema === 'coinlake' || schema.startsWith('coinlake_'))) return `${where.dataset}${schema.slice('coinlake'.length)}`;
  return schema;
}
