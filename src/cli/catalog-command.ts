// `coinlake catalog list | show | validate | export | import | set-secret`: the catalog in the coinlake_meta tables.
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Session } from '../core/destination.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { checkCatalog, ensureCatalog, effectiveWriteMode, planIngestion, validateCatalog } from '../catalog/catalog-job.ts';
import type { Catalog, Ingestion } from '../catalog/catalog-schema.ts';
import { catalogIsEmpty, readCatalog, readCatalogIdentity, TABLES_LABEL } from '../catalog/catalog-read.ts';
import { syncCatalog, type CatalogSyncResult } from '../catalog/catalog-sync.ts';
import { catalogToYaml } from '../catalog/catalog-yaml.ts';
import { storeSecret } from '../catalog/connection-secret.ts';
import { displayPath, readCatalogFile } from '../catalog/config-file.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { openSecret, sealSecret, secretKey } from '../catalog/secret-box.ts';
import { redactUrl, registerSecret } from '../http/redact.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { commandConfig } from './config-option.ts';
import { formatTable } from './format-table.ts';
import { readSecret } from './read-secret.ts';
import { EXAMPLES } from '../sources/registry.ts';

const out = (text: string) => process.stdout.write(text + '\n');

/** What a sync did, as a table: one line per meta table. */
export function formatSyncResult(r: CatalogSyncResult, identityOnly = false): string {
  return formatTable([
    ...(identityOnly
      ? []
      : [
          { table: 'ingestion_connection_info', ...r.connections },
          { table: 'ingestion_config', ...r.ingestions },
          { table: 'ingestion_column_details', ...r.columnDetails },
        ]),
    ...(r.assetAliases ? [{ table: 'asset_alias', ...r.assetAliases }] : []),
    ...(r.exchangeAliases ? [{ table: 'exchange_alias', ...r.exchangeAliases }] : []),
  ]);
}

function sizeOf(c: Catalog): string {
  const columns = new Map(c.ingestions.map((i) => [i.asset, i.columns?.length ?? 0]));
  const n = [...columns.values()].reduce((a, b) => a + b, 0);
  return `${c.connections.length} connections, ${c.ingestions.length} ingestions, ${n} column details`;
}

const EMPTY_HINT = (origin: string) => `the catalog in ${TABLES_LABEL} is empty; \`coinlake setup\` loads ${origin}`;

/** Secrets that do not open with the current key, as problems (unchecked when no key is set). */
function secretProblems(c: Catalog): { problems: string[]; unchecked: number } {
  const sealed = c.connections.filter((x) => x.secret_encrypted);
  if (sealed.length === 0) return { problems: [], unchecked: 0 };
  let key: Buffer;
  try {
    key = secretKey();
  } catch (err) {
    if (!process.env.COINLAKE_SECRET_KEY?.trim()) return { problems: [], unchecked: sealed.length };
    return { problems: [errorMessage(err)], unchecked: 0 };
  }
  const problems: string[] = [];
  for (const x of sealed) {
    try {
      openSecret(x.secret_encrypted!, x.name, key);
    } catch (err) {
      problems.push(`connections (${x.name}): ${errorMessage(err)}`);
    }
  }
  return { problems, unchecked: 0 };
}

/** Prints the verdict of a validation, or throws one ConfigError listing every problem. */
function reportValidation(label: string, c: Catalog): void {
  const secrets = secretProblems(c);
  const problems = [...validateCatalog(c), ...secrets.problems];
  if (problems.length) throw new ConfigError(problems.map((p) => `${label}: ${p}`).join('\n'));
  const note = secrets.unchecked ? ` (${secrets.unchecked} secret(s) not checked: COINLAKE_SECRET_KEY is not set)` : '';
  out(`${label}: catalog OK — ${sizeOf(c)}${note}`);
}

