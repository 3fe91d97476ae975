// Identity of coins across sources (#25 item 1): which CoinCap asset, CoinLore ticker, exchange pair and ccxt market
// are one coin. Pure: rows in, links out, the same on every warehouse.
//
// - Described sources (a name, a slug, a rank: CoinCap, then CoinLore) are matched by score: the symbol, the slug, the
//   name's similarity and the closeness of the ranks each add evidence (EVIDENCE_WEIGHTS). A coin is linked to an asset
//   only when its best score reaches LINK_SCORE, no other asset comes within MARGIN of it, and no other coin of its
//   source took that asset with a better score; otherwise it keeps an asset of its own and is flagged (weak,
//   ambiguous), with its best candidate and why, so nothing is joined silently.
// - Symbol-only sources (exchange pairs, ccxt markets) are linked by their base symbol to the one asset that has it, or
//   to the best-ranked of several when it ranks at least DOMINANCE times better than the next; else flagged.
// - The user's aliases win: a pin links a source id to an asset whatever the score, a forbid keeps it from one.
import { distance } from 'fastest-levenshtein';

/** One coin as a source lists it. */
export interface SourceCoin {
  /** `coincap`, `coinlore`, `exchange:<name>`, `ccxt:<exchange id>`. */
  source: string;
  sourceId: string;
  symbol: string;
  /** What bridge_asset_source shows as source_symbol (default: symbol), e.g. a market id. */
  display?: string;
  name?: string | null;
  /** CoinCap's id, CoinLore's nameid. */
  slug?: string | null;
  rank?: number | null;
}

/** A user's decision on one source id (coinlake_meta.asset_alias, `identity.assets` in the catalog YAML). */
export interface AssetAlias {
  source: string;
  source_id: string;
  asset_id: string;
  action: 'pin' | 'forbid';
}

export const MATCH_STATUSES = ['anchor', 'linked', 'pinned', 'weak', 'ambiguous', 'unmatched'] as const;
/**
 * anchor: the coin that names its asset; linked: joined to an asset by the heuristic; pinned: joined by an alias;
 * weak / ambiguous: not joined, flagged (a candidate too weak, or more than one too close); unmatched: no candidate.
 */
export type MatchStatus = (typeof MATCH_STATUSES)[number];
/** Statuses `coinlake identity --ambiguous` lists: the links a user should look at. */
export const FLAGGED: readonly MatchStatus[] = ['weak', 'ambiguous'];

/** Where one source id landed. */
export interface IdentityLink {
  source: string;
  sourceId: string;
  sourceSymbol: string;
  sourceName: string | null;
  assetId: string;
  /** The asset's symbol (its anchor's, upper case). */
  assetSymbol: string;
  /** 0–1; null for an anchor of no other candidate. */
  score: number | null;
  status: MatchStatus;
  /** Why, in words: the evidence of the link, or the candidate that was not taken and why. */
  evidence: string;
  /** The asset the coin came closest to without being linked (weak, ambiguous). */
  candidate: string | null;
  /** The first row of its source within its asset (described sources); every row of a symbol-only source. */
  isPrimary: boolean;
}

/**
 * How much each piece of evidence alone says two described coins are one (noisy-OR: the score is 1 − Π(1 − w·e)). A
 * symbol alone says little (tickers are shared), a slug or an equal name much more; a close rank backs either up.
 */
export const EVIDENCE_WEIGHTS = { symbol: 0.45, slug: 0.75, name: 0.7, rank: 0.45 };
/** Names less similar than this are no evidence (similarity is scaled from here to 1). */
export const NAME_FLOOR = 0.5;
/** A described coin is linked at or above this score. */
export const LINK_SCORE = 0.66;
/** Below LINK_SCORE but at or above this, the candidate is reported as weak. */
export const WEAK_SCORE = 0.3;
/** A runner-up within this of the best score makes the match ambiguous. */
export const MARGIN = 0.1;
/** A symbol shared by several assets goes to the best-ranked only when the next ranks this many times worse. */
export const DOMINANCE = 10;
/** Score of a symbol-only link: the one asset with the symbol, or the dominant one of several. */
const SYMBOL_ONLY = 0.7;
const SYMBOL_DOMINANT = 0.6;

