// The file that tells other coinlake processes that `coinlake serve` holds an embedded warehouse file:
// `<warehouse>.serve.json` beside it, with the server's pid, URL and the token of its control endpoint (mode 0600).
// A marker counts only when the server it names answers /api/health as that server; a stale one is ignored.
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { duckdbPath } from '../destinations/duckdb/index.ts';

/** What a running server writes about itself. */
export interface ServeMarker {
  pid: number;
  /** Random id of this server run; /api/health answers it, so a marker cannot be mistaken for another server. */
  instance: string;
  url: string;
  /** Bearer token of POST /api/control/run. */
  token: string;
  /** Absolute path of the warehouse file. */
  warehouse: string;
  /** Absolute lake root the server writes runs to. */
  lake: string;
  startedAt: string;
}

/** URL locations (postgres://…) are not files; only an embedded file gets a marker. */
const URL_LOCATION = /^[A-Za-z][A-Za-z0-9+.-]+:\/\//;

/** The marker path of a warehouse location, or undefined when the location is not a file (a URL, :memory:). */
export function serveMarkerPath(location: string): string | undefined {
  if (URL_LOCATION.test(location)) return undefined;
  const file = duckdbPath(location);
  if (file === ':memory:') return undefined;
  return `${path.resolve(file)}.serve.json`;
}

/** A fresh identity and control token for a server run. */
export function newServeIdentity(): { instance: string; token: string } {
  return { instance: randomBytes(8).toString('hex'), token: randomBytes(24).toString('base64url') };
}

/** Writes the marker, readable by its owner only (it holds the control token). */
export async function writeServeMarker(file: string, marker: ServeMarker): Promise<void> {
  await writeFile(file, JSON.stringify(marker, null, 2) + '\n', { mode: 0o600 });
}

/** Reads a marker; undefined when there is none or it is not one. */
export async function readServeMarker(file: string): Promise<ServeMarker | undefined> {
  try {
    const m = JSON.parse(await readFile(file, 'utf8')) as Partial<ServeMarker>;
    if (typeof m.url !== 'string' || typeof m.token !== 'string' || typeof m.instance !== 'string' || typeof m.pid !== 'number') return undefined;
    return m as ServeMarker;
  } catch {
    return undefined;
  }
}

/** Removes the marker if it is still this server's (a newer server may have replaced a stale one). */
export async function removeServeMarker(file: string, instance: string): Promise<void> {
  const m = await readServeMarker(file);
  if (m?.instance === instance) await rm(file, { force: true });
}

/**
 * The running server that holds the warehouse at `location`, if any: its marker exists and the server it names
 * answers /api/health with the same instance id within `timeoutMs` (default 2 s).
 */
export async function findRunningServe(location: string, timeoutMs = 2000): Promise<ServeMarker | undefined> {
  const file = serveMarkerPath(location);
  if (!file) return undefined;
  const marker = await readServeMarker(file);
  if (!marker) return undefined;
  try {
    const res = await fetch(new URL('/api/health', marker.url), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const health = (await res.json()) as { instance?: string };
    return health.instance === marker.instance ? marker : undefined;
  } catch {
    return undefined;
  }
}
