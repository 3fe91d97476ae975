// CoinCap's websocket feeds on the replay server: `/prices?assets=…` and `/trades/<exchange>`, generated per tick.
import type { WsFrameSource, WsFrames } from '../../replay/ws-replay.ts';

const COINCAP_PRICE_LEVEL: Record<string, number> = { bitcoin: 69_650, ethereum: 3_682, tether: 1, solana: 160, 'binance-coin': 600 };
const TRADE_PAIRS: [string, string, string][] = [['bitcoin', 'tether', 'BTCUSDT'], ['ethereum', 'tether', 'ETHUSDT'], ['ethereum', 'bitcoin', 'ETHBTC']];

/** A deterministic wobble in [-1, 1] for tick i. */
const wobble = (i: number, salt: number) => Math.sin(i * 0.7 + salt);

function coincapPrices(assets: string[]): WsFrames {
  return (i: number) => [JSON.stringify(Object.fromEntries(assets.map((a, k) => [a, ((COINCAP_PRICE_LEVEL[a] ?? 10) * (1 + 0.001 * wobble(i, k))).toPrecision(10)])))];
}

function coincapTrades(exchange: string, startMs: number): WsFrames {
  return (i: number) => {
    const [base, quote] = TRADE_PAIRS[i % TRADE_PAIRS.length];
    const price = (COINCAP_PRICE_LEVEL[base] ?? 10) / (COINCAP_PRICE_LEVEL[quote] ?? 1);
    return [JSON.stringify({ exchange, base, quote, direction: i % 2 ? 'sell' : 'buy', price: Number((price * (1 + 0.001 * wobble(i, 1))).toPrecision(8)), volume: Number((0.01 + (i % 7) * 0.1).toFixed(5)), timestamp: startMs + i * 100, priceUsd: price })];
  };
}

/** The CoinCap feed at `u`, if it is one. */
export const coincapWsFrames: WsFrameSource = (u) => {
  if (u.pathname === '/prices') return coincapPrices((u.searchParams.get('assets') ?? 'bitcoin,ethereum').split(',').filter(Boolean));
  const trades = /^\/trades\/([a-z0-9-]+)$/.exec(u.pathname);
  if (trades) return coincapTrades(trades[1], Date.parse('2024-06-10T00:00:00Z'));
  return undefined;
};
