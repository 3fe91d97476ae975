// Identity across sources (#25 item 1), as a user meets it: a CoinCap /assets list of 2,000 coins and a CoinLore
// /tickers/ list of about 3,000 served from a loopback API in the real shapes (CoinCap's numbers as strings, CoinLore's
// pages of 100 with info.coins_num), generated from one universe of coins so the truth is known: hundreds of tickers
// shared by different coins (different names, ranks at least 5× apart), genuine renames (CoinLore gives another symbol
// to the same slug or name), slugs that differ between the sources, ranks that differ by up to 10%. Loaded by the real
// jobs, matched by `models run`, on DuckDB and PostgreSQL:
// - no asset holds two different coins; every coin both sources list is linked, renames included;
// - exchange pairs go to the coin their ticker means only when it dominates, else they are flagged;
// - pins and forbids from the catalog YAML (`identity:`) win, and `coinlake identity --ambiguous` lists the flagged.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncCatalog } from '../src/catalog/catalog-sync.ts';
import { catalogOf, parseCatalogText } from '../src/catalog/config-file.ts';
import { nameSimilarity } from '../src/models/identity/asset-identity.ts';
import { runModels } from '../src/models/run-models.ts';
import { buildJob } from '../src/runner/job-builder.ts';
import { runJob } from '../src/runner/run-job.ts';
import { loopbackApi, type LoopbackApi } from './helpers/loopback-api.ts';
import { WAREHOUSES, spineEnv, type SpineEnv } from './helpers/spine-env.ts';
import { insertCandles, type Candle } from './models-reference.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/coinlake.mjs');

