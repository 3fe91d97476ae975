// The matching alone, case by case: the collisions #25 found in a real 2021 CoinLore list (Helium's HNT, Conflux's CFX,
// SuperVerse's SUPER), renames, duplicate listings, symbol-only venues, pins and forbids.
import { describe, expect, it } from 'vitest';
import { LINK_SCORE, resolveIdentity, scoreCoin, type IdentityLink, type SourceCoin } from './asset-identity.ts';

const cc = (id: string, symbol: string, name: string, rank: number): SourceCoin => ({ source: 'coincap', sourceId: id, symbol, name, slug: id, rank });
const cl = (id: string, symbol: string, name: string, nameid: string, rank: number): SourceCoin => ({ source: 'coinlore', sourceId: id, symbol, name, slug: nameid, rank });
const ex = (exchange: string, pair: string): SourceCoin => ({ source: `exchange:${exchange}`, sourceId: pair, symbol: pair.split('-')[0], display: pair });
const pick = (links: IdentityLink[], source: string, id: string) => {
  const l = links.find((x) => x.source === source && x.sourceId === id)!;
  return { asset: l.assetId, status: l.status, candidate: l.candidate };
};

const COINCAP = [cc('bitcoin', 'BTC', 'Bitcoin', 1), cc('helium', 'HNT', 'Helium', 48), cc('conflux-network', 'CFX', 'Conflux', 60), cc('superverse', 'SUPER', 'SuperVerse', 150), cc('polygon', 'MATIC', 'Polygon', 14)];

