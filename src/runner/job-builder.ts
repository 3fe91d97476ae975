// Builds a runnable Job from a short name (`coincap.asset_history`) and command-line options.
import { ConfigError } from '../core/errors.ts';
import type { WriteMode } from '../core/destination.ts';
import { WRITE_MODES } from '../core/destination.ts';
import type { Job } from '../core/job.ts';
import type { Source, StreamParams, TimeWindow } from '../core/source.ts';
import { parseInstant } from '../core/time.ts';
import { registerSecret } from '../http/redact.ts';
import { COINCAP_V3_URL } from '../sources/coincap/coincap-source.ts';
import { findStream } from '../sources/registry.ts';

/** Where sources are reached: the real APIs, or the replay server's base URLs. */
export interface Endpoints {
  /** Base URL per source name; absent → the source's default (or v3 with a CoinCap key). */
  baseUrls?: Record<string, string>;
  /** Rate limit override, over the catalog's and the source's: `--rate`, or 0 for replay runs of the demo/tests. */
  rateLimitPerMinute?: number;
  /** Retry settings override (tests shorten the backoff). */
  http?: Job['http'];
}

export interface JobOptions {
  asset?: string;
  interval?: string;
  from?: string;
  to?: string;
  mode?: string;
  params?: StreamParams;
  connectionName?: string;
  tableName?: string;
  apiKey?: string;
}

/** Parses --from/--to into a window; --to defaults to now. */
export function parseWindow(from?: string, to?: string): TimeWindow | undefined {
  if (!from) return undefined;
  const start = parseInstant(from);
  const end = to ? parseInstant(to) : new Date();
  if (end.getTime() <= start.getTime()) throw new ConfigError(`--to (${end.toISOString()}) must be after --from (${start.toISOString()})`);
  return { start, end };
}

/**
 * A request rate as the catalog or `--rate` gives it: a whole number of requests per minute, 0 = unlimited. `what`
 * names the setting in the error.
 */
export function parseRate(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${what} must be a whole number of requests per minute (0 = unlimited), got ${JSON.stringify(value)}`);
  return n;
}

/** Checks a write mode name. */
export function parseWriteMode(mode: string): WriteMode {
  if (!(WRITE_MODES as readonly string[]).includes(mode)) throw new ConfigError(`unknown write mode "${mode}": expected one of ${WRITE_MODES.join(', ')}`);
  return mode as WriteMode;
}

/** Where and how a job reaches its source. */
export interface Access {
  baseUrl: string;
  headers?: Record<string, string>;
  rateLimitPerMinute: number;
}

/**
 * Resolves a job's base URL, Authorization header and rate limit. The URL is the endpoint override (replay) if any,
 * else `url` (a catalog connection's), else the source default — CoinCap v3 when there is a key. `apiKey` is sent
 * as a Bearer token unless `authorization` gives the header; both are registered for redaction.
 */
export function resolveAccess(source: Source, endpoints: Endpoints, o: { url?: string; apiKey?: string; authorization?: string; rateLimitPerMinute?: number } = {}): Access {
  registerSecret(o.apiKey);
  registerSecret(o.authorization);
  const keyed = Boolean(o.apiKey || o.authorization);
  const baseUrl = endpoints.baseUrls?.[source.name] ?? o.url ?? (o.apiKey && source.name === 'coincap' ? COINCAP_V3_URL : source.defaultBaseUrl);
  const authorization = o.authorization ?? (o.apiKey ? `Bearer ${o.apiKey}` : undefined);
  return {
    baseUrl,
    headers: authorization ? { authorization } : undefined,
    rateLimitPerMinute: endpoints.rateLimitPerMinute ?? o.rateLimitPerMinute ?? (keyed ? 500 : source.rateLimitPerMinute),
  };
}

/** Resolves a job by name with its parameters, endpoint and credentials. */
export function buildJob(name: string, opts: JobOptions = {}, endpoints: Endpoints = {}): Job {
  const { source, stream } = findStream(name);
  const apiKey = opts.apiKey ?? (source.name === 'coincap' ? process.env.COINCAP_API_KEY || undefined : undefined);
  const access = resolveAccess(source, endpoints, { apiKey });
  const params: StreamParams = { ...opts.params };
  if (opts.asset) params.asset = opts.asset;
  if (opts.interval) params.interval = opts.interval;
  const incremental = Boolean(stream.cursor);
  const suffix = incremental ? `_${String(params.asset ?? 'bitcoin').toUpperCase()}_${String(params.interval ?? 'h1').toUpperCase()}` : '';
  return {
    name,
    connectionName: opts.connectionName ?? `${source.name}${incremental ? '' : ''}`.toUpperCase(),
    tableName: opts.tableName ?? `${stream.name.toUpperCase()}${suffix}`,
    source,
    stream,
    table: stream.tableFor?.(params) ?? stream.table,
    writeMode: opts.mode ? parseWriteMode(opts.mode) : stream.defaultWriteMode,
    ...access,
    params,
    window: parseWindow(opts.from, opts.to),
    incremental,
    http: endpoints.http,
  };
}
