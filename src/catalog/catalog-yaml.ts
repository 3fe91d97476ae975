// The catalog as YAML in the config file's form: what `catalog export` writes and `catalog import` reads.
import YAML from 'yaml';
import type { Row } from '../core/table.ts';
import { withOrdinals, type Catalog } from './catalog-schema.ts';

const defined = (r: Row): Row => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
const iso = (d: Date | undefined) => d?.toISOString();

/** The catalog as YAML in the config file's form — what `catalog export` writes and `catalog import` reads. */
export function catalogToYaml(c: Catalog, header?: string): string {
  const connections = c.connections.map((x) =>
    defined({
      name: x.name, url: x.url, auth_type: x.auth_type, user_name: x.user_name, driver: x.driver, sandbox: x.sandbox,
      rate_limit_per_minute: x.rate_limit_per_minute, rate_limit_shared: x.rate_limit_shared, id: x.id, secret_encrypted: x.secret_encrypted, created_at: iso(x.created_at), modified_at: iso(x.modified_at),
    }),
  );
  const ingestions = c.ingestions.map((i) =>
    defined({
      connection: i.connection, asset: i.asset, target_table: i.target_table, ingestion_type: i.ingestion_type, source: i.source,
      params: i.params, primary_key: i.primary_key, incremental_date_column: i.incremental_date_column, load_type: i.load_type,
      write_mode: i.write_mode, delete_missing: i.delete_missing, close_missing: i.close_missing, audit: i.audit, change_events: i.change_events, refresh_models: i.refresh_models, on_missing: i.on_missing, on_invalid: i.on_invalid, checks: i.checks, file_format: i.file_format, delimiter: i.delimiter,
      partitioned_by: i.partitioned_by, clustered_by: i.clustered_by, is_parquet: i.is_parquet, is_external: i.is_external,
      lake_destination: i.lake_destination, schedule: i.schedule, enabled: i.enabled, id: i.id, created_by: i.created_by,
      created_at: iso(i.created_at), modified_by: i.modified_by, modified_at: iso(i.modified_at),
      columns: withOrdinals(i.columns ?? []).map((col) => ({ ...col })),
    }),
  );
  const identity = c.identity
    ? defined({
        assets: c.identity.assets?.map((a) => defined({ source: a.source, source_id: a.source_id, asset: a.asset, action: a.action, note: a.note })),
        exchanges: c.identity.exchanges?.map((x) => defined({ alias: x.alias, exchange: x.exchange, note: x.note })),
      })
    : undefined;
  const doc = new YAML.Document({ connections, ingestions, ...(identity ? { identity } : {}) });
  // One line per column detail, and short lists and parameters inline.
  YAML.visit(doc, {
    Pair(_, pair) {
      const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
      if (key === 'params' && YAML.isMap(pair.value)) pair.value.flow = true;
      if ((key === 'columns' || key === 'assets' || key === 'exchanges') && YAML.isSeq(pair.value)) for (const item of pair.value.items) if (YAML.isMap(item)) item.flow = true;
    },
    Seq(_, node) {
      if (node.items.every((item) => YAML.isScalar(item))) node.flow = true;
    },
  });
  return (header ? header.replace(/^/gm, '# ') + '\n' : '') + doc.toString({ lineWidth: 0 });
}
