// The User-Agent coinlake sends on every request it makes to an API (HTTP and websocket): `coinlake/<version>`, the
// version from package.json. APIs behind CDNs refuse requests without one.
import { readFileSync } from 'node:fs';

/** package.json's version, read once. */
export const COINLAKE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `coinlake/0.1.0`. */
export const USER_AGENT = `coinlake/${COINLAKE_VERSION}`;
