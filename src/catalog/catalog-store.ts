// The catalog in the coinlake_meta tables: synced from a config file (setup, import), read back for runs and
// commands, written out as YAML (export). Identical input leaves every row — and its timestamps — untouched.
import os from 'node:os';
import YAML from 'yaml';
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { Row } from '../core/table.ts';
import { LOAD_OPTION_KEYS, withOrdinals, type Catalog, type Connection, type Ingestion } from './catalog-schema.ts';
import { catalogOf, parseCatalogObject } from './config-file.ts';
import { ensureMetaTables, META_SCHEMA } from './meta-tables.ts';

/** What a sync did to one table. */
export interface SyncCounts {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
}

export interface CatalogSyncResult {
  connections: SyncCounts;
  ingestions: SyncCounts;
  columnDetails: SyncCounts;
}

export interface SyncOptions {
  /** Also delete catalog rows the file does not list (`catalog import --prune`). Default false. */
  prune?: boolean;
  /** Time written to created/modified columns. Default now. */
  now?: Date;
  /** Name written to created_by/modified_by. Default user@host. */
  user?: string;
}

/** Label of catalogs read back from the tables, as error messages name them. */
export const TABLES_LABEL = 'coinlake_meta';

const T = {
  connections: `${META_SCHEMA}.ingestion_connection_info`,
  ingestions: `${META_SCHEMA}.ingestion_config`,
  columns: `${META_SCHEMA}.ingestion_column_details`,
};

/** One row as the file wants it: its key, its content (undefined = keep the table's value), values the file gives for audit columns. */
interface WantedRow {
  key: Row;
  content: Row;
  given: Row;
  id?: number;
}

interface TableSync {
  table: string;
  key: string[];
  idColumn?: string;
  /** Set on insert unless the file gives a value. */
  onInsert: Row;
  /** Set when content changes unless the file gives a value. */
  onUpdate: Row;
  /** Rows the file does not list that the sync deletes. */
  removeIf: (row: Row) => boolean;
}

const defined = (r: Row): Row => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

