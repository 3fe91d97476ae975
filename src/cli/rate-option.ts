// `--rate <per-minute>` of run, backfill and daily: the request rate of the command's jobs, over the catalog's
// params.rate_limit_per_minute and the source's default (CoinLore 60, CoinCap 200 or 500 with a key).
import { parseRate, type Endpoints } from '../runner/job-builder.ts';

export const RATE_FLAGS = '--rate <per-minute>';
export const RATE_HELP = "requests per minute to the source's API, 0 = unlimited (default: the catalog's rate_limit_per_minute, else the source's)";

/** The endpoints with `--rate` applied (checked: a whole number ≥ 0); unchanged without it. */
export function withRate(endpoints: Endpoints, rate: string | undefined): Endpoints {
  return rate === undefined ? endpoints : { ...endpoints, rateLimitPerMinute: parseRate(rate, '--rate') };
}
