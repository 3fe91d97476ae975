// Reads the catalog back from the coinlake_meta tables — for runs and commands — validated like a config file; the
// names it holds, for error hints; one connection's asset, or an error naming the known ones.
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { Row } from '../core/table.ts';
import { LOAD_OPTION_KEYS, identitySchema, type Catalog, type Connection, type IdentityInput, type Ingestion } from './catalog-schema.ts';
import { catalogOf, parseCatalogObject } from './config-file.ts';
import { CATALOG_TABLES as T, META_SCHEMA } from './meta-tables.ts';
import { tableExists } from '../destinations/table-exists.ts';

/** Label of catalogs read back from the tables, as error messages name them. */
export const TABLES_LABEL = 'coinlake_meta';

/** extra_parameters split into the stream parameters and the ingestion's load options (LOAD_OPTION_KEYS). */
function splitExtraParameters(value: unknown): { params?: unknown; options: Record<string, unknown> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { params: value, options: {} };
  const params: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) ((LOAD_OPTION_KEYS as readonly string[]).includes(k) ? options : params)[k] = v;
  return { params, options };
}

/** True when the meta tables hold no connection and no ingestion yet. */
export async function catalogIsEmpty(s: Session): Promise<boolean> {
  const [{ n }] = await s.query<{ n: number }>(`SELECT (SELECT count(*) FROM ${T.connections}) + (SELECT count(*) FROM ${T.ingestions}) AS n`);
  return Number(n) === 0;
}

/** Rows → the objects the catalog schema reads (NULL is "not set"). */
function clean(r: Row): Row {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));
}

function parseParams(text: unknown, asset: string): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`${T.ingestions} ${asset}: extra_parameters is not JSON: ${text.slice(0, 80)}`);
  }
}

/** Which rows readCatalog reads: everything, or one connection, or one connection's asset. */
export interface CatalogFilter {
  connection?: string;
  asset?: string;
}

/** Reads the catalog back from the meta tables (ids, timestamps and ciphertexts included), validated like a file. */
export async function readCatalog(s: Session, filter: CatalogFilter = {}): Promise<Catalog> {
  const p = s.dialect.param;
  const conns = await s.query<Row>(
    `SELECT * FROM ${T.connections}${filter.connection !== undefined ? ` WHERE connection_name = ${p(1)}` : ''} ORDER BY connection_id`,
    filter.connection !== undefined ? [filter.connection] : [],
  );
  if (filter.connection !== undefined && conns.length === 0) return { connections: [], ingestions: [] };
  const ingFilter = [filter.connection, filter.asset];
  const ings = await s.query<Row>(
    `SELECT * FROM ${T.ingestions}${filter.connection !== undefined ? ` WHERE connection_name = ${p(1)}${filter.asset !== undefined ? ` AND table_name = ${p(2)}` : ''}` : ''} ORDER BY ingestion_config_id`,
    ingFilter.filter((v) => v !== undefined),
  );
  const assets = [...new Set(ings.map((r) => String(r.table_name)))];
  const cols = assets.length
    ? await s.query<Row>(
        `SELECT * FROM ${T.columns} WHERE table_name IN (${assets.map((_, i) => p(i + 1)).join(', ')}) ORDER BY table_name, ordinal_position, column_name`,
        assets,
      )
    : [];
  const byAsset = new Map<string, Row[]>();
  for (const c of cols) byAsset.set(String(c.table_name), [...(byAsset.get(String(c.table_name)) ?? []), c]);
  const identity = filter.connection === undefined ? await readIdentity(s) : undefined;
  const doc = {
    ...(identity ? { identity } : {}),
    connections: conns.map((r) =>
      clean({
        name: r.connection_name,
        url: r.connection_url,
        auth_type: r.auth_type,
        user_name: r.user_name,
        driver: r.driver_name,
        sandbox: r.sandbox,
        rate_limit_per_minute: r.rate_limit_per_minute === null || r.rate_limit_per_minute === undefined ? undefined : Number(r.rate_limit_per_minute),
        rate_limit_shared: r.rate_limit_shared === null || r.rate_limit_shared === undefined ? undefined : Boolean(r.rate_limit_shared),
        id: r.connection_id,
        secret_encrypted: r.secret_encrypted,
        created_at: r.created_at,
        modified_at: r.modified_at,
      }),
    ),
    ingestions: ings.map((r) => {
      const extra = splitExtraParameters(parseParams(r.extra_parameters, String(r.table_name)));
      return clean({
        ...extra.options,
        connection: r.connection_name,
        asset: r.table_name,
        target_table: r.target_table,
        ingestion_type: r.ingestion_type,
        source: r.source_path,
        params: extra.params,
        primary_key: r.primary_key_column,
        incremental_date_column: r.incremental_date_column,
        load_type: r.load_type,
        write_mode: r.write_mode,
        on_missing: r.on_missing,
        on_invalid: r.on_invalid ?? undefined,
        checks: parseParams(r.quality_checks, String(r.table_name)),
        file_format: r.file_format,
        delimiter: r.delimiter,
        partitioned_by: r.partitioned_by,
        clustered_by: r.clustered_by,
        is_parquet: r.is_parquet,
        is_external: r.is_external,
        lake_destination: r.lake_destination,
        schedule: r.schedule,
        enabled: r.enabled,
        id: r.ingestion_config_id,
        created_by: r.created_by,
        created_at: r.created_at,
        modified_by: r.modified_by,
        modified_at: r.modified_at,
        columns: (byAsset.get(String(r.table_name)) ?? []).map((c) =>
          clean({ column_name: c.column_name, mapping_column: c.mapping_column, datatype: c.datatype, ordinal_position: c.ordinal_position, is_nullable: c.is_nullable }),
        ),
      });
    }),
  };
  return catalogOf(parseCatalogObject(doc, TABLES_LABEL));
}

