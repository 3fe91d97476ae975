// The catalog as a config file describes it (coinlake.yaml): zod schemas that are both the runtime check and
// the TypeScript types of connections, ingestions and column details.
import { z } from 'zod';
import { WRITE_MODES, type WriteMode } from '../core/destination.ts';
import { DATATYPE_FORM, parseDatatype } from './column-details.ts';
import { qualityCheckSchema } from '../core/quality-check.ts';
import { CHANGE_EVENT_POLICIES } from '../core/table.ts';
import { EXAMPLES } from '../sources/registry.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IDENT_FORM = 'letters, digits and _, not starting with a digit';

export const AUTH_TYPES = ['none', 'bearer', 'basic'] as const;
export const INGESTION_TYPES = ['REQUEST', 'REQUEST_PAYLOAD', 'FILE', 'STREAM', 'RPC'] as const;
export const LOAD_TYPES = ['FULL', 'INCR'] as const;
export const MISSING_POLICIES = ['null', 'fail'] as const;
export const INVALID_POLICIES = ['null', 'strict'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
/** Ingestion keys that the meta tables keep in ingestion_config.extra_parameters (JSON) beside the stream parameters. */
export const LOAD_OPTION_KEYS = ['delete_missing', 'close_missing', 'audit', 'change_events', 'refresh_models'] as const;

const ident = (what: string) => z.string().regex(IDENT, `expected ${what} (${IDENT_FORM})`);
const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (issue) => `expected one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });

/** Optional in YAML, where an empty value (`key:`) is null: null and absent both mean "not set". */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => (v ?? undefined) as z.output<T> | undefined);

/** `a,b` or `[a, b]` → ['a', 'b'], each an identifier. */
const identList = (what: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(ident(what)));

/** An instant as ISO-8601 text (what an export writes). */
const instant = z
  .union([z.date(), z.iso.datetime({ offset: true, error: 'expected an ISO-8601 time, e.g. 2025-01-01T00:00:00.000Z' })])
  .transform((v) => new Date(v));

const datatype = z.string().refine((v) => parseDatatype(v) !== undefined, { error: (i) => `expected ${DATATYPE_FORM}, got ${JSON.stringify(i.input)}` });

/** One column detail: a source field, the target column it lands in, its type and place. */
export const columnDetailSchema = z.strictObject({
  /** Field name as the source sends it, e.g. `volumeUsd24Hr`. */
  column_name: z.string().min(1, 'expected the source field name'),
  /** Target column, e.g. `volume_usd_24hr`. */
  mapping_column: ident('a column name'),
  datatype,
  /** 1-based; defaults to the position in the list. */
  ordinal_position: optional(z.number().int().positive('expected a positive integer')),
  is_nullable: z.boolean().default(true),
});

export const connectionSchema = z.strictObject({
  name: ident('a connection name'),
  url: optional(z.url({ error: 'expected an http(s) URL' })),
  auth_type: oneOf(AUTH_TYPES).default('none'),
  user_name: optional(z.string()),
  driver: optional(z.string()),
  sandbox: z.boolean().default(false),
  /** Requests per minute of every ingestion on this connection (0 = unlimited); default the source's. */
  rate_limit_per_minute: optional(z.number().int('expected a whole number of requests per minute').nonnegative('expected 0 (unlimited) or more requests per minute')),
  /**
   * true: the processes that use this connection with the same key share its rate limit (distributed backfill workers,
   * through NATS: distributed/shared-budget.ts); false or absent: each process has the whole limit to itself (its own
   * key or address).
   */
  rate_limit_shared: optional(z.boolean()),
  /** Written by `catalog export` so that an import restores the tables exactly. */
  id: optional(z.number().int().positive()),
  secret_encrypted: optional(z.string()),
  created_at: optional(instant),
  modified_at: optional(instant),
});

export const ingestionSchema = z.strictObject({
  connection: ident('a connection name'),
  /** The asset name used with -a (table_name in the meta tables). */
  asset: ident('an asset name'),
  target_table: ident('a table name'),
  ingestion_type: oneOf(INGESTION_TYPES).default('REQUEST'),
  /** The stream that reads the data, `source.stream`. */
  source: z.string().regex(/^[a-z0-9_]+\.[a-z0-9_]+$/, `expected source.stream, e.g. ${EXAMPLES.job}`),
  /** Stream parameters (asset, interval, limit, …); `from`/`to` set the time window. */
  params: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .nullish()
    .transform((v) => v ?? {})
    .superRefine((params, ctx) => {
      for (const key of LOAD_OPTION_KEYS) {
        if (key in params) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is a key of the ingestion, not a stream parameter; expected it beside params` });
      }
    }),
  primary_key: optional(identList('a column name')),
  incremental_date_column: optional(ident('a column name')),
  load_type: oneOf(LOAD_TYPES).default('FULL'),
  write_mode: optional(oneOf(WRITE_MODES as unknown as readonly [WriteMode, ...WriteMode[]])),
  /** YAML's bare `null` is the policy `null` too. */
  on_missing: oneOf(MISSING_POLICIES).nullish().transform((v) => v ?? 'null'),
  on_invalid: oneOf(INVALID_POLICIES).nullish().transform((v) => v ?? undefined),
  /** Quality checks of the target table, kept as written (validated here, parsed when the table is planned). */
  checks: optional(
    z.array(z.record(z.string(), z.unknown())).superRefine((list, ctx) => {
      list.forEach((c, i) => {
        const r = qualityCheckSchema.safeParse(c);
        if (!r.success) ctx.addIssue({ code: 'custom', path: [i, ...r.error.issues[0].path.map((p) => (typeof p === 'number' ? p : String(p)))], message: r.error.issues[0].message });
      });
    }),
  ),
  /** Write mode merge, full snapshots: keys absent from a non-empty batch are deleted (TableSpec.deleteMissing). */
  delete_missing: optional(z.boolean()),
  /** Write mode scd2, full snapshots: the current version of a key absent from a non-empty batch is closed. */
  close_missing: optional(z.boolean()),
  /** The row-count audit's k·σ rule: flag a delta more than k standard deviations from the mean of min_runs or more earlier runs. */
  audit: optional(
    z.strictObject({
      k: z.number().positive('expected k > 0').optional(),
      min_runs: z.number().int().nonnegative('expected min_runs >= 0').optional(),
    }),
  ),
  /** Which change events merge and scd2 write: all, changes (updates and deletes only) or none; default the stream's. */
  change_events: optional(oneOf(CHANGE_EVENT_POLICIES)),
  /** After a run of this ingestion loads rows, `coinlake run`/`daily`/`schedule` run the models (incremental ones incrementally). */
  refresh_models: optional(z.boolean()),
  file_format: optional(z.string()),
  delimiter: optional(z.string()),
  partitioned_by: optional(ident('a column name')),
  clustered_by: optional(identList('a column name')),
  is_parquet: z.boolean().default(true),
  is_external: z.boolean().default(false),
  lake_destination: optional(z.string()),
  schedule: optional(z.string().regex(/^\S+(\s+\S+){4,5}$/, 'expected a cron expression with 5 or 6 fields')),
  enabled: z.boolean().default(true),
  /** Absent: the column details in the tables stay as they are; `[]`: none (the stream's own schema). */
  columns: optional(z.array(columnDetailSchema)),
  id: optional(z.number().int().positive()),
  created_by: optional(z.string()),
  created_at: optional(instant),
  modified_by: optional(z.string()),
  modified_at: optional(instant),
});

