// Writes a catalog (from a config file: setup, import) into the coinlake_meta tables. Identical input leaves every
// row — and its timestamps — untouched.
import os from 'node:os';
import type { Session } from '../core/destination.ts';
import { withOrdinals, type Catalog, type Connection, type Ingestion } from './catalog-schema.ts';
import type { Row } from '../core/table.ts';
import { CATALOG_TABLES as T, META_SCHEMA, ensureMetaTables } from './meta-tables.ts';
import { syncRows, type SyncCounts, type WantedRow } from './meta-row-sync.ts';

export interface CatalogSyncResult {
  connections: SyncCounts;
  ingestions: SyncCounts;
  columnDetails: SyncCounts;
  /** When the catalog has `identity:`. */
  assetAliases?: SyncCounts;
  exchangeAliases?: SyncCounts;
}

export interface SyncOptions {
  /** Also delete catalog rows the file does not list (`catalog import --prune`). Default false. */
  prune?: boolean;
  /** Time written to created/modified columns. Default now. */
  now?: Date;
  /** Name written to created_by/modified_by. Default user@host. */
  user?: string;
}

const ASSET_ALIAS = `${META_SCHEMA}.asset_alias`;
const EXCHANGE_ALIAS = `${META_SCHEMA}.exchange_alias`;

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
    Object.entries({ delete_missing: i.delete_missing, close_missing: i.close_missing, audit, change_events: i.change_events, refresh_models: i.refresh_models }).filter(([, v]) => v !== undefined),
  );
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
      rate_limit_shared: c.rate_limit_shared ?? null,
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
  const identity = catalog.identity;
  const fromCatalog = (r: Row) => prune || r.origin === 'catalog';
  // A file of identity: alone leaves the catalog proper as it is, --prune included.
  const skip = Boolean(catalog.identityOnly);
  const untouched = (): SyncCounts => ({ added: 0, updated: 0, unchanged: 0, removed: 0 });
  return s.transaction(async () => ({
    ...(identity
      ? {
          assetAliases: await syncRows(
            s,
            { table: ASSET_ALIAS, key: ['source', 'source_id', 'asset_id'], onInsert: { created_at: now, origin: 'catalog' }, onUpdate: {}, removeIf: fromCatalog },
            (identity.assets ?? []).map((a) => ({ key: { source: a.source, source_id: a.source_id, asset_id: a.asset }, content: { action: a.action, note: a.note ?? null }, given: {} })),
          ),
          exchangeAliases: await syncRows(
            s,
            { table: EXCHANGE_ALIAS, key: ['alias'], onInsert: { created_at: now, origin: 'catalog' }, onUpdate: {}, removeIf: fromCatalog },
            (identity.exchanges ?? []).map((a) => ({ key: { alias: a.alias }, content: { exchange_key: a.exchange, note: a.note ?? null }, given: {} })),
          ),
        }
      : {}),
    connections: skip
      ? untouched()
      : await syncRows(
      s,
      { table: T.connections, key: ['connection_name'], idColumn: 'connection_id', onInsert: { created_at: now, modified_at: now }, onUpdate: { modified_at: now }, removeIf: () => prune },
      catalog.connections.map(connectionRow),
    ),
    ingestions: skip
      ? untouched()
      : await syncRows(
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
    columnDetails: skip
      ? untouched()
      : await syncRows(
      s,
      { table: T.columns, key: ['table_name', 'column_name'], onInsert: {}, onUpdate: {}, removeIf: (r) => prune || described.has(String(r.table_name)) },
      [...described.values()].flat(),
    ),
  }));
}
