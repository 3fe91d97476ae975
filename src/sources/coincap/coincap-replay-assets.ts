// Synthetic assets appended after the recorded ones when a test asks for more than were
// captured (assetCount > 100), so paging past CoinCap's 2000-record limit can be exercised.
import { decimalString, unitFraction } from '../../replay/deterministic-numbers.ts';
import type { ApiRecord } from '../../replay/recorded-fixtures.ts';

/**
 * The asset at 1-based position `rank` (id `asset-<rank>`), a pure function of the rank.
 * Every decimal field is a 16-digit string like CoinCap's; every 3rd asset has no maxSupply.
 */
export function generatedAsset(rank: number): ApiRecord {
  const id = `asset-${rank}`;
  const priceUsd = 10 ** (unitFraction(id, 'price-exp') * 6 - 2) * (1 + unitFraction(id, 'price'));
  const supply = Math.round(1e6 + unitFraction(id, 'supply') * 1e9);
  const changePercent24Hr = (unitFraction(id, 'change') - 0.5) * 20;
  return {
    id,
    rank: String(rank),
    symbol: `A${rank}`,
    name: `Asset ${rank}`,
    supply: decimalString(supply),
    maxSupply: rank % 3 === 0 ? null : decimalString(supply * 2),
    marketCapUsd: decimalString(supply * priceUsd),
    volumeUsd24Hr: decimalString(supply * priceUsd * unitFraction(id, 'volume') * 0.1),
    priceUsd: decimalString(priceUsd),
    changePercent24Hr: decimalString(changePercent24Hr),
    vwap24Hr: decimalString(priceUsd * (1 - changePercent24Hr / 200)),
    explorer: `https://explorer.example/${id}`,
  };
}

/** The first `count` assets: recorded ones in rank order, then generated ones continuing the rank. */
export function assetsOfCount(recorded: ApiRecord[], count: number): ApiRecord[] {
  const assets = recorded.slice(0, count);
  for (let rank = assets.length + 1; rank <= count; rank++) assets.push(generatedAsset(rank));
  return assets;
}
