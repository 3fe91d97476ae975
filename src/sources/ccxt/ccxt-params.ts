// What a ccxt job names: the exchange (a ccxt id, `--exchange kraken`), the market (`BTC/USD` or `BTC-USD`, ccxt's
// unified symbol either way) and the candle interval; and the canonical `BASE-QUOTE` the tables key it by.
import { parseCandleInterval, type CandleInterval } from '../../core/candle-interval.ts';
import { TerminalError } from '../../core/errors.ts';
import type { StreamParams } from '../../core/source.ts';

/** A ccxt exchange id as ccxt spells it: lower-case letters and digits (`kraken`, `binanceusdm`). */
const EXCHANGE_ID = /^[a-z][a-z0-9]*$/;

/** The exchange id of a job (param `exchange`, the CLI's --exchange), checked for form (whether ccxt knows it is checked on opening it). */
export function exchangeParam(params: StreamParams, job: string): string {
  const raw = params.exchange;
  const id = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (!id) throw new TerminalError(`${job} needs an exchange`, { hint: 'pass --exchange <ccxt id>, e.g. --exchange kraken (or params.exchange in the catalog)' });
  if (!EXCHANGE_ID.test(id)) throw new TerminalError(`${job}: "${String(raw)}" is not a ccxt exchange id`, { hint: 'ccxt ids are lower-case letters and digits, e.g. kraken, coinbase, okx, bybit' });
  return id;
}

/**
 * ccxt's unified symbol of `symbol` as a user writes it: `BTC/USD` as it is, `BTC-USD` (coinlake's canonical form)
 * with its first `-` as `/`. Upper-cased; undefined when it names no pair.
 */
export function unifiedSymbol(symbol: string): string | undefined {
  const s = symbol.trim().toUpperCase();
  if (/^[A-Z0-9.]+\/[A-Z0-9.]+(:[A-Z0-9.]+)?(-[A-Z0-9.-]+)?$/.test(s)) return s;
  const dashed = /^([A-Z0-9.]+)-([A-Z0-9.]+)$/.exec(s);
  return dashed ? `${dashed[1]}/${dashed[2]}` : undefined;
}

/** `BASE-QUOTE` of a unified symbol (`BTC/USD` → `BTC-USD`; a derivative's settle and expiry suffix are kept after a `:`). */
export function canonicalSymbol(unified: string): string {
  const [pair, rest] = unified.split(':', 2);
  return pair.replace('/', '-') + (rest ? `:${rest}` : '');
}

/** The market of a per-symbol job: param `symbol`, else `asset` (the CLI's --asset; backfill's --symbols sets both). */
export function symbolParam(params: StreamParams, job: string): { symbol: string; canonical: string } {
  const raw = String(params.symbol ?? params.asset ?? '').trim();
  const symbol = unifiedSymbol(raw);
  if (!symbol) {
    throw new TerminalError(`${job} needs a market symbol such as BTC/USD or BTC-USD (got "${raw}")`, { hint: 'pass --symbols BTC/USD,ETH/USD (backfill) or --asset BTC/USD (run)' });
  }
  return { symbol, canonical: canonicalSymbol(symbol) };
}

/** Exchange, symbol and interval of a candle job (interval default 1m). */
export interface OhlcvParams {
  exchange: string;
  /** ccxt's unified symbol, `BTC/USD`. */
  symbol: string;
  /** `BTC-USD`. */
  canonical: string;
  interval: CandleInterval;
}

export function ohlcvParams(params: StreamParams, job: string): OhlcvParams {
  return { exchange: exchangeParam(params, job), ...symbolParam(params, job), interval: parseCandleInterval(String(params.interval ?? '1m')) };
}
