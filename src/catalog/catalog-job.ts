// A catalog entry (connection + ingestion config + column details) → a runnable Job, with the endpoint and
// credential logic the short form (`buildJob`) uses. Also the checks `catalog validate` runs on every entry.
import type { Session, WriteMode } from '../core/destination.ts';
import { CoinlakeError, ConfigError, errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { Source, Stream, StreamParams } from '../core/source.ts';
import type { TableSpec } from '../core/table.ts';
import { parseRate, parseWindow, parseWriteMode, resolveAccess, windowEndOnly, type Endpoints } from '../runner/job-builder.ts';
import { allJobNames, findStream } from '../sources/registry.ts';
import { withOrdinals, type Catalog, type Connection, type Ingestion } from './catalog-schema.ts';
import { catalogIsEmpty, findCatalogEntry, TABLES_LABEL } from './catalog-read.ts';
import { syncCatalog, type CatalogSyncResult } from './catalog-sync.ts';
import { ensureMetaTables } from './meta-tables.ts';
import { qualityChecksSchema } from '../core/quality-check.ts';
import { externalViewModeProblem } from '../lake/external-views.ts';
import { validateChecks } from '../quality/run-checks.ts';
import { ingestionTable } from './column-details.ts';
import { openSecret, secretKey } from './secret-box.ts';
import { registerSecret } from '../http/redact.ts';

/** What an ingestion config means, worked out without reaching anything. */
export interface IngestionPlan {
  source: Source;
  stream: Stream<unknown>;
  table: TableSpec;
  writeMode: WriteMode;
  incremental: boolean;
}

/**
 * The stream, typed table, write mode and incrementality of an ingestion. `FULL` → `replace`, `INCR` → `merge`
 * with the watermark on the stream's cursor, unless write_mode says otherwise. Throws a ConfigError naming the asset.
 */
export function planIngestion(ing: Ingestion): IngestionPlan {
  let found: ReturnType<typeof findStream>;
  try {
    found = findStream(ing.source);
  } catch {
    throw new ConfigError(`${ing.asset}: source "${ing.source}" is not a known stream; expected one of ${allJobNames().join(', ')}`);
  }
  const { source, stream } = found;
  const table = ingestionTable(
    stream,
    { asset: ing.asset, target_table: ing.target_table, primary_key: ing.primary_key, partitioned_by: ing.partitioned_by, clustered_by: ing.clustered_by },
    withOrdinals(ing.columns ?? []),
  );
  if (ing.checks?.length) table.checks = qualityChecksSchema.parse(ing.checks);
  const incremental = ing.load_type === 'INCR';
  if (incremental) {
    // A declarative stream (rest.records) takes its cursor field from the ingestion's params.
    const cursor = typeof ing.params.cursor_field === 'string' ? ing.params.cursor_field : stream.cursor;
    if (!cursor) throw new ConfigError(`${ing.asset}: load_type INCR needs a stream that keeps a watermark, and ${ing.source} keeps none; expected load_type FULL`);
    const cursorColumn = table.columns.find((c) => !c.derived && (c.source ?? c.name) === cursor)?.name ?? cursor;
    if (ing.incremental_date_column && ing.incremental_date_column !== cursorColumn) {
      throw new ConfigError(`${ing.asset}: incremental_date_column is ${ing.incremental_date_column}, but ${ing.source} keeps its watermark on ${cursorColumn}; expected ${cursorColumn}`);
    }
  }
  const writeMode = effectiveWriteMode(ing);
  applyLoadOptions(ing, table, writeMode);
  return { source, stream, table, writeMode, incremental };
}

/**
 * Puts an ingestion's load options on its table: delete_missing (merge only), close_missing (scd2 only), audit and
 * change_events (which otherwise stays the stream's default). Throws a ConfigError naming the asset for an option
 * its write mode does not take.
 */
function applyLoadOptions(ing: Ingestion, table: TableSpec, writeMode: WriteMode): void {
  const only = (key: string, mode: WriteMode) =>
    new ConfigError(`${ing.asset}: ${key} applies to write mode ${mode}, and this ingestion writes with ${writeMode}; expected write_mode: ${mode} (or no ${key})`);
  if (ing.delete_missing) {
    if (writeMode !== 'merge') throw only('delete_missing', 'merge');
    table.deleteMissing = true;
  }
  if (ing.close_missing) {
    if (writeMode !== 'scd2') throw only('close_missing', 'scd2');
    table.scd2 = { closeMissing: true };
  }
  if (ing.audit) {
    table.audit = {};
    if (ing.audit.k !== undefined) table.audit.k = ing.audit.k;
    if (ing.audit.min_runs !== undefined) table.audit.minRuns = ing.audit.min_runs;
  }
  if (ing.change_events) table.changeEvents = ing.change_events;
}

/** The write mode of an ingestion: write_mode when set, else `replace` for FULL and `merge` for INCR. */
export function effectiveWriteMode(ing: Pick<Ingestion, 'write_mode' | 'load_type'>): WriteMode {
  return ing.write_mode ?? (ing.load_type === 'INCR' ? 'merge' : 'replace');
}

/** Every problem of a catalog, one line each naming the entry; empty when it is sound. */
export function validateCatalog(c: Catalog): string[] {
  const problems: string[] = [];
  const connections = new Set(c.connections.map((x) => x.name));
  c.ingestions.forEach((ing, i) => {
    const at = `ingestions[${i}] (${ing.connection}/${ing.asset})`;
    if (!connections.has(ing.connection)) problems.push(`${at}: connection ${ing.connection} is not in the catalog`);
    try {
      const plan = planIngestion(ing);
      if (ing.params.rate_limit_per_minute !== undefined) parseRate(ing.params.rate_limit_per_minute, `${ing.asset}: params.rate_limit_per_minute`);
      // Checks against the table's columns (column details, or the stream's table): a check on a column the table
      // lacks would otherwise fail only at the first load.
      checkProblem(plan.table, (p) => problems.push(`${at}: ${p}`));
      const viewProblem = ing.is_external ? externalViewModeProblem(plan.writeMode) : undefined;
      if (viewProblem) problems.push(`${at}: is_external: ${viewProblem}`);
    } catch (err) {
      problems.push(`${at}: ${errorMessage(err).replace(`${ing.asset}: `, '')}`);
    }
  });
  return problems;
}

/** Each check of the table that names a column the table does not have, as one problem line with the columns it has. */
function checkProblem(table: TableSpec, problem: (line: string) => void): void {
  for (const check of table.checks ?? []) {
    try {
      validateChecks(table, [check]);
    } catch (err) {
      problem(err instanceof CoinlakeError && err.hint ? `${errorMessage(err)}; ${err.hint}` : errorMessage(err));
    }
  }
}

/** Throws one ConfigError listing every problem of the catalog (from `label`) when there are any. */
export function checkCatalog(c: Catalog, label: string): void {
  const problems = validateCatalog(c);
  if (problems.length) throw new ConfigError(problems.map((p) => `${label}: ${p}`).join('\n'));
}

/** Command-line choices that override the catalog for one run. */
export interface CatalogRunOptions {
  from?: string;
  to?: string;
  mode?: string;
  /** The stream's asset id (`--asset bitcoin`), not the catalog asset. */
  asset?: string;
  interval?: string;
  /** Overrides the connection's URL (an INI section's connection_url). */
  connectionUrl?: string;
  env?: NodeJS.ProcessEnv;
}

/** The request credentials of a connection whose secret is `secret`. */
function credentials(conn: Connection, secret: string | undefined): { apiKey?: string; authorization?: string } {
  if (secret === undefined) return {};
  if (conn.auth_type === 'basic') return { authorization: `Basic ${Buffer.from(`${conn.user_name ?? ''}:${secret}`).toString('base64')}` };
  return { apiKey: secret };
}

/**
 * The job of one catalog entry. The connection's secret (if any, and auth_type is not `none`) is decrypted with
 * COINLAKE_SECRET_KEY and sent as `Authorization: Bearer …` (or Basic with user_name); run history and state are
 * keyed by connection name and asset. Endpoint overrides (replay) win over the connection's URL.
 */
export function catalogJob(conn: Connection, ing: Ingestion, opts: CatalogRunOptions = {}, endpoints: Endpoints = {}): Job {
  if (!ing.enabled) {
    throw new ConfigError(`${conn.name}/${ing.asset} is disabled (enabled: false)`, { hint: 'set enabled: true in the config file and run `coinlake setup`' });
  }
  const plan = planIngestion(ing);
  const secret = conn.secret_encrypted && conn.auth_type !== 'none' ? openSecret(conn.secret_encrypted, conn.name, secretKey(opts.env)) : undefined;
  // params.rate_limit_per_minute (kept in extra_parameters), else the connection's, sets the rate; --rate and
  // --replay's endpoints win over both.
  const rate = ing.params.rate_limit_per_minute === undefined ? conn.rate_limit_per_minute : parseRate(ing.params.rate_limit_per_minute, `${ing.asset}: params.rate_limit_per_minute`);
  // A source that signs with the keys itself gets them as credentials, never as an Authorization header.
  const own = secret !== undefined && plan.source.credentialsInRead ? { user: conn.user_name, secret } : undefined;
  registerSecret(own?.secret);
  const access = resolveAccess(plan.source, conn.rate_limit_shared ? { ...endpoints, rateLimitShared: true } : endpoints, {
    url: opts.connectionUrl ?? conn.url,
    rateLimitPerMinute: rate,
    ...(own ? {} : credentials(conn, secret)),
  });
  // params.auth_header names the header that carries the secret instead of Authorization (e.g. x-cg-demo-api-key).
  const authHeader = ing.params.auth_header;
  if (typeof authHeader === 'string' && secret !== undefined && conn.auth_type === 'bearer') access.headers = { [authHeader.toLowerCase()]: secret };
  const { from, to, rate_limit_per_minute: _rate, ...rest } = ing.params;
  const params: StreamParams = { ...rest };
  if (opts.asset) params.asset = opts.asset;
  if (opts.interval) params.interval = opts.interval;
  const text = (v: unknown) => (v === undefined ? undefined : String(v));
  return {
    name: `${conn.name}/${ing.asset}`,
    connectionName: conn.name,
    tableName: ing.asset,
    source: plan.source,
    stream: plan.stream,
    table: plan.table,
    writeMode: opts.mode ? parseWriteMode(opts.mode) : plan.writeMode,
    ...access,
    credentials: own,
    params,
    window: parseWindow(opts.from ?? text(from), opts.to ?? text(to)),
    ...windowEndOnly(opts.from ?? text(from), opts.to ?? text(to)),
    incremental: plan.incremental,
    external: ing.is_external,
    refreshModels: ing.refresh_models,
    onMissing: ing.on_missing,
    onInvalid: ing.on_invalid,
    http: endpoints.http,
  };
}

/**
 * Looks up `-s connection -a asset` in the meta tables and builds its job. When the tables hold no catalog yet,
 * `seed` (the config file's catalog or the built-in one) is loaded into them first, as `coinlake setup` would.
 */
export async function loadCatalogJob(
  s: Session,
  ref: { connection: string; asset: string; seed: Catalog; seedLabel: string },
  opts: CatalogRunOptions = {},
  endpoints: Endpoints = {},
): Promise<Job> {
  await ensureCatalog(s, ref.seed, ref.seedLabel);
  let entry: Awaited<ReturnType<typeof findCatalogEntry>>;
  try {
    entry = await findCatalogEntry(s, ref.connection, ref.asset);
  } catch (err) {
    if (err instanceof ConfigError && ref.seed.ingestions.some((i) => i.connection === ref.connection && i.asset === ref.asset)) {
      throw new ConfigError(err.message, { hint: `${ref.seedLabel} has it, but ${TABLES_LABEL} does not yet: run \`coinlake setup\` to load it` });
    }
    throw err;
  }
  return catalogJob(entry.connection, entry.ingestion, opts, endpoints);
}

/**
 * Makes sure the meta tables exist and hold a catalog: when they hold none yet, `seed` (the config file's catalog,
 * or the built-in one) is checked and synced into them, as `coinlake setup` would. Returns what that did, if anything.
 */
export async function ensureCatalog(s: Session, seed: Catalog, seedLabel: string): Promise<CatalogSyncResult | undefined> {
  await ensureMetaTables(s);
  if (!(await catalogIsEmpty(s))) return undefined;
  checkCatalog(seed, seedLabel);
  return syncCatalog(s, seed);
}
