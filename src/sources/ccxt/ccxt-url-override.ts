// Pointing a ccxt exchange at another server: every entry of its `urls.api` (strings, or objects of them, nested) gets
// the override's origin in place of its own (`https://api.kraken.com`, `https://api.{hostname}`), keeping the path
// ccxt appends (`…/api/v3` stays), so the same code reaches the real exchange, the replay server or any server that
// speaks its API.

/** Scheme and host of an absolute http(s) URL, with ccxt's `{hostname}` templates in the host. */
const ORIGIN = /^https?:\/\/[^/?#]+/i;

/**
 * `api` (an exchange's `urls.api`) with the origin of every http(s) URL in it replaced by `origin` (its trailing `/`
 * dropped); other values are kept. Returns a copy.
 */
export function overrideApiUrls<T>(api: T, origin: string): T {
  const base = origin.replace(/\/+$/, '');
  const visit = (value: unknown): unknown => {
    if (typeof value === 'string') return ORIGIN.test(value) ? base + value.replace(ORIGIN, '') : value;
    if (Array.isArray(value)) return value.map(visit);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v)]));
    return value;
  };
  return visit(api) as T;
}

/** The environment variable naming one exchange's URL: `COINLAKE_CCXT_KRAKEN_URL`. */
export function exchangeUrlVariable(exchange: string): string {
  return `COINLAKE_CCXT_${exchange.toUpperCase()}_URL`;
}

/** Replaced by the exchange id in a job's base URL: `<replay url>/ccxt/{exchange}` serves every replayed exchange. */
export const EXCHANGE_PLACEHOLDER = '{exchange}';

/**
 * The origin an exchange's API is pointed at, if any: its own variable (COINLAKE_CCXT_<EXCHANGE>_URL), else the job's
 * base URL (a catalog connection's URL, COINLAKE_CCXT_URL, or the replay server's) with `{exchange}` filled in; undefined
 * (the exchange's own URLs) when neither is set.
 */
export function exchangeOrigin(exchange: string, jobBaseUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const own = env[exchangeUrlVariable(exchange)];
  if (own) return own;
  return jobBaseUrl ? jobBaseUrl.split(EXCHANGE_PLACEHOLDER).join(exchange) : undefined;
}
