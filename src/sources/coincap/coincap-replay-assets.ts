// Synthetic assets appended after the recorded ones when a test asks for more than were captured (assetCount > 100),
// so paging past CoinCap's 2000-record limit can be exercised; their market caps continue below the recorded ones.
import { decimalString, unitFraction } from '../../replay/deterministic-numbers.ts';
import type { ApiRecord } from '../../replay/recorded-fixtures.ts';

/** Market cap of the last recorded asset when none is given (the capture's #100 had about $450 million). */
const DEFAULT_CAP_BELOW = 450_000_000;

/**
 * The asset at 1-based position `rank` (id `asset-<rank>`), a pure function of the rank and the market cap of the
 * asset ranked just above the generated ones (`capBelow`): market caps fall with the rank, so the ranks stay in order.
 * Every decimal field is a 16-digit string like CoinCap's; every 3rd asset has no maxSupply, the others one at least
 * the supply; the 24-hour volume is 0.5–10 % of the market cap.
 */
export function generatedAsset(rank: number, capBelow = DEFAULT_CAP_BELOW, firstRank = 101): ApiRecord {
  const id = `asset-${rank}`;
  const marketCap = capBelow * 0.98 * ((firstRank - 1) / (rank - 1)) ** 1.5;
  const priceUsd = 10 ** (unitFraction(id, 'price-exp') * 5 - 3) * (1 + unitFraction(id, 'price'));
  const supply = marketCap / priceUsd;
  const changePercent24Hr = (unitFraction(id, 'change') - 0.5) * 20;
  return {
    id,
    rank: String(rank),
    symbol: `A${rank}`,
    name: `Asset ${rank}`,
    supply: decimalString(supply),
    maxSupply: rank % 3 === 0 ? null : decimalString(supply * (1 + unitFraction(id, 'max-supply') * 2)),
    marketCapUsd: decimalString(marketCap),
    volumeUsd24Hr: decimalString(marketCap * (0.005 + 0.095 * unitFraction(id, 'volume'))),
    priceUsd: decimalString(priceUsd),
    changePercent24Hr: decimalString(changePercent24Hr),
    vwap24Hr: decimalString(priceUsd * (1 - changePercent24Hr / 200)),
    explorer: `https://explorer.example/${id}`,
  };
}

/** The first `count` assets: recorded ones in rank order, then generated ones continuing the rank below the last. */
export function assetsOfCount(recorded: ApiRecord[], count: number): ApiRecord[] {
  const assets = recorded.slice(0, count);
  const lastCap = Number(assets[assets.length - 1]?.marketCapUsd);
  const capBelow = Number.isFinite(lastCap) && lastCap > 0 ? lastCap : DEFAULT_CAP_BELOW;
  for (let rank = assets.length + 1; rank <= count; rank++) assets.push(generatedAsset(rank, capBelow, recorded.length + 1));
  return assets;
}