describe('resolveIdentity', () => {
  it('links the same coin and keeps coins that only share a ticker apart, flagged with their candidate', () => {
    const links = resolveIdentity([
      ...COINCAP,
      cl('90', 'BTC', 'Bitcoin', 'bitcoin', 1),
      cl('33', 'HNT', 'Helium', 'helium', 50),
      cl('2353', 'HNT', 'Hinto', 'hinto', 2353),
      cl('4001', 'CFX', 'CRYPTOFOREX', 'cryptoforex', 2810),
      cl('4002', 'CFX', 'Conflux', 'conflux-token', 61),
      cl('4003', 'SUPER', 'SuperCoin', 'supercoin', 1902),
      cl('4004', 'POL', 'Polygon', 'polygon', 15),
    ]);
    expect(pick(links, 'coinlore', '90')).toEqual({ asset: 'bitcoin', status: 'linked', candidate: null });
    expect(pick(links, 'coinlore', '33')).toEqual({ asset: 'helium', status: 'linked', candidate: null });
    expect(pick(links, 'coinlore', '2353')).toEqual({ asset: 'hinto', status: 'weak', candidate: 'helium' });
    expect(pick(links, 'coinlore', '4001')).toEqual({ asset: 'cryptoforex', status: 'weak', candidate: 'conflux-network' });
    // Same symbol and name, another slug: linked on symbol, name and rank.
    expect(pick(links, 'coinlore', '4002')).toEqual({ asset: 'conflux-network', status: 'linked', candidate: null });
    expect(pick(links, 'coinlore', '4003')).toEqual({ asset: 'supercoin', status: 'weak', candidate: 'superverse' });
    // A rename: another symbol, the same slug and name.
    expect(pick(links, 'coinlore', '4004')).toEqual({ asset: 'polygon', status: 'linked', candidate: null });
    const polygon = links.find((l) => l.sourceId === '4004')!;
    expect(polygon.assetSymbol).toBe('MATIC');
    expect(polygon.evidence).toBe('symbol POL≠MATIC, slug, name, rank #15~#14 0.97');
    expect(links.find((l) => l.sourceId === '2353')!.evidence).toBe('best candidate helium (HNT Helium #48) at 0.45 < 0.66: symbol, name 0.167, rank #2353~#48 0');
  });

  it('a second listing of one coin is flagged ambiguous, naming the listing that took it', () => {
    const links = resolveIdentity([...COINCAP, cl('33', 'HNT', 'Helium', 'helium', 50), cl('34', 'HNT', 'Helium', 'helium-old', 900)]);
    expect(pick(links, 'coinlore', '33')).toEqual({ asset: 'helium', status: 'linked', candidate: null });
    const dup = links.find((l) => l.sourceId === '34')!;
    expect([dup.assetId, dup.status, dup.candidate]).toEqual(['helium-old', 'ambiguous', 'helium']);
    expect(dup.evidence).toMatch(/^helium \(HNT Helium #48\) at 0\.\d+ \(symbol, name, rank #900~#48 [0-9.]+\) went to coinlore 33 \(HNT Helium #50\) at 0\.\d+$/);
  });

  it('two assets equally close make a coin ambiguous, not linked to either', () => {
    const links = resolveIdentity([cc('a-coin', 'ABC', 'Alpha Beta', 100), cc('a-coin-2', 'ABC', 'Alpha Beta', 101), cl('1', 'ABC', 'Alpha Beta', 'alphabeta', 100)]);
    expect(pick(links, 'coinlore', '1')).toEqual({ asset: 'alphabeta', status: 'ambiguous', candidate: 'a-coin' });
  });

  it('exchange pairs go to the one asset with their symbol, or the one ranking ten times above the next; else flagged', () => {
    const links = resolveIdentity([
      ...COINCAP,
      cl('2353', 'HNT', 'Hinto', 'hinto', 2353),
      cl('7', 'ZZZ', 'Zed', 'zed', 300),
      cl('8', 'ZZZ', 'Zulu', 'zulu', 400),
      ex('binance', 'HNT-USDT'),
      ex('binance', 'BTC-USDT'),
      ex('kraken', 'ZZZ-USD'),
      ex('binance', 'ZZZ-USDT'),
      ex('kraken', 'NEW-USD'),
      ex('binance', 'NEW-USDT'),
      ex('binance', 'POL-USDT'),
    ]);
    expect(pick(links, 'exchange:binance', 'HNT-USDT')).toEqual({ asset: 'helium', status: 'linked', candidate: null });
    expect(pick(links, 'exchange:binance', 'BTC-USDT')).toEqual({ asset: 'bitcoin', status: 'linked', candidate: null });
    // ZZZ: two assets of close rank; both venues' pairs share one flagged asset of their own.
    expect(pick(links, 'exchange:kraken', 'ZZZ-USD')).toEqual({ asset: 'zzz', status: 'ambiguous', candidate: 'zed' });
    expect(pick(links, 'exchange:binance', 'ZZZ-USDT')).toEqual({ asset: 'zzz', status: 'ambiguous', candidate: 'zed' });
    expect(pick(links, 'exchange:kraken', 'NEW-USD')).toEqual({ asset: 'new', status: 'unmatched', candidate: null });
    expect(pick(links, 'exchange:binance', 'NEW-USDT')).toEqual({ asset: 'new', status: 'unmatched', candidate: null });
    // POL is no asset's anchor symbol, and no described source lists it: its own asset (a pin would join it to polygon).
    expect(pick(links, 'exchange:binance', 'POL-USDT')).toEqual({ asset: 'pol', status: 'unmatched', candidate: null });
    const pinned = resolveIdentity([...COINCAP, ex('binance', 'POL-USDT')], [{ source: 'exchange:binance', source_id: 'POL-USDT', asset_id: 'polygon', action: 'pin' }]);
    expect(pick(pinned, 'exchange:binance', 'POL-USDT')).toEqual({ asset: 'polygon', status: 'pinned', candidate: null });
  });

  it('a renamed coin carries its new symbol to the exchanges: POL pairs join polygon through CoinLore', () => {
    const links = resolveIdentity([...COINCAP, cl('4004', 'POL', 'Polygon', 'polygon', 15), ex('binance', 'POL-USDT')]);
    expect(pick(links, 'exchange:binance', 'POL-USDT')).toEqual({ asset: 'polygon', status: 'linked', candidate: null });
  });

  it('pins and forbids win over the scores', () => {
    const coins = [...COINCAP, cl('33', 'HNT', 'Helium', 'helium', 50), cl('2353', 'HNT', 'Hinto', 'hinto', 2353), ex('binance', 'HNT-USDT')];
    const links = resolveIdentity(coins, [
      { source: 'coinlore', source_id: '2353', asset_id: 'helium', action: 'pin' },
      { source: 'coinlore', source_id: '33', asset_id: 'helium', action: 'forbid' },
      { source: 'exchange:binance', source_id: 'HNT-USDT', asset_id: 'helium', action: 'forbid' },
    ]);
    expect(pick(links, 'coinlore', '2353')).toEqual({ asset: 'helium', status: 'pinned', candidate: null });
    expect(pick(links, 'coinlore', '33')).toEqual({ asset: 'helium-2', status: 'unmatched', candidate: null });
    // Forbidden helium, the pair goes to the other HNT asset, coinlore 33's own.
    expect(pick(links, 'exchange:binance', 'HNT-USDT')).toEqual({ asset: 'helium-2', status: 'linked', candidate: null });
    // A pin to an asset no source names creates it.
    const created = resolveIdentity(coins, [{ source: 'coinlore', source_id: '2353', asset_id: 'hinto-network', action: 'pin' }]);
    expect(pick(created, 'coinlore', '2353')).toEqual({ asset: 'hinto-network', status: 'pinned', candidate: null });
  });

  it('the result does not depend on the order of the input', () => {
    const coins = [...COINCAP, cl('33', 'HNT', 'Helium', 'helium', 50), cl('34', 'HNT', 'Helium', 'helium-old', 900), cl('2353', 'HNT', 'Hinto', 'hinto', 2353), ex('binance', 'HNT-USDT')];
    expect(resolveIdentity([...coins].reverse())).toEqual(resolveIdentity(coins));
  });

  it('scores: equal coins near 1; a shared ticker alone stays below the link score', () => {
    expect(scoreCoin(cc('x', 'X', 'Xeno', 5), cc('x', 'X', 'Xeno', 5)).score).toBe(0.977);
    expect(scoreCoin(cl('1', 'HNT', 'Hinto', 'hinto', 2353), cc('helium', 'HNT', 'Helium', 48)).score).toBeLessThan(LINK_SCORE);
  });
});