/** One true coin of the generated universe. */
interface Coin {
  k: number;
  rank: number;
  name: string;
  slug: string;
  symbol: string;
  /** CoinLore's view: id, symbol (another one for a rename), nameid (sometimes another slug), rank (±10%). */
  lore?: { id: string; symbol: string; nameid: string; rank: number };
  inCoincap: boolean;
  renamed: boolean;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = 'ba ko ri zen lu mar tos vel qui dra nex sol fi gor pax yum tri bel cor dax ell fen hal jin kal lom mun nor oss pel rax sil tav ulo vor wex xan yor zul'.split(' ');
const SUFFIXES = ['', '', '', ' Token', ' Coin', ' Network', ' Protocol', ' Finance', ' Chain'];
const UNIVERSE = 3200;
const COINCAP_TOP = 2000;

/** The universe: names and slugs unique, tickers shared by collision groups, CoinLore's view of each coin. */
function universe(seed = 25): Coin[] {
  const r = mulberry32(seed);
  const int = (n: number) => Math.floor(r() * n);
  const names = new Set<string>();
  const newName = () => {
    for (;;) {
      const n = Array.from({ length: 2 + int(2) }, () => SYLLABLES[int(SYLLABLES.length)]).join('');
      const name = n[0].toUpperCase() + n.slice(1) + SUFFIXES[int(SUFFIXES.length)];
      if (!names.has(name)) return names.add(name), name;
    }
  };
  const symbols = new Set<string>();
  const newSymbol = () => {
    for (;;) {
      const s = Array.from({ length: 3 + int(3) }, () => String.fromCharCode(65 + int(26))).join('');
      if (!symbols.has(s)) return symbols.add(s), s;
    }
  };
  const slugOf = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const coins: Coin[] = Array.from({ length: UNIVERSE }, (_, k) => {
    const name = newName();
    return { k, rank: k + 1, name, slug: slugOf(name), symbol: newSymbol(), inCoincap: k < COINCAP_TOP, renamed: false };
  });
  // Collisions: a coin takes the ticker of a coin ranked at least 5× better, and a name unlike its partners'.
  const grouped = new Map<number, number[]>();
  const share = (lead: number, other: number) => {
    const group = grouped.get(lead) ?? [lead];
    if (group.some((g) => nameSimilarity(coins[g].name, coins[other].name) >= 0.5)) return false;
    coins[other].symbol = coins[lead].symbol;
    group.push(other);
    grouped.set(lead, group);
    grouped.set(other, group);
    return true;
  };
  for (let made = 0, tries = 0; made < 520 && tries < 20_000; tries++) {
    const lead = int(600);
    const other = lead * 5 + 5 + int(UNIVERSE - lead * 5 - 5);
    if (other >= UNIVERSE || grouped.has(other)) continue;
    const group = grouped.get(lead);
    if (group && (group.length >= 3 || coins[group[group.length - 1]].rank * 5 > coins[other].rank)) continue;
    if (share(lead, other)) made++;
  }
  // CoinLore: every coin but 1 in 20 of CoinCap's, its own ids, ranks ±10%, 15% other slugs, 60 renames.
  const ids = Array.from({ length: UNIVERSE }, (_, i) => 10_000 + i).sort(() => r() - 0.5);
  let renames = 0;
  for (const c of coins) {
    if (c.inCoincap && int(20) === 0) continue;
    const otherSlug = int(100) < 15;
    const rename = c.inCoincap && !grouped.has(c.k) && renames < 60 && int(10) === 0;
    if (rename) renames++;
    c.renamed = rename;
    c.lore = {
      id: String(ids[c.k]),
      symbol: rename ? newSymbol() : c.symbol,
      nameid: otherSlug || (rename && renames % 3 === 0) ? `${c.slug}-${1 + int(9)}` : c.slug,
      rank: Math.max(1, Math.round(c.rank * (0.9 + 0.2 * r()))),
    };
  }
  return coins;
}

const COINS = universe();
const coincapAssets = COINS.filter((c) => c.inCoincap).map((c) => ({
  id: c.slug,
  rank: String(c.rank),
  symbol: c.symbol,
  name: c.name,
  supply: '1000000.0000000000000000',
  maxSupply: null,
  marketCapUsd: String(1e10 / c.rank),
  volumeUsd24Hr: '1000.5',
  priceUsd: String(1000 / c.rank),
  changePercent24Hr: '0.5',
  vwap24Hr: null,
  explorer: null,
}));
const coinloreTickers = COINS.filter((c) => c.lore)
  .sort((a, b) => a.lore!.rank - b.lore!.rank || a.k - b.k)
  .map((c) => ({
    id: c.lore!.id,
    symbol: c.lore!.symbol,
    name: c.name,
    nameid: c.lore!.nameid,
    rank: c.lore!.rank,
    price_usd: String(1000 / c.rank),
    percent_change_24h: '0.32',
    percent_change_1h: '0.05',
    percent_change_7d: '-1.07',
    price_btc: '0.01',
    market_cap_usd: String(1e10 / c.rank),
    volume24: 1000,
    volume24a: 900,
    csupply: '1000000.00',
    tsupply: '1000000',
    msupply: '',
  }));
const byLoreId = new Map(COINS.filter((c) => c.lore).map((c) => [c.lore!.id, c]));
const bySlug = new Map(COINS.map((c) => [c.slug, c]));

/**
 * Exchange pairs, as Binance lists them: the tickers of 25 collision groups whose best coin ranks more than 12× above
 * the next (dominant), of 15 whose two best are less than 8× apart (close), and 10 renamed coins' new tickers.
 */
function exchangePairs(): { pair: string; truth: Coin; dominant: boolean }[] {
  const bySymbol = new Map<string, Coin[]>();
  for (const c of COINS) bySymbol.set(c.symbol, [...(bySymbol.get(c.symbol) ?? []), c]);
  const shared = [...bySymbol.values()].filter((g) => g.length > 1);
  const ratio = (g: Coin[]) => g[1].rank / g[0].rank;
  // An exchange's ticker means the best-ranked coin that has it (as it does on real exchanges).
  return [
    ...shared.filter((g) => ratio(g) > 12).slice(0, 25).map((g) => ({ pair: `${g[0].symbol}-USDT`, truth: g[0], dominant: true })),
    ...shared.filter((g) => ratio(g) < 8).slice(0, 15).map((g) => ({ pair: `${g[0].symbol}-USDT`, truth: g[0], dominant: false })),
    ...COINS.filter((c) => c.renamed).slice(0, 10).map((c) => ({ pair: `${c.lore!.symbol}-USDT`, truth: c, dominant: true })),
  ];
}
const PAIRS = exchangePairs();

interface Link {
  asset_id: string;
  source: string;
  source_id: string;
  match_status: string;
  candidate_asset_id: string | null;
}

/** The true coin of a bridge row. */
function truthOf(l: Link): Coin | undefined {
  if (l.source === 'coincap') return bySlug.get(l.source_id);
  if (l.source === 'coinlore') return byLoreId.get(l.source_id);
  return PAIRS.find((p) => p.pair === l.source_id)?.truth;
}

let api: LoopbackApi;
beforeAll(async () => {
  api = await loopbackApi((url) => {
    const q = (k: string) => Number(url.searchParams.get(k) ?? 0);
    if (url.pathname === '/assets') return { body: { data: coincapAssets.slice(q('offset'), q('offset') + q('limit')), timestamp: 1717978200000 } };
    if (url.pathname === '/tickers/') {
      const start = q('start');
      return { body: { data: coinloreTickers.slice(start, start + Math.min(100, q('limit'))), info: { coins_num: coinloreTickers.length, time: 1717978200 } } };
    }
    return { status: 404, body: { error: `no route ${url.pathname}` } };
  });
});
afterAll(() => api?.close());

describe.each(WAREHOUSES)('identity on %s', (kind) => {
  let e: SpineEnv;
  let links: Link[];
  const read = () => e.session.query<Link>(`SELECT asset_id, source, source_id, match_status, candidate_asset_id FROM coinlake.bridge_asset_source ORDER BY source, source_id`);

  beforeAll(async () => {
    e = await spineEnv(kind);
    const opts = { baseUrls: { coincap: api.url, coinlore: api.url }, rateLimitPerMinute: 0 };
    for (const job of ['coincap.assets', 'coinlore.tickers']) await runJob(buildJob(job, {}, opts), { session: e.session, lake: e.lake, progress: false });
    const t = new Date('2024-06-10T00:00:00Z');
    const candles: Candle[] = [...PAIRS.map((p) => ({ exchange: 'binance', symbol: p.pair })), { exchange: 'gdax', symbol: PAIRS[0].pair }, { exchange: 'coinbase', symbol: PAIRS[1].pair }].map((c) => ({
      ...c,
      ts: t,
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume_base: 1,
      volume_quote: 1,
      trade_count: 1,
    }));
    await insertCandles(e.session, candles, 'identity-test');
    await runModels(e.session, { select: ['bridge_asset_source', 'dim_asset', 'dim_exchange'] });
    links = await read();
  }, 240_000);
  afterAll(() => e?.close());

  it('loads every coin of both lists', () => {
    expect(coincapAssets).toHaveLength(COINCAP_TOP);
    expect(coinloreTickers.length).toBeGreaterThan(3000);
    expect(links.filter((l) => l.source === 'coincap')).toHaveLength(COINCAP_TOP);
    expect(links.filter((l) => l.source === 'coinlore')).toHaveLength(coinloreTickers.length);
    // The universe really has what the test claims: shared tickers (also within CoinLore alone), renames, other slugs.
    const sharedTickers = new Set(coinloreTickers.map((t) => t.symbol).filter((s, i, all) => all.indexOf(s) !== i));
    expect(sharedTickers.size).toBeGreaterThan(400);
    expect(COINS.filter((c) => c.renamed)).toHaveLength(60);
    expect(COINS.filter((c) => c.lore && c.lore.nameid !== c.slug).length).toBeGreaterThan(300);
  });

  it('no asset holds two different coins; every coin both sources list is linked, renames included', () => {
    const coinsOf = new Map<string, Set<number>>();
    for (const l of links) {
      const truth = truthOf(l)!;
      coinsOf.set(l.asset_id, (coinsOf.get(l.asset_id) ?? new Set()).add(truth.k));
    }
    const mixed = [...coinsOf].filter(([, ks]) => ks.size > 1).map(([a, ks]) => `${a}: ${[...ks].map((k) => COINS[k].name).join(' + ')}`);
    expect(mixed).toEqual([]);
    const both = COINS.filter((c) => c.inCoincap && c.lore);
    const loreLink = new Map(links.filter((l) => l.source === 'coinlore').map((l) => [l.source_id, l]));
    const missed = both.filter((c) => loreLink.get(c.lore!.id)!.asset_id !== c.slug).map((c) => `${c.name} (${loreLink.get(c.lore!.id)!.match_status})`);
    expect(missed).toEqual([]);
    expect(both.filter((c) => c.renamed).every((c) => loreLink.get(c.lore!.id)!.match_status === 'linked')).toBe(true);
    // CoinLore-only coins that share a CoinCap coin's ticker keep assets of their own, flagged with that coin.
    const sharing = COINS.filter((c) => !c.inCoincap && c.lore && COINS.some((o) => o.inCoincap && o.symbol === c.lore!.symbol));
    expect([sharing.length, both.length]).toEqual([357, 1898]);
    for (const c of sharing) {
      const l = loreLink.get(c.lore!.id)!;
      expect([l.match_status, COINS.find((o) => o.slug === l.candidate_asset_id)?.symbol]).toEqual(['weak', c.symbol]);
    }
  });

  it('exchange pairs link to the coin their ticker means only when it ranks 10× above the next; the rest are flagged', () => {
    const pairs = links.filter((l) => l.source === 'exchange:binance');
    expect(pairs).toHaveLength(PAIRS.length);
    expect(PAIRS.filter((p) => !p.dominant)).toHaveLength(15);
    const at = (pair: string) => pairs.find((l) => l.source_id === pair)!;
    // Dominant tickers (and renamed coins' new tickers, through CoinLore) reach their coin.
    expect(PAIRS.filter((p) => p.dominant).map((p) => [p.pair, at(p.pair).asset_id, at(p.pair).match_status])).toEqual(
      PAIRS.filter((p) => p.dominant).map((p) => [p.pair, p.truth.slug, 'linked']),
    );
    // Close ones are flagged with the best coin as candidate, on an asset no other source's coin is in.
    expect(PAIRS.filter((p) => !p.dominant).map((p) => [p.pair, at(p.pair).match_status, at(p.pair).candidate_asset_id])).toEqual(
      PAIRS.filter((p) => !p.dominant).map((p) => [p.pair, 'ambiguous', links.find((l) => truthOf(l) === p.truth && l.source === (p.truth.inCoincap ? 'coincap' : 'coinlore'))!.asset_id]),
    );
    for (const p of PAIRS.filter((x) => !x.dominant)) expect(links.filter((o) => o.asset_id === at(p.pair).asset_id && !o.source.startsWith('exchange:'))).toEqual([]);
  });

  it('gdax is coinbase: one dim_exchange row with the alias', async () => {
    expect(await e.session.query(`SELECT exchange_key, in_candles, aliases FROM coinlake.dim_exchange WHERE exchange_key IN ('gdax', 'coinbase') ORDER BY exchange_key`)).toEqual([
      { exchange_key: 'coinbase', in_candles: true, aliases: 'gdax' },
    ]);
  });

  it('pins and forbids from the catalog YAML win; an unpinned id goes back to the heuristic', async () => {
    const weak = links.find((l) => l.source === 'coinlore' && l.match_status === 'weak')!;
    const linked = links.find((l) => l.source === 'coinlore' && l.match_status === 'linked')!;
    const ambiguousPair = links.find((l) => l.source === 'exchange:binance' && l.match_status === 'ambiguous')!;
    const pairTruth = truthOf(ambiguousPair)!;
    const yaml = `identity:
  assets:
    - { source: coinlore, source_id: "${weak.source_id}", asset: ${weak.candidate_asset_id}, action: pin, note: checked by hand }
    - { source: coinlore, source_id: "${linked.source_id}", asset: ${linked.asset_id}, action: forbid }
    - { source: "exchange:binance", source_id: ${ambiguousPair.source_id}, asset: ${pairTruth.slug}, action: pin }
  exchanges:
    - { alias: cbx, exchange: coinbase }
`;
    const counts = await syncCatalog(e.session, catalogOf(parseCatalogText(yaml, 'identity.yaml')));
    expect(counts.assetAliases).toEqual({ added: 3, updated: 0, unchanged: 0, removed: 0 });
    expect(counts.exchangeAliases).toEqual({ added: 1, updated: 0, unchanged: 0, removed: 0 });
    await runModels(e.session, { select: ['bridge_asset_source', 'dim_asset'] });
    const after = await read();
    const at = (source: string, id: string) => after.find((l) => l.source === source && l.source_id === id)!;
    expect([at('coinlore', weak.source_id).asset_id, at('coinlore', weak.source_id).match_status]).toEqual([weak.candidate_asset_id, 'pinned']);
    expect(at('coinlore', linked.source_id).asset_id).not.toBe(linked.asset_id);
    expect([at('exchange:binance', ambiguousPair.source_id).asset_id, at('exchange:binance', ambiguousPair.source_id).match_status]).toEqual([pairTruth.slug, 'pinned']);
    // Nothing else moved.
    const moved = after.filter((l) => {
      const before = links.find((o) => o.source === l.source && o.source_id === l.source_id)!;
      return before.asset_id !== l.asset_id && ![weak.source_id, linked.source_id, ambiguousPair.source_id].includes(l.source_id);
    });
    expect(moved.filter((l) => l.source === 'coincap' || l.source === 'coinlore')).toEqual([]);
    // The same file again changes nothing; a file without the forbid removes it, and the heuristic links it again.
    expect((await syncCatalog(e.session, catalogOf(parseCatalogText(yaml, 'identity.yaml')))).assetAliases).toEqual({ added: 0, updated: 0, unchanged: 3, removed: 0 });
    const without = yaml
      .split('\n')
      .filter((line) => !line.includes('forbid'))
      .join('\n');
    expect((await syncCatalog(e.session, catalogOf(parseCatalogText(without, 'identity.yaml')))).assetAliases).toEqual({ added: 0, updated: 0, unchanged: 2, removed: 1 });
    await runModels(e.session, { select: ['bridge_asset_source'] });
    expect((await read()).find((l) => l.source === 'coinlore' && l.source_id === linked.source_id)!.asset_id).toBe(linked.asset_id);
  });

  it.runIf(kind === 'postgres')('coinlake identity --ambiguous lists the flagged links with their candidate and evidence', async () => {
    const { stdout } = await run(process.execPath, [BIN, '--warehouse', e.warehouse, 'identity', '--ambiguous', '--source', 'exchange:binance'], { env: { ...process.env, NO_COLOR: '1' } });
    const lines = stdout.trim().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['asset_id', 'asset_symbol', 'source', 'source_id', 'source_symbol', 'source_name', 'match_status', 'match_score', 'candidate_asset_id', 'match_evidence']);
    const flagged = (await read()).filter((l) => l.source === 'exchange:binance' && l.match_status === 'ambiguous');
    expect(lines).toHaveLength(2 + flagged.length + 1);
    // The exact counts of this (seeded) universe, with the 2 pins the test before left in place.
    expect(lines.at(-1)).toBe('5150 source id(s) on 3213 asset(s): ambiguous 14, anchor 2000, linked 1935, pinned 2, unmatched 843, weak 356; 370 flagged');
  });
});
