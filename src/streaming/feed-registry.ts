// The live feeds by name (`coinlake stream --source <source>.<stream>`), as the sources declare them (Source.feeds):
// websocket feeds first, then polled ones, each in the sources' registry order.
import { ConfigError } from '../core/errors.ts';
import { SOURCES } from '../sources/registry.ts';
import type { Feed } from './feed.ts';

const declared = SOURCES.flatMap((s) => s.feeds?.() ?? []);

export const FEEDS: Record<string, Feed> = Object.fromEntries(
  [...declared.filter((f) => f.kind === 'websocket'), ...declared.filter((f) => f.kind === 'polling')].map((f) => [`${f.source}.${f.stream}`, f]),
);

/** The feed named `<source>.<stream>`; a ConfigError listing the names otherwise. */
export function feedByName(name: string): Feed {
  const feed = FEEDS[name];
  if (!feed) throw new ConfigError(`unknown stream source "${name}"`, { hint: `one of ${Object.keys(FEEDS).join(', ')}` });
  return feed;
}
