// `coinlake identity [--ambiguous] [--asset ID] [--source S] [--exchanges] [--refresh] [--json]`: which source ids are
// one coin (bridge_asset_source, built by `coinlake models run`), with the score, status and evidence of each link;
// `--ambiguous` lists only the flagged ones (weak, ambiguous) a user should pin or forbid; `--exchanges` the exchange
// aliases in force.
import type { Command } from 'commander';
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { Row } from '../core/table.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { tableExists } from '../destinations/table-exists.ts';
import { FLAGGED } from '../models/identity/asset-identity.ts';
import { bridgeAssetSourceTable } from '../models/identity/bridge-asset-source.ts';
import { exchangeAliases } from '../models/identity/exchange-alias.ts';
import { runModels } from '../models/run-models.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';

export interface IdentityQuery {
  /** Only the flagged links (weak, ambiguous). */
  ambiguous?: boolean;
  /** Only this asset's links, and the links that name it as their candidate. */
  asset?: string;
  /** Only this source (`coincap`, `coinlore`, `exchange:binance`, `ccxt:kraken`). */
  source?: string;
}

const LINK_COLUMNS = ['asset_id', 'asset_symbol', 'source', 'source_id', 'source_symbol', 'source_name', 'match_status', 'match_score', 'candidate_asset_id', 'match_evidence'];

/** The bridge's rows matching the query, by asset then source. */
export async function listIdentity(s: Session, q: IdentityQuery = {}): Promise<Row[]> {
  if (!(await tableExists(s, bridgeAssetSourceTable.schema, bridgeAssetSourceTable.name))) {
    throw new ConfigError('no identity yet: the warehouse has no coinlake.bridge_asset_source', { hint: 'run coinlake models run (or coinlake identity --refresh) after loading coins' });
  }
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), s.dialect.param(params.length));
  if (q.ambiguous) where.push(`match_status IN (${FLAGGED.map((f) => p(f)).join(', ')})`);
  if (q.asset !== undefined) where.push(`(asset_id = ${p(q.asset)} OR candidate_asset_id = ${p(q.asset)})`);
  if (q.source !== undefined) where.push(`source = ${p(q.source)}`);
  return s.query<Row>(
    `SELECT ${LINK_COLUMNS.join(', ')} FROM coinlake.bridge_asset_source${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY asset_id, source, source_id`,
    params,
  );
}

/** One line on the whole bridge: links, assets, and the flagged ones by status. */
export async function identitySummary(s: Session): Promise<string> {
  const rows = await s.query<{ match_status: string; n: number; a: number }>(
    `SELECT match_status, count(*) AS n, count(DISTINCT asset_id) AS a FROM coinlake.bridge_asset_source GROUP BY match_status ORDER BY match_status`,
  );
  const [{ assets }] = await s.query<{ assets: number }>(`SELECT count(DISTINCT asset_id) AS assets FROM coinlake.bridge_asset_source`);
  const links = rows.reduce((n, r) => n + Number(r.n), 0);
  const by = rows.map((r) => `${r.match_status} ${Number(r.n)}`).join(', ');
  const flagged = rows.filter((r) => (FLAGGED as readonly string[]).includes(r.match_status)).reduce((n, r) => n + Number(r.n), 0);
  return `${links} source id(s) on ${Number(assets)} asset(s): ${by || 'none'}; ${flagged} flagged`;
}

export function registerIdentityCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('identity')
    .description('show which source ids are one coin (bridge_asset_source): match scores, evidence, and the flagged links to pin or forbid')
    .option('--ambiguous', 'only the flagged links (weak or ambiguous): coins not joined to the asset they came closest to', false)
    .option('--asset <id>', 'only this asset (asset_id), and the coins that name it as their candidate')
    .option('--source <source>', 'only this source, as the source column shows it (exchange:<name> for a venue)')
    .option('--exchanges', 'list the exchange aliases in force (built-in renames and coinlake_meta.exchange_alias) instead', false)
    .option('--refresh', 'rebuild bridge_asset_source and dim_asset first (after a pin or forbid)', false)
    .option('--json', 'one JSON object per row', false)
    .action(async (o: { ambiguous: boolean; asset?: string; source?: string; exchanges: boolean; refresh: boolean; json: boolean }) => {
      await withWarehouse(globals(), async (session) => {
        await ensureMetaTables(session);
        if (o.exchanges) {
          const aliases = await exchangeAliases(session);
          if (o.json) for (const a of aliases) process.stdout.write(JSON.stringify(a) + '\n');
          else process.stdout.write(formatTable(aliases as unknown as Row[], ['alias', 'exchange_key', 'origin', 'note']) + '\n');
          return;
        }
        if (o.refresh) await runModels(session, { select: ['bridge_asset_source', 'dim_asset'] });
        const rows = await listIdentity(session, { ambiguous: o.ambiguous, asset: o.asset, source: o.source });
        if (o.json) {
          for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
          return;
        }
        const shown = rows.map((r) => ({ ...r, match_score: r.match_score === null ? null : Number(r.match_score).toFixed(3) }));
        process.stdout.write(`${rows.length ? formatTable(shown, LINK_COLUMNS) : o.ambiguous ? 'no flagged links' : 'no links'}\n${await identitySummary(session)}\n`);
      });
    });
}
