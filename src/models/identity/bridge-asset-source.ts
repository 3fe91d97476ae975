// Model `bridge_asset_source` (#25 item 1): every id a source uses for a coin, and the canonical asset it is (asset_id),
// with the score, status and evidence of the match (asset-identity.ts). The coins are read from the source tables, the
// user's pins and forbids from coinlake_meta.asset_alias; the matching runs here, so both warehouses get the same rows.
import type { Session } from '../../core/destination.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { META_SCHEMA } from '../../catalog/meta-tables.ts';
import { tableExists } from '../../destinations/table-exists.ts';
import { applyWriteMode } from '../../load/write-modes.ts';
import { assetsTable } from '../../sources/coincap/coincap-tables.ts';
import { ccxtMarketsTable } from '../../sources/ccxt/ccxt-tables.ts';
import { coinloreTickersTable } from '../../sources/coinlore/coinlore-tables.ts';
import { ohlcv1mTable } from '../../sources/ohlcv-table.ts';
import type { Model, ModelContext, ModelOutput } from '../model.ts';
import { resolveIdentity, type AssetAlias, type SourceCoin } from './asset-identity.ts';

export const ASSET_ALIAS_TABLE = `${META_SCHEMA}.asset_alias`;

/**
 * Every id a source uses for an asset: CoinCap ids, CoinLore ids, exchange pair symbols (source `exchange:<name>`), and
 * the markets ccxt lists (source `ccxt:<exchange id>`, the exchange's own market id as source id and symbol).
 */
export const bridgeAssetSourceTable: TableSpec = {
  schema: 'coinlake',
  name: 'bridge_asset_source',
  columns: [
    /** The asset's symbol (its anchor's, upper case). */
    { name: 'asset_symbol', type: 'varchar' },
    { name: 'source', type: 'varchar' },
    { name: 'source_id', type: 'varchar' },
    { name: 'source_symbol', type: 'varchar' },
    { name: 'source_name', type: 'varchar' },
    /** The first row of its source within its asset (best-ranked). */
    { name: 'is_primary', type: 'boolean' },
    /** The canonical asset: the CoinCap id of its anchor, else a slug or symbol made unique. */
    { name: 'asset_id', type: 'varchar' },
    /** 0–1: how well the source's coin matched the asset (NULL for an anchor and a pin). */
    { name: 'match_score', type: 'double' },
    /** anchor, linked, pinned, weak, ambiguous, unmatched (weak and ambiguous are flagged: not joined to another coin). */
    { name: 'match_status', type: 'varchar' },
    /** The evidence of the link, or why it was not made. */
    { name: 'match_evidence', type: 'varchar' },
    /** The asset a weak or ambiguous coin came closest to. */
    { name: 'candidate_asset_id', type: 'varchar' },
  ],
  primaryKey: ['source', 'source_id'],
};

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
const int = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The coins every source table lists. */
export async function readSourceCoins(s: Session): Promise<SourceCoin[]> {
  const coins: SourceCoin[] = [];
  for (const r of await s.query<Row>(`SELECT id, symbol, name, rank FROM coinlake.coincap_assets WHERE id IS NOT NULL AND symbol IS NOT NULL`)) {
    coins.push({ source: 'coincap', sourceId: String(r.id), symbol: String(r.symbol), name: text(r.name), slug: String(r.id), rank: int(r.rank) });
  }
  for (const r of await s.query<Row>(`SELECT id, symbol, name, nameid, rank FROM coinlake.coinlore_tickers WHERE id IS NOT NULL AND symbol IS NOT NULL`)) {
    coins.push({ source: 'coinlore', sourceId: String(r.id), symbol: String(r.symbol), name: text(r.name), slug: text(r.nameid), rank: int(r.rank) });
  }
  for (const r of await s.query<Row>(`SELECT DISTINCT exchange, symbol FROM coinlake.ohlcv_1m WHERE exchange IS NOT NULL AND symbol IS NOT NULL`)) {
    coins.push({ source: `exchange:${r.exchange}`, sourceId: String(r.symbol), symbol: String(r.symbol).split('-')[0], display: String(r.symbol) });
  }
  if (await tableExists(s, ccxtMarketsTable.schema, ccxtMarketsTable.name)) {
    for (const r of await s.query<Row>(`SELECT DISTINCT exchange, market_id, base FROM coinlake.ccxt_markets WHERE base IS NOT NULL AND market_id IS NOT NULL`)) {
      coins.push({ source: `ccxt:${String(r.exchange).toLowerCase()}`, sourceId: String(r.market_id), symbol: String(r.base), display: String(r.market_id) });
    }
  }
  return coins;
}

/** The user's pins and forbids. */
export async function readAssetAliases(s: Session): Promise<AssetAlias[]> {
  const rows = await s.query<Row>(`SELECT source, source_id, asset_id, action FROM ${ASSET_ALIAS_TABLE} ORDER BY source, source_id, asset_id`);
  return rows.map((r) => ({ source: String(r.source), source_id: String(r.source_id), asset_id: String(r.asset_id), action: r.action === 'forbid' ? 'forbid' : 'pin' }));
}

export const bridgeAssetSourceModel: Model = {
  name: 'bridge_asset_source',
  description: 'one coin across CoinCap ids, CoinLore ids, exchange pair symbols and ccxt market ids, with the score and evidence of each link',
  dependsOn: [],
  async run({ session: s, runId, loadedAt }: ModelContext): Promise<ModelOutput> {
    for (const t of [assetsTable, coinloreTickersTable, ohlcv1mTable, bridgeAssetSourceTable]) await s.ensureTable(t);
    const links = resolveIdentity(await readSourceCoins(s), await readAssetAliases(s));
    await s.exec(`DELETE FROM coinlake.bridge_asset_source`);
    if (links.length > 0) {
      const ctx = { runId, loadedAt, processId: 0 };
      const rows: Row[] = links.map((l) => ({
        asset_symbol: l.assetSymbol,
        source: l.source,
        source_id: l.sourceId,
        source_symbol: l.sourceSymbol,
        source_name: l.sourceName,
        is_primary: l.isPrimary,
        asset_id: l.assetId,
        match_score: l.score,
        match_status: l.status,
        match_evidence: l.evidence,
        candidate_asset_id: l.candidate,
      }));
      const staging = await s.stage(bridgeAssetSourceTable, rows, ctx);
      await applyWriteMode(s, bridgeAssetSourceTable, staging, 'append', ctx);
      await s.dropStaging(staging);
    }
    const flagged = links.filter((l) => l.status === 'weak' || l.status === 'ambiguous').length;
    const assets = new Set(links.map((l) => l.assetId)).size;
    return { rows: links.length, detail: `${assets} asset(s); ${flagged} flagged (weak or ambiguous), see coinlake identity --ambiguous` };
  },
};