function showIngestion(c: Catalog, ing: Ingestion): void {
  const conn = c.connections.find((x) => x.name === ing.connection);
  const settings: [string, unknown][] = [
    ['connection_url', conn?.url],
    ['auth_type', conn?.auth_type],
    ['user_name', conn?.user_name],
    ['secret', conn?.secret_encrypted ? 'stored (AES-256-GCM)' : 'none'],
    ['target_table', `coinlake.${ing.target_table}`],
    ['ingestion_type', ing.ingestion_type],
    ['source', ing.source],
    ['params', Object.keys(ing.params).length ? JSON.stringify(ing.params) : ''],
    ['primary_key', ing.primary_key?.join(', ')],
    ['load_type', ing.load_type],
    ['write_mode', `${effectiveWriteMode(ing)}${ing.write_mode ? '' : ` (from ${ing.load_type})`}`],
    ['incremental_date_column', ing.incremental_date_column],
    ['on_missing', ing.on_missing],
    ['on_invalid', ing.on_invalid ?? 'null'],
    ['partitioned_by', ing.partitioned_by],
    ['clustered_by', ing.clustered_by?.join(', ')],
    ['schedule', ing.schedule],
    ['enabled', ing.enabled],
    ['modified', ing.modified_at ? `${ing.modified_at.toISOString()} by ${ing.modified_by ?? '?'}` : undefined],
  ];
  out(`${ing.asset} — connection ${ing.connection}`);
  out(formatTable(settings.map(([setting, value]) => ({ setting, value: value ?? '' }))));
  const columns = ing.columns ?? [];
  if (columns.length) {
    out(`\ncolumn details (${columns.length}):`);
    out(formatTable(columns.map((x) => ({ ordinal: x.ordinal_position, column_name: x.column_name, mapping_column: x.mapping_column, datatype: x.datatype, nullable: x.is_nullable }))));
    return;
  }
  let note = '';
  try {
    const t = planIngestion(ing).table;
    note = formatTable(t.columns.map((x) => ({ column: x.name, type: x.type, source: x.derived ? '(derived)' : (x.source ?? x.name) })));
  } catch (err) {
    note = `(cannot build the table: ${errorMessage(err)})`;
  }
  out(`\ncolumn details: none — the stream's own columns apply:\n${note}`);
}