/** A pin (link this source id to that asset, whatever the score) or forbid (never to that asset): coinlake_meta.asset_alias. */
export const assetAliasSchema = z.strictObject({
  /** `coincap`, `coinlore`, `exchange:<name>`, `ccxt:<exchange id>`. */
  source: z.string().min(1, 'expected a source, as coinlake identity lists them'),
  /** The source's id: a CoinCap id, a CoinLore id, a pair (`HNT-USDT`), a ccxt market id. */
  source_id: z.union([z.string().min(1), z.number()]).transform(String),
  /** The asset (asset_id of bridge_asset_source, e.g. `helium`). */
  asset: z.string().min(1, 'expected an asset id, e.g. helium'),
  action: oneOf(['pin', 'forbid'] as const),
  note: optional(z.string()),
});

/** An id a source gives an exchange, and the exchange key it stands for: coinlake_meta.exchange_alias. */
export const exchangeAliasSchema = z.strictObject({
  alias: z.string().min(1).transform((v) => v.toLowerCase()),
  exchange: z.string().min(1).transform((v) => v.toLowerCase()),
  note: optional(z.string()),
});

/** `identity:` — the user's decisions on which ids are one coin or one exchange. */
export const identitySchema = z.strictObject({
  assets: optional(z.array(assetAliasSchema)),
  exchanges: optional(z.array(exchangeAliasSchema)),
});

