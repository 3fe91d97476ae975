// Builds a runnable Job from a short name (`coincap.asset_history`) and command-line options.
import { ConfigError } from '../core/errors.ts';
import type { WriteMode } from '../core/destination.ts';
import { WRITE_MODES } from '../core/destination.ts';
import type { Job } from '../core/job.ts';
import type { Source, StreamParams, TimeWindow } from '../core/source.ts';
import { parseInstant } from '../core/time.ts';
import { registerSecret } from '../http/redact.ts';
import { findStream } from '../sources/registry.ts';

/** Where sources are reached: the real APIs, or the replay server's base URLs. */
export interface Endpoints {
  /** Base URL per source name; absent → the source's default (or its keyed base URL with an API key). */
  baseUrls?: Record<string, string>;
  /** Rate limit override, over the catalog's and the source's: `--rate`, or 0 for replay runs of the demo/tests. */
  rateLimitPerMinute?: number;
  /**
   * The rate limit is shared by every process calling the source with the same key (`backfill --rate-shared`, or the
   * catalog connection's rate_limit_shared): distributed workers take each request from one budget in NATS.
   */
  rateLimitShared?: boolean;
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

/** `--to` given without `--from` (the window then starts at the committed watermark; see Job.windowEnd). */
export function windowEndOnly(from?: string, to?: string): { windowEnd?: Date } {
  return !from && to ? { windowEnd: parseInstant(to) } : {};
}

/** Parses --from/--to into a window [from, to); --to defaults to now. An empty or reversed window is refused (checkWindow). */
export function parseWindow(from?: string, to?: string): TimeWindow | undefined {
  if (!from) return undefined;
  const start = parseInstant(from);
  const end = to ? parseInstant(to) : new Date();
  if (to) checkWindow(from, to, start, end);
  else if (end.getTime() <= start.getTime()) throw new ConfigError(`--from ${from} (${start.toISOString()}) is not in the past; the window ends now (no --to)`);
  return { start, end };
}

const DAY_MS = 86_400_000;

/**
 * Refuses a window [start, end) that is empty or reversed with a ConfigError saying exactly what to pass: `--to` is
 * exclusive on every command, so `--from D --to D` names no time at all; when `--to` is a day (YYYY-MM-DD) the
 * error gives the `--to` that includes it. `fromText`/`toText` are the values as the user wrote them.
 */
export function checkWindow(fromText: string, toText: string, start: Date, end: Date): void {
  if (end.getTime() > start.getTime()) return;
  const day = /^\s*(\d{4}-\d{2}-\d{2})\s*$/.exec(toText)?.[1];
  const nextDay = day ? new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS) : undefined;
  const include = nextDay && nextDay.getTime() > start.getTime() ? `; to include the day ${day} pass --to ${nextDay.toISOString().slice(0, 10)}` : '';
  const hint = 'the window is [--from, --to): --from is included, --to is not';
  if (end.getTime() === start.getTime()) throw new ConfigError(`--from ${fromText} --to ${toText} is an empty window (--to is exclusive)${include}`, { hint });
  throw new ConfigError(`--to ${toText} (${end.toISOString()}) is before --from ${fromText} (${start.toISOString()})${include ? ` (--to is exclusive)${include}` : ''}`, { hint });
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
  /** See Endpoints.rateLimitShared; absent when not shared. */
  rateLimitShared?: boolean;
}

/**
 * Resolves a job's base URL, Authorization header and rate limit. The URL is the endpoint override (replay) if any,
 * else `url` (a catalog connection's), else the source default — its `keyedBaseUrl` when there is a key. `apiKey` is sent
 * as a Bearer token unless `authorization` gives the header; both are registered for redaction.
 */
export function resolveAccess(source: Source, endpoints: Endpoints, o: { url?: string; apiKey?: string; authorization?: string; rateLimitPerMinute?: number } = {}): Access {
  registerSecret(o.apiKey);
  registerSecret(o.authorization);
  const keyed = Boolean(o.apiKey || o.authorization);
  const baseUrl = endpoints.baseUrls?.[source.name] ?? o.url ?? (o.apiKey && source.keyedBaseUrl ? source.keyedBaseUrl : source.defaultBaseUrl);
  const authorization = o.authorization ?? (o.apiKey ? `Bearer ${o.apiKey}` : undefined);
  return {
    baseUrl,
    headers: authorization ? { authorization } : undefined,
    rateLimitPerMinute: endpoints.rateLimitPerMinute ?? o.rateLimitPerMinute ?? (keyed ? 500 : source.rateLimitPerMinute),
    ...(endpoints.rateLimitShared ? { rateLimitShared: true } : {}),
  };
}

/** `_<ASSET>_<INTERVAL>` of an incremental job's state name: the job's params, else the stream's defaults. */
function stateNameSuffix(params: StreamParams, defaults?: { asset: string; interval: string }): string {
  return [params.asset ?? defaults?.asset, params.interval ?? defaults?.interval]
    .filter((v) => v !== undefined)
    .map((v) => `_${String(v).toUpperCase()}`)
    .join('');
}

/** Resolves a job by name with its parameters, endpoint and credentials. */
export function buildJob(name: string, opts: JobOptions = {}, endpoints: Endpoints = {}): Job {
  const { source, stream } = findStream(name);
  const keyVariable = source.variables.apiKey;
  const apiKey = opts.apiKey ?? (keyVariable ? process.env[keyVariable] || undefined : undefined);
  const access = resolveAccess(source, endpoints, { apiKey });
  const params: StreamParams = { ...opts.params };
  if (opts.asset) params.asset = opts.asset;
  if (opts.interval) params.interval = opts.interval;
  const incremental = Boolean(stream.cursor);
  const suffix = incremental ? stateNameSuffix(params, stream.stateNameDefaults) : '';
  return {
    name,
    connectionName: opts.connectionName ?? source.connectionName?.(params) ?? source.name.toUpperCase(),
    tableName: opts.tableName ?? `${stream.name.toUpperCase()}${suffix}`,
    source,
    stream,
    table: stream.tableFor?.(params) ?? stream.table,
    writeMode: opts.mode ? parseWriteMode(opts.mode) : stream.defaultWriteMode,
    ...access,
    params,
    window: parseWindow(opts.from, opts.to),
    ...windowEndOnly(opts.from, opts.to),
    incremental,
    http: endpoints.http,
  };
}