function comparable(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return `date:${v.getTime()}`;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function changes(row: Row, want: Row): Row {
  return Object.fromEntries(Object.entries(want).filter(([k, v]) => comparable(row[k]) !== comparable(v)));
}

async function insertRow(s: Session, table: string, values: Row): Promise<void> {
  const cols = Object.keys(values);
  await s.exec(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => s.dialect.param(i + 1)).join(', ')})`, Object.values(values));
}

function where(s: Session, key: Row, from: number): { sql: string; params: unknown[] } {
  const cols = Object.keys(key);
  return { sql: cols.map((c, i) => `${c} = ${s.dialect.param(from + i)}`).join(' AND '), params: Object.values(key) };
}

/** Upserts wanted rows by key; rows whose key, content and given values already match are left alone. */
async function syncRows(s: Session, spec: TableSync, wanted: WantedRow[]): Promise<SyncCounts> {
  const counts: SyncCounts = { added: 0, updated: 0, unchanged: 0, removed: 0 };
  const existing = await s.query<Row>(`SELECT * FROM ${spec.table}`);
  const keyOf = (r: Row) => JSON.stringify(spec.key.map((k) => r[k]));
  const byKey = new Map(existing.map((r) => [keyOf(r), r]));
  const ids = new Set(spec.idColumn ? existing.map((r) => Number(r[spec.idColumn!])) : []);
  let nextId = Math.max(0, ...ids) + 1;
  const seen = new Set<string>();
  for (const w of wanted) {
    const k = keyOf(w.key);
    seen.add(k);
    const row = byKey.get(k);
    if (!row) {
      const values: Row = { ...w.key, ...spec.onInsert, ...defined(w.content), ...defined(w.given) };
      if (spec.idColumn) {
        const id = w.id !== undefined && !ids.has(w.id) ? w.id : nextId;
        ids.add(id);
        nextId = Math.max(nextId, id + 1);
        values[spec.idColumn] = id;
      }
      await insertRow(s, spec.table, values);
      counts.added++;
      continue;
    }
    const content = changes(row, defined(w.content));
    const given = changes(row, defined(w.given));
    if (Object.keys(content).length === 0 && Object.keys(given).length === 0) {
      counts.unchanged++;
      continue;
    }
    const set: Row = { ...(Object.keys(content).length ? spec.onUpdate : {}), ...defined(w.given), ...content };
    const cols = Object.keys(set);
    const w2 = where(s, w.key, cols.length + 1);
    await s.exec(`UPDATE ${spec.table} SET ${cols.map((c, i) => `${c} = ${s.dialect.param(i + 1)}`).join(', ')} WHERE ${w2.sql}`, [...Object.values(set), ...w2.params]);
    counts.updated++;
  }
  for (const row of existing) {
    if (seen.has(keyOf(row)) || !spec.removeIf(row)) continue;
    const w2 = where(s, Object.fromEntries(spec.key.map((k) => [k, row[k]])), 1);
    await s.exec(`DELETE FROM ${spec.table} WHERE ${w2.sql}`, w2.params);
    counts.removed++;
  }
  return counts;
}

const list = (v: string[] | undefined) => (v?.length ? v.join(',') : null);

/** JSON with sorted keys, so that the same parameters always give the same text. */
function stableJson(o: Record<string, unknown>): string | null {
  const keys = Object.keys(o).sort();
  return keys.length ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, o[k]]))) : null;
}

/** The ingestion's load options as extra_parameters keeps them (absent ones left out). */
function loadOptions(i: Ingestion): Record<string, unknown> {
  const audit = i.audit ? Object.fromEntries(Object.entries({ k: i.audit.k, min_runs: i.audit.min_runs }).filter(([, v]) => v !== undefined)) : undefined;
  return Object.fromEntries(
    Object.entries({ delete_missing: i.delete_missing, close_missing: i.close_missing, audit, change_events: i.change_events }).filter(([, v]) => v !== undefined),
  );
}

/** extra_parameters split into the stream parameters and the ingestion's load options (LOAD_OPTION_KEYS). */
function splitExtraParameters(value: unknown): { params?: unknown; options: Record<string, unknown> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { params: value, options: {} };
  const params: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) ((LOAD_OPTION_KEYS as readonly string[]).includes(k) ? options : params)[k] = v;
  return { params, options };
}

function connectionRow(c: Connection): WantedRow {
  return {
    key: { connection_name: c.name },
    content: {
      connection_url: c.url ?? null,
      auth_type: c.auth_type,
      user_name: c.user_name ?? null,
      driver_name: c.driver ?? null,
      sandbox: c.sandbox,
      secret_encrypted: c.secret_encrypted,
      rate_limit_per_minute: c.rate_limit_per_minute ?? null,
    },
    given: { created_at: c.created_at, modified_at: c.modified_at },
    id: c.id,
  };
}

function ingestionRow(i: Ingestion): WantedRow {
  return {
    key: { connection_name: i.connection, table_name: i.asset },
    content: {
      target_table: i.target_table,
      ingestion_type: i.ingestion_type,
      source_path: i.source,
      primary_key_column: list(i.primary_key),
      incremental_date_column: i.incremental_date_column ?? null,
      load_type: i.load_type,
      write_mode: i.write_mode ?? null,
      on_missing: i.on_missing,
      on_invalid: i.on_invalid ?? null,
      quality_checks: i.checks?.length ? JSON.stringify(i.checks) : null,
      extra_parameters: stableJson({ ...i.params, ...loadOptions(i) }),
      file_format: i.file_format ?? null,
      delimiter: i.delimiter ?? null,
      partitioned_by: i.partitioned_by ?? null,
      clustered_by: list(i.clustered_by),
      is_parquet: i.is_parquet,
      is_external: i.is_external,
      lake_destination: i.lake_destination ?? null,
      schedule: i.schedule ?? null,
      enabled: i.enabled,
    },
    given: { created_by: i.created_by, created_at: i.created_at, modified_by: i.modified_by, modified_at: i.modified_at },
    id: i.id,
  };
}

/**
 * Writes a catalog into the meta tables in one transaction: new rows are added, changed rows updated (their
 * modified_at set), identical rows left as they are — so syncing the same catalog twice changes nothing. Column
 * details of an asset the catalog lists with `columns` become exactly those. Nothing else is deleted unless `prune`.
 */
export async function syncCatalog(s: Session, catalog: Catalog, opts: SyncOptions = {}): Promise<CatalogSyncResult> {
  const now = opts.now ?? new Date();
  const user = opts.user ?? `${os.userInfo().username}@${os.hostname()}`;
  const prune = Boolean(opts.prune);
  await ensureMetaTables(s);
  const described = new Map<string, WantedRow[]>();
  for (const ing of catalog.ingestions) {
    if (!ing.columns || described.has(ing.asset)) continue;
    described.set(
      ing.asset,
      withOrdinals(ing.columns).map((c) => ({
        key: { table_name: ing.asset, column_name: c.column_name },
        content: { mapping_column: c.mapping_column, datatype: c.datatype, ordinal_position: c.ordinal_position, is_nullable: c.is_nullable },
        given: {},
      })),
    );
  }
  return s.transaction(async () => ({
    connections: await syncRows(
      s,
      { table: T.connections, key: ['connection_name'], idColumn: 'connection_id', onInsert: { created_at: now, modified_at: now }, onUpdate: { modified_at: now }, removeIf: () => prune },
      catalog.connections.map(connectionRow),
    ),
    ingestions: await syncRows(
      s,
      {
        table: T.ingestions,
        key: ['connection_name', 'table_name'],
        idColumn: 'ingestion_config_id',
        onInsert: { created_by: user, created_at: now, modified_by: user, modified_at: now },
        onUpdate: { modified_by: user, modified_at: now },
        removeIf: () => prune,
      },
      catalog.ingestions.map(ingestionRow),
    ),
    columnDetails: await syncRows(
      s,
      { table: T.columns, key: ['table_name', 'column_name'], onInsert: {}, onUpdate: {}, removeIf: (r) => prune || described.has(String(r.table_name)) },
      [...described.values()].flat(),
    ),
  }));
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
  const doc = {
    connections: conns.map((r) =>
      clean({
        name: r.connection_name,
        url: r.connection_url,
        auth_type: r.auth_type,
        user_name: r.user_name,
        driver: r.driver_name,
        sandbox: r.sandbox,
        rate_limit_per_minute: r.rate_limit_per_minute === null || r.rate_limit_per_minute === undefined ? undefined : Number(r.rate_limit_per_minute),
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

/** Stores a connection's sealed secret; a ConfigError when the connection is not in the catalog. */
export async function storeSecret(s: Session, connection: string, sealed: string, now = new Date()): Promise<void> {
  const n = await s.exec(`UPDATE ${T.connections} SET secret_encrypted = $1, modified_at = $2 WHERE connection_name = $3`, [sealed, now, connection]);
  if (n === 0) {
    const names = await catalogNames(s);
    throw new ConfigError(`unknown connection "${connection}" in ${T.connections}`, { hint: `known connections: ${[...names.keys()].join(', ') || 'none'}` });
  }
}

const iso = (d: Date | undefined) => d?.toISOString();

/** The catalog as YAML in the config file's form — what `catalog export` writes and `catalog import` reads. */
export function catalogToYaml(c: Catalog, header?: string): string {
  const connections = c.connections.map((x) =>
    defined({
      name: x.name, url: x.url, auth_type: x.auth_type, user_name: x.user_name, driver: x.driver, sandbox: x.sandbox,
      rate_limit_per_minute: x.rate_limit_per_minute, id: x.id, secret_encrypted: x.secret_encrypted, created_at: iso(x.created_at), modified_at: iso(x.modified_at),
    }),
  );
  const ingestions = c.ingestions.map((i) =>
    defined({
      connection: i.connection, asset: i.asset, target_table: i.target_table, ingestion_type: i.ingestion_type, source: i.source,
      params: i.params, primary_key: i.primary_key, incremental_date_column: i.incremental_date_column, load_type: i.load_type,
      write_mode: i.write_mode, delete_missing: i.delete_missing, close_missing: i.close_missing, audit: i.audit, change_events: i.change_events, on_missing: i.on_missing, on_invalid: i.on_invalid, checks: i.checks, file_format: i.file_format, delimiter: i.delimiter,
      partitioned_by: i.partitioned_by, clustered_by: i.clustered_by, is_parquet: i.is_parquet, is_external: i.is_external,
      lake_destination: i.lake_destination, schedule: i.schedule, enabled: i.enabled, id: i.id, created_by: i.created_by,
      created_at: iso(i.created_at), modified_by: i.modified_by, modified_at: iso(i.modified_at),
      columns: withOrdinals(i.columns ?? []).map((col) => ({ ...col })),
    }),
  );
  const doc = new YAML.Document({ connections, ingestions });
  // One line per column detail, and short lists and parameters inline.
  YAML.visit(doc, {
    Pair(_, pair) {
      const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
      if (key === 'params' && YAML.isMap(pair.value)) pair.value.flow = true;
      if (key === 'columns' && YAML.isSeq(pair.value)) for (const item of pair.value.items) if (YAML.isMap(item)) item.flow = true;
    },
    Seq(_, node) {
      if (node.items.every((item) => YAML.isScalar(item))) node.flow = true;
    },
  });
  return (header ? header.replace(/^/gm, '# ') + '\n' : '') + doc.toString({ lineWidth: 0 });
}
