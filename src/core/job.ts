// A job: one stream of one source, with its connection, table, write mode and window.
import type { WriteMode } from './destination.ts';
import type { ConnectionCredentials, Source, Stream, StreamParams, TimeWindow } from './source.ts';
import type { TableSpec } from './table.ts';
import type { HttpClientOptions } from '../http/http-client.ts';
import type { InvalidPolicy, MissingPolicy } from '../normalize/normalizer.ts';

export interface Job {
  /** The catalog says is_external: a view over the lake's curated files is refreshed after each load. */
  external?: boolean;
  /** The catalog says refresh_models: after a run that loaded rows, the models run (incremental ones incrementally). */
  refreshModels?: boolean;
  /** Name shown to users, e.g. `coincap.assets`. */
  name: string;
  /** Connection (section) name, e.g. COINCAP_ASSET; keys run history and state. */
  connectionName: string;
  /** Asset name of the catalog row, e.g. EXTERNAL_COINCAP_ASSETS. */
  tableName: string;
  source: Source;
  stream: Stream<unknown>;
  /** Typed target table (stream default, or built from column details). */
  table: TableSpec;
  writeMode: WriteMode;
  baseUrl: string;
  /** Headers for every request (Authorization from the connection's secret). */
  headers?: Record<string, string>;
  /** The connection's credentials, when its source takes them itself (Source.credentialsInRead) instead of as headers. */
  credentials?: ConnectionCredentials;
  rateLimitPerMinute: number;
  /** The connection's rate limit is shared by every process using it with the same key (catalog rate_limit_shared). */
  rateLimitShared?: boolean;
  params: StreamParams;
  window?: TimeWindow;
  /** `--to` given without `--from`: the run's window goes from the committed watermark to this end (see runJob). */
  windowEnd?: Date;
  /** Whether the stream keeps a watermark between runs. */
  incremental: boolean;
  onMissing?: MissingPolicy;
  /** `strict`: a value that fails its cast fails the run instead of loading NULL. */
  onInvalid?: InvalidPolicy;
  /** Retry and timeout settings of the job's HTTP client (defaults in HttpClient). */
  http?: Pick<HttpClientOptions, 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'timeoutMs' | 'maxBodyBytes'>;
}
