// Where a listening server can be reached: for a wildcard address (0.0.0.0, ::) the addresses of this machine's
// interfaces, for any other address that address. `coinlake serve` prints them, and warns when the page is reachable
// from other machines (any address that is not loopback).
import os from 'node:os';

type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  return a === 'localhost' || a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(a);
}

/** True for 0.0.0.0 and :: (every interface). */
export function isWildcard(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  return a === '0.0.0.0' || a === '::';
}

const urlOf = (address: string, family: string, port: number) => `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;

/**
 * The URLs of a server listening on `address` (as `server.address()` gives it) and `port`, loopback first. A wildcard
 * stands for every interface address of its family (`::` also takes IPv4 connections, so both families); IPv6
 * link-local addresses (fe80::/10) are left out, as they need a zone to be opened.
 */
export function reachableUrls(address: string, family: string, port: number, interfaces: Interfaces = os.networkInterfaces()): string[] {
  if (!isWildcard(address)) return [urlOf(address, family, port)];
  const families = address === '::' ? ['IPv4', 'IPv6'] : ['IPv4'];
  const found = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => families.includes(i.family) && !/^fe80:/i.test(i.address));
  // Loopback first (what this machine's browser opens), then IPv4 before IPv6, in the system's order otherwise.
  const rank = (i: os.NetworkInterfaceInfo) => (i.internal ? 0 : 2) + (i.family === 'IPv4' ? 0 : 1);
  const urls = found
    .map((i, n) => ({ i, n }))
    .sort((x, y) => rank(x.i) - rank(y.i) || x.n - y.n)
    .map(({ i }) => urlOf(i.address, i.family, port));
  return [...new Set(urls)];
}
