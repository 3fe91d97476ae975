// What one source's replay routes give the replay server: the paths they answer, what they add to its options and to
// its API (URLs, counters, data setters). Sources declare them in sources/<name>/<name>-replay.ts; the server mounts
// every one listed in replay-registry.ts and names none.
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../core/errors.ts';
import type { ReplayResponse } from './replay-response.ts';

/** One request as a mount sees it. */
export interface ReplayRequest {
  req: IncomingMessage;
  /** The path after the mount's prefix (`/api/v3/klines` under `/binance`); `/` for the prefix itself. */
  path: string;
  query: URLSearchParams;
  /** http://127.0.0.1:PORT */
  serverUrl: string;
}

/** Paths one source answers. */
export interface ReplayMount {
  /** Path prefix, e.g. `/binance`: the mount answers `<prefix>/…`. */
  prefix: string;
  /** `exact`: only `<prefix>` itself (a JSON-RPC endpoint); `also`: `<prefix>` as well as `<prefix>/…`. Default: neither. */
  bare?: 'exact' | 'also';
  /** Method it accepts (others: 405 with Allow). Default GET. */
  method?: 'GET' | 'POST';
  answer(r: ReplayRequest): ReplayResponse | Promise<ReplayResponse>;
}

/** A source's replay routes, created per server start. */
export interface SourceReplayRoutes<Api extends object> {
  mounts: ReplayMount[];
  /** What it adds to the ReplayServer once the server listens at `serverUrl`. */
  api(serverUrl: string): Api;
}

/** Whether `mount` answers `path`; the path it sees when it does. */
export function mountPath(mount: ReplayMount, path: string): string | undefined {
  if (path === mount.prefix) return mount.bare ? '/' : undefined;
  if (mount.bare === 'exact') return undefined;
  return path.startsWith(`${mount.prefix}/`) ? path.slice(mount.prefix.length) : undefined;
}

/** An ISO date option of the replay server as ms; a ConfigError naming the option otherwise. */
export function parseIsoOption(name: string, value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ConfigError(`${name} is not an ISO date: ${value}`, { field: name, hint: `give ${name} as an ISO-8601 date, e.g. 2024-01-01T00:00:00Z` });
  return ms;
}