/** A whole config file in YAML form: settings, and optionally the catalog. */
export const catalogFileSchema = z
  .strictObject({
    warehouse: optional(z.string().min(1)),
    lake: optional(z.string().min(1)),
    log_level: optional(oneOf(LOG_LEVELS)),
    connections: optional(z.array(connectionSchema)),
    ingestions: optional(z.array(ingestionSchema)),
    identity: optional(identitySchema),
  })
  .superRefine((file, ctx) => {
    const pins = new Map<string, string>();
    file.identity?.assets?.forEach((a, i) => {
      const k = `${a.source}\u0000${a.source_id}`;
      if (a.action !== 'pin') return;
      const earlier = pins.get(k);
      if (earlier !== undefined && earlier !== a.asset) {
        ctx.addIssue({ code: 'custom', path: ['identity', 'assets', i, 'asset'], message: `${a.source} ${a.source_id} is pinned to both ${earlier} and ${a.asset}` });
      }
      pins.set(k, a.asset);
    });
    file.identity?.assets?.forEach((a, i) => {
      if (a.action === 'forbid' && pins.get(`${a.source}\u0000${a.source_id}`) === a.asset) {
        ctx.addIssue({ code: 'custom', path: ['identity', 'assets', i, 'action'], message: `${a.source} ${a.source_id} is both pinned to and forbidden from ${a.asset}` });
      }
    });
    const names = new Set<string>();
    file.connections?.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['connections', i, 'name'], message: `connection ${c.name} is listed twice` });
      names.add(c.name);
    });
    const keys = new Set<string>();
    const columnsByAsset = new Map<string, string>();
    file.ingestions?.forEach((ing, i) => {
      const at = (...p: (string | number)[]) => ['ingestions', i, ...p];
      if (!names.has(ing.connection)) {
        ctx.addIssue({ code: 'custom', path: at('connection'), message: `expected one of the connections listed (${[...names].join(', ') || 'none'}), got "${ing.connection}"` });
      }
      const key = `${ing.connection}/${ing.asset}`;
      if (keys.has(key)) ctx.addIssue({ code: 'custom', path: at('asset'), message: `asset ${ing.asset} of connection ${ing.connection} is listed twice` });
      keys.add(key);
      if (!ing.columns) return;
      for (const field of ['column_name', 'mapping_column', 'ordinal_position'] as const) {
        const seen = new Set<unknown>();
        ing.columns.forEach((c, j) => {
          if (c[field] !== undefined && seen.has(c[field])) ctx.addIssue({ code: 'custom', path: at('columns', j, field), message: `expected a ${field} unique within ${ing.asset}, got ${JSON.stringify(c[field])} twice` });
          seen.add(c[field]);
        });
      }
      // Column details are keyed by table_name (the asset) alone, so one asset has one set of them.
      const text = JSON.stringify(withOrdinals(ing.columns));
      const earlier = columnsByAsset.get(ing.asset);
      if (earlier !== undefined && earlier !== text) {
        ctx.addIssue({ code: 'custom', path: at('columns'), message: `asset ${ing.asset} is given different column details elsewhere (column details are keyed by the asset name)` });
      }
      columnsByAsset.set(ing.asset, text);
    });
    if (file.ingestions && !file.connections) ctx.addIssue({ code: 'custom', path: ['connections'], message: 'expected the connections the ingestions use' });
  });

export type ColumnDetailInput = z.output<typeof columnDetailSchema>;
/** A column detail with its ordinal position settled. */
export type ColumnDetail = ColumnDetailInput & { ordinal_position: number };
export type Connection = z.output<typeof connectionSchema>;
export type Ingestion = z.output<typeof ingestionSchema>;
export type CatalogFile = z.output<typeof catalogFileSchema>;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export type IdentityInput = z.output<typeof identitySchema>;

/** The catalog proper: what the meta tables hold. */
export interface Catalog {
  connections: Connection[];
  ingestions: Ingestion[];
  /** Pins, forbids and exchange aliases (coinlake_meta.asset_alias, exchange_alias), when the file or tables hold any. */
  identity?: IdentityInput;
  /** The file held `identity:` alone: a sync leaves connections, ingestions and column details as they are. */
  identityOnly?: boolean;
}

/** Column details with every ordinal position filled in (the list position when the file leaves it out). */
export function withOrdinals(columns: ColumnDetailInput[]): ColumnDetail[] {
  return columns.map((c, i) => ({ ...c, ordinal_position: c.ordinal_position ?? i + 1 }));
}