/** The pins, forbids and exchange aliases the meta tables hold, as `identity:` of a file; undefined when none. */
async function readIdentity(s: Session): Promise<Row | undefined> {
  // A warehouse set up before identity existed has no alias tables until ensureMetaTables runs again.
  if (!(await tableExists(s, META_SCHEMA, 'asset_alias'))) return undefined;
  const assets = await s.query<Row>(`SELECT source, source_id, asset_id, action, note FROM ${META_SCHEMA}.asset_alias ORDER BY source, source_id, asset_id`);
  const exchanges = await s.query<Row>(`SELECT alias, exchange_key, note FROM ${META_SCHEMA}.exchange_alias ORDER BY alias`);
  if (assets.length === 0 && exchanges.length === 0) return undefined;
  return {
    ...(assets.length ? { assets: assets.map((a) => clean({ source: a.source, source_id: a.source_id, asset: a.asset_id, action: a.action, note: a.note })) } : {}),
    ...(exchanges.length ? { exchanges: exchanges.map((e) => clean({ alias: e.alias, exchange: e.exchange_key, note: e.note })) } : {}),
  };
}

/** The pins, forbids and exchange aliases alone, validated (for a catalog whose connections and ingestions are empty). */
export async function readCatalogIdentity(s: Session): Promise<IdentityInput | undefined> {
  const raw = await readIdentity(s);
  return raw ? identitySchema.parse(raw) : undefined;
}

/** Names in the catalog, for error hints: connection → its assets. */
export async function catalogNames(s: Session): Promise<Map<string, string[]>> {
  const rows = await s.query<{ c: string; a: string | null }>(
    `SELECT c.connection_name AS c, i.table_name AS a FROM ${T.connections} c LEFT JOIN ${T.ingestions} i ON i.connection_name = c.connection_name
      ORDER BY c.connection_id, i.ingestion_config_id`,
  );
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.c, r.a ? [...(out.get(r.c) ?? []), r.a] : (out.get(r.c) ?? []));
  return out;
}

/** The connection and ingestion config of `-s connection -a asset`; a TerminalError with the known names otherwise. */
export async function findCatalogEntry(s: Session, connection: string, asset: string): Promise<{ connection: Connection; ingestion: Ingestion }> {
  const found = await readCatalog(s, { connection, asset });
  const [conn] = found.connections;
  const [ing] = found.ingestions;
  if (conn && ing) return { connection: conn, ingestion: ing };
  const names = await catalogNames(s);
  if (!conn) {
    throw new ConfigError(`unknown connection "${connection}" (-s) in ${T.connections}`, {
      hint: `known connections: ${[...names.keys()].join(', ') || 'none'}; add it to the config file and run \`coinlake setup\``,
    });
  }
  const elsewhere = [...names].filter(([, assets]) => assets.includes(asset)).map(([c]) => c);
  throw new ConfigError(`connection ${connection} has no asset "${asset}" (-a) in ${T.ingestions}`, {
    hint: elsewhere.length
      ? `${asset} belongs to ${elsewhere.join(', ')}: coinlake run -s ${elsewhere[0]} -a ${asset}`
      : `assets of ${connection}: ${names.get(connection)?.join(', ') || 'none'}; add it to the config file and run \`coinlake setup\``,
  });
}