export function registerCatalogCommand(program: Command, globals: () => GlobalOptions): void {
  const catalog = program
    .command('catalog')
    .description('the catalog in coinlake_meta: list | show ASSET | validate [FILE] | export FILE | import FILE | set-secret CONNECTION');

  catalog
    .command('list')
    .description('connections and ingestions in coinlake_meta')
    .action(async () => {
      const cfg = await commandConfig();
      await withWarehouse(globals(), async (s) => {
        const c = await readCatalogOrEmpty(s);
        const secrets = new Set(c.connections.filter((x) => x.secret_encrypted).map((x) => x.name));
        out(
          formatTable(
            c.ingestions.map((i) => ({
              connection: i.connection,
              asset: i.asset,
              target_table: i.target_table,
              source: i.source,
              load: i.load_type,
              write_mode: effectiveWriteMode(i),
              columns: i.columns?.length ?? 0,
              enabled: i.enabled ? 'yes' : 'no',
              secret: secrets.has(i.connection) ? 'yes' : 'no',
            })),
          ),
        );
        if (c.ingestions.length === 0) out(EMPTY_HINT(cfg.catalogOrigin));
      });
    });

  catalog
    .command('show')
    .description('one asset: its connection, config and column details')
    .argument('<asset>', `asset name (table_name), e.g. ${EXAMPLES.catalogAsset}`)
    .option('-s, --section <connection>', 'only the asset of this connection')
    .action(async (asset: string, o: { section?: string }) => {
      const cfg = await commandConfig();
      await withWarehouse(globals(), async (s) => {
        const c = await readCatalogOrEmpty(s);
        const found = c.ingestions.filter((i) => i.asset === asset && (!o.section || i.connection === o.section));
        if (found.length === 0) {
          const known = c.ingestions.map((i) => i.asset);
          throw new ConfigError(`no asset "${asset}"${o.section ? ` of connection ${o.section}` : ''} in ${TABLES_LABEL}.ingestion_config`, {
            hint: known.length ? `known assets: ${[...new Set(known)].join(', ')}` : EMPTY_HINT(cfg.catalogOrigin),
          });
        }
        found.forEach((ing, i) => {
          if (i > 0) out('');
          showIngestion(c, ing);
        });
      });
    });

  catalog
    .command('validate')
    .description('check a catalog file, or the catalog in coinlake_meta: streams, types, keys, secrets')
    .argument('[file]', 'a catalog file (YAML) to check instead of the warehouse')
    .action(async (file: string | undefined) => {
      if (file) {
        reportValidation(file, await readCatalogFile(file));
        return;
      }
      const cfg = await commandConfig();
      await withWarehouse(globals(), async (s, _lake, settings) => {
        if (await readyAndEmpty(s)) {
          reportValidation(`${cfg.catalogOrigin} (${TABLES_LABEL} is empty; this is what \`coinlake setup\` loads)`, cfg.catalog);
          return;
        }
        reportValidation(`${TABLES_LABEL} on ${redactUrl(settings.warehouse)}`, await readCatalog(s));
      });
    });

  catalog
    .command('export')
    .description('write the catalog in coinlake_meta to a YAML file (- for stdout); `import` restores it exactly')
    .argument('<file>', 'YAML file to write')
    .action(async (file: string) => {
      await withWarehouse(globals(), async (s, _lake, settings) => {
        const c = await readCatalogOrEmpty(s);
        const yaml = catalogToYaml(c, `coinlake catalog exported from ${TABLES_LABEL}; \`coinlake catalog import FILE\` restores it.`);
        if (file === '-') {
          process.stdout.write(yaml);
          process.stderr.write(`exported ${sizeOf(c)} from ${redactUrl(settings.warehouse)}\n`);
          return;
        }
        await writeFile(file, yaml);
        out(`exported ${sizeOf(c)} from ${TABLES_LABEL} on ${redactUrl(settings.warehouse)} to ${displayPath(file)}`);
      });
    });

  catalog
    .command('import')
    .description('load a catalog file into coinlake_meta: adds and updates rows; --prune also removes rows the file lacks')
    .argument('<file>', 'YAML catalog file (e.g. from `catalog export`)')
    .option('--prune', 'remove connections, ingestions and column details the file does not list', false)
    .action(async (file: string, o: { prune: boolean }) => {
      const c = await readCatalogFile(file);
      checkCatalog(c, file);
      await withWarehouse(globals(), async (s, _lake, settings) => {
        const r = await syncCatalog(s, c, { prune: o.prune });
        out(`imported ${displayPath(file)} into ${TABLES_LABEL} on ${redactUrl(settings.warehouse)}:`);
        out(formatSyncResult(r, c.identityOnly));
      });
    });

  catalog
    .command('set-secret')
    .description("store a connection's secret (from stdin, or typed at a prompt) encrypted with COINLAKE_SECRET_KEY")
    .argument('<connection>', `connection name, e.g. ${EXAMPLES.connection}`)
    .action(async (connection: string) => {
      const key = secretKey();
      const cfg = await commandConfig();
      const secret = await readSecret(`secret for connection ${connection} (input hidden): `);
      registerSecret(secret);
      if (secret.length < 4) throw new ConfigError(`the secret for connection ${connection} is empty or shorter than 4 characters`, { hint: 'pipe it in: printf %s "$KEY" | coinlake catalog set-secret ' + connection });
      await withWarehouse(globals(), async (s) => {
        await ensureCatalog(s, cfg.catalog, cfg.catalogOrigin);
        await storeSecret(s, connection, sealSecret(secret, connection, key));
        const [conn] = (await readCatalog(s, { connection })).connections;
        out(`secret of connection ${connection} stored in ${TABLES_LABEL}.ingestion_connection_info (AES-256-GCM)`);
        if (conn?.auth_type === 'none') out(`note: auth_type of ${connection} is none, so the secret is not sent; set auth_type: bearer (or basic)`);
      });
    });
}

/** True when the meta tables exist but hold no catalog (they are created if missing). */
async function readyAndEmpty(s: Session): Promise<boolean> {
  await ensureMetaTables(s);
  return catalogIsEmpty(s);
}

async function readCatalogOrEmpty(s: Session): Promise<Catalog> {
  if (!(await readyAndEmpty(s))) return readCatalog(s);
  const identity = await readCatalogIdentity(s);
  return { connections: [], ingestions: [], ...(identity ? { identity } : {}) };
}