const norm = (v: string | null | undefined) => (v ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
const upper = (v: string) => v.trim().toUpperCase();

/** 1 for equal normalised names, down to 0 by their edit distance over the longer length. */
export function nameSimilarity(a: string | null | undefined, b: string | null | undefined): number {
  const x = norm(a);
  const y = norm(b);
  if (!x || !y) return 0;
  if (x === y) return 1;
  return 1 - distance(x, y) / Math.max(x.length, y.length);
}

/** 1 for equal ranks, 0 at DOMINANCE times apart or more (log scale). */
export function rankCloseness(a: number | null | undefined, b: number | null | undefined): number | null {
  if (!a || !b || a <= 0 || b <= 0) return null;
  return Math.max(0, 1 - Math.abs(Math.log(a) - Math.log(b)) / Math.log(DOMINANCE));
}

interface Asset {
  id: string;
  symbol: string;
  anchor: SourceCoin;
  /** Symbols of its members (upper case), for the symbol-only sources. */
  symbols: Set<string>;
  /** Sources that already gave it a member. */
  sources: Set<string>;
}

interface Scored {
  asset: Asset;
  score: number;
  evidence: string;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const label = (c: SourceCoin) => `${upper(c.symbol)} ${c.name ?? ''}${c.rank ? ` #${c.rank}` : ''}`.trim();
const assetLabel = (a: Asset) => `${a.id} (${label(a.anchor)})`;

/** The score of a described coin against an asset's anchor, with its evidence. */
export function scoreCoin(coin: SourceCoin, anchor: SourceCoin): { score: number; evidence: string } {
  const parts: string[] = [];
  let miss = 1;
  const add = (weight: number, e: number) => (miss *= 1 - weight * e);
  const symbol = upper(coin.symbol) === upper(anchor.symbol);
  add(EVIDENCE_WEIGHTS.symbol, symbol ? 1 : 0);
  parts.push(symbol ? 'symbol' : `symbol ${upper(coin.symbol)}≠${upper(anchor.symbol)}`);
  if (norm(coin.slug) && norm(coin.slug) === norm(anchor.slug)) {
    add(EVIDENCE_WEIGHTS.slug, 1);
    parts.push('slug');
  }
  const name = nameSimilarity(coin.name, anchor.name);
  add(EVIDENCE_WEIGHTS.name, Math.max(0, (name - NAME_FLOOR) / (1 - NAME_FLOOR)));
  parts.push(name === 1 ? 'name' : `name ${round(name)}`);
  const rank = rankCloseness(coin.rank, anchor.rank);
  if (rank !== null) {
    add(EVIDENCE_WEIGHTS.rank, rank);
    parts.push(`rank #${coin.rank}~#${anchor.rank} ${round(rank)}`);
  }
  return { score: round(1 - miss), evidence: parts.join(', ') };
}

/** Source priority: described sources first (their first one anchors), then the symbol-only ones by name. */
const DESCRIBED = ['coincap', 'coinlore'];

/**
 * Links every coin to an asset. `coins` may come in any order; the result is ordered by source and source id and does
 * not depend on the input order.
 */
export function resolveIdentity(coins: SourceCoin[], aliases: AssetAlias[] = []): IdentityLink[] {
  const key = (source: string, id: string) => `${source}\u0000${id}`;
  const pins = new Map<string, string>();
  const forbids = new Map<string, Set<string>>();
  for (const a of aliases) {
    const k = key(a.source, a.source_id);
    if (a.action === 'pin') pins.set(k, a.asset_id);
    else (forbids.get(k) ?? forbids.set(k, new Set()).get(k)!).add(a.asset_id);
  }
  const forbidden = (c: SourceCoin, asset: Asset) => forbids.get(key(c.source, c.sourceId))?.has(asset.id) ?? false;

  const assets = new Map<string, Asset>();
  const links = new Map<string, IdentityLink>();
  const bySymbol = new Map<string, Asset[]>();
  const bySlug = new Map<string, Asset[]>();
  const byName = new Map<string, Asset[]>();
  const index = (m: Map<string, Asset[]>, k: string, a: Asset) => {
    if (!k) return;
    const list = m.get(k);
    if (!list) m.set(k, [a]);
    else if (!list.includes(a)) list.push(a);
  };
  const usedIds = new Set<string>();
  const freshId = (wanted: string) => {
    const base = wanted || 'asset';
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  const newAsset = (coin: SourceCoin, id: string): Asset => {
    const a: Asset = { id, symbol: upper(coin.symbol), anchor: coin, symbols: new Set(), sources: new Set() };
    assets.set(id, a);
    usedIds.add(id);
    index(bySlug, norm(coin.slug), a);
    index(byName, norm(coin.name), a);
    return a;
  };
  const join = (coin: SourceCoin, asset: Asset, status: MatchStatus, score: number | null, evidence: string, candidate: string | null = null) => {
    asset.symbols.add(upper(coin.symbol));
    index(bySymbol, upper(coin.symbol), asset);
    asset.sources.add(coin.source);
    links.set(key(coin.source, coin.sourceId), {
      source: coin.source,
      sourceId: coin.sourceId,
      sourceSymbol: coin.display ?? coin.symbol,
      sourceName: coin.name ?? null,
      assetId: asset.id,
      assetSymbol: asset.symbol,
      score,
      status,
      evidence,
      candidate,
      isPrimary: false,
    });
  };
  /** An asset of its own for a coin that joins none; its id from the slug, else its source and id. */
  const own = (coin: SourceCoin, status: MatchStatus, score: number | null, evidence: string, candidate: string | null = null) => {
    const wanted = coin.source === DESCRIBED[0] ? coin.sourceId : norm(coin.slug) ? coin.slug!.toLowerCase() : `${coin.source.replace(/[:]/g, '-')}-${coin.sourceId}`.toLowerCase();
    join(coin, newAsset(coin, freshId(wanted)), status, score, evidence, candidate);
  };
  /** The asset a pin names, created from the coin when no asset has that id yet. */
  const pinned = (coin: SourceCoin, assetId: string) => {
    const target = assets.get(assetId) ?? newAsset(coin, assetId);
    // A pin adds to the asset; it does not take the place of the coin its source would link there by score.
    const had = target.sources.has(coin.source);
    join(coin, target, 'pinned', null, `pinned to ${assetId} by asset_alias`);
    if (!had) target.sources.delete(coin.source);
  };

  const bySource = new Map<string, SourceCoin[]>();
  for (const c of coins) (bySource.get(c.source) ?? bySource.set(c.source, []).get(c.source)!).push(c);
  const order = (list: SourceCoin[]) =>
    [...list].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
  const described = DESCRIBED.filter((s) => bySource.has(s));
  const symbolOnly = [...bySource.keys()].filter((s) => !DESCRIBED.includes(s)).sort();

  // Anchors: the first described source's coins each name an asset (pinned ones join theirs after).
  const [first, ...rest] = described;
  if (first) {
    const list = order(bySource.get(first)!);
    for (const c of list) if (!pins.has(key(c.source, c.sourceId))) join(c, newAsset(c, freshId(c.sourceId)), 'anchor', null, `${first} ${c.sourceId}`);
    for (const c of list) if (pins.has(key(c.source, c.sourceId))) pinned(c, pins.get(key(c.source, c.sourceId))!);
  }

  // Other described sources: scored against the assets so far, linked one to one by best score.
  for (const source of rest) {
    const list = order(bySource.get(source)!);
    for (const c of list) if (pins.has(key(c.source, c.sourceId))) pinned(c, pins.get(key(c.source, c.sourceId))!);
    const best = new Map<SourceCoin, Scored[]>();
    const pairs: { coin: SourceCoin; s: Scored }[] = [];
    for (const c of list) {
      if (pins.has(key(c.source, c.sourceId))) continue;
      const candidates = new Set<Asset>([...(bySymbol.get(upper(c.symbol)) ?? []), ...(bySlug.get(norm(c.slug)) ?? []), ...(byName.get(norm(c.name)) ?? [])]);
      const scored: Scored[] = [];
      for (const a of candidates) {
        if (forbidden(c, a) || a.anchor.source === source) continue;
        const { score, evidence } = scoreCoin(c, a.anchor);
        scored.push({ asset: a, score, evidence });
      }
      scored.sort((x, y) => y.score - x.score || (x.asset.id < y.asset.id ? -1 : 1));
      best.set(c, scored);
      for (const s of scored) if (s.score >= LINK_SCORE) pairs.push({ coin: c, s });
    }
    pairs.sort((x, y) => y.s.score - x.s.score || (x.coin.rank ?? Infinity) - (y.coin.rank ?? Infinity) || (x.coin.sourceId < y.coin.sourceId ? -1 : 1));
    const taken = new Map<Asset, { coin: SourceCoin; score: number }>();
    const done = new Set<SourceCoin>();
    for (const { coin, s } of pairs) {
      if (done.has(coin) || s.asset.sources.has(source)) continue;
      const [top, second] = best.get(coin)!;
      if (s !== top) continue; // only a coin's own best candidate links it
      if (second && top.score - second.score < MARGIN) continue;
      done.add(coin);
      taken.set(s.asset, { coin, score: s.score });
      join(coin, s.asset, 'linked', s.score, s.evidence);
    }
    for (const c of list) {
      if (pins.has(key(c.source, c.sourceId)) || done.has(c)) continue;
      const [top, second] = best.get(c)!;
      if (!top || top.score < WEAK_SCORE) {
        own(c, 'unmatched', top ? top.score : null, top ? `no candidate at ${WEAK_SCORE} or above (best ${assetLabel(top.asset)} at ${top.score}: ${top.evidence})` : 'no asset shares its symbol, slug or name');
      } else if (top.score < LINK_SCORE) {
        own(c, 'weak', top.score, `best candidate ${assetLabel(top.asset)} at ${top.score} < ${LINK_SCORE}: ${top.evidence}`, top.asset.id);
      } else if (second && top.score - second.score < MARGIN) {
        own(c, 'ambiguous', top.score, `${assetLabel(top.asset)} at ${top.score} and ${assetLabel(second.asset)} at ${second.score} are within ${MARGIN}`, top.asset.id);
      } else {
        const winner = taken.get(top.asset);
        const by = winner ? `${source} ${winner.coin.sourceId} (${label(winner.coin)}) at ${winner.score}` : `a pinned ${source} id`;
        own(c, 'ambiguous', top.score, `${assetLabel(top.asset)} at ${top.score} (${top.evidence}) went to ${by}`, top.asset.id);
      }
    }
  }

  // Symbol-only sources: by base symbol, to the one asset with it or the dominant one.
  const rankOf = (a: Asset) => a.anchor.rank ?? Infinity;
  const ownBySymbol = new Map<string, Asset>();
  for (const source of symbolOnly) {
    for (const c of [...bySource.get(source)!].sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0))) {
      const k = key(c.source, c.sourceId);
      if (pins.has(k)) {
        pinned(c, pins.get(k)!);
        continue;
      }
      const sym = upper(c.symbol);
      const candidates = (bySymbol.get(sym) ?? []).filter((a) => !forbidden(c, a) && a.anchor.source !== source && ownBySymbol.get(sym) !== a);
      candidates.sort((x, y) => rankOf(x) - rankOf(y) || (x.id < y.id ? -1 : 1));
      const [top, second] = candidates;
      if (top && !second) {
        join(c, top, 'linked', SYMBOL_ONLY, `symbol ${sym}: the only asset with it`);
        continue;
      }
      if (top && second && rankOf(top) * DOMINANCE <= rankOf(second)) {
        join(c, top, 'linked', SYMBOL_DOMINANT, `symbol ${sym} of ${candidates.length} assets: ${assetLabel(top)} ranks ${DOMINANCE}× above ${assetLabel(second)}`);
        continue;
      }
      // No asset, or several too close: the symbol's own asset, shared by every symbol-only source that lists it.
      const status: MatchStatus = top ? 'ambiguous' : 'unmatched';
      const evidence = top ? `symbol ${sym} is shared by ${candidates.map(assetLabel).join(', ')}` : `no asset has symbol ${sym}`;
      const mine = ownBySymbol.get(sym);
      if (mine) {
        join(c, mine, status, top ? SYMBOL_DOMINANT / 2 : null, evidence, top?.id ?? null);
        continue;
      }
      const a = newAsset(c, freshId(sym.toLowerCase()));
      ownBySymbol.set(sym, a);
      join(c, a, status, top ? SYMBOL_DOMINANT / 2 : null, evidence, top?.id ?? null);
    }
  }

  const out = [...links.values()].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
  const seen = new Set<string>();
  const rankIn = new Map(coins.map((c) => [key(c.source, c.sourceId), c.rank ?? Infinity]));
  for (const l of [...out].sort((a, b) => rankIn.get(key(a.source, a.sourceId))! - rankIn.get(key(b.source, b.sourceId))! || (a.sourceId < b.sourceId ? -1 : 1))) {
    const k = `${l.assetId}\u0000${l.source}`;
    if (!DESCRIBED.includes(l.source)) l.isPrimary = true;
    else if (!seen.has(k)) {
      seen.add(k);
      l.isPrimary = true;
    }
  }
  return out;
}
