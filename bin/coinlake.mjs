#!/usr/bin/env node
// Entry point of the `coinlake` command: runs the compiled CLI in dist/ (`npm run build`, which `npm ci` and `npm pack`
// run as `prepare`). In a clone where a file under src/ changed after that build started, or with no build, it runs
// src/ through tsx instead, so a checkout never runs stale code.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
const src = new URL('../src/', import.meta.url);

/** The newest modification time of a directory and everything under it, in ms. */
function newest(dir) {
  let m = statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    m = Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return m;
}

/** True when dist/ holds a build that src/ has not changed since (a clone; an installed package has no src/). */
function distIsCurrent() {
  if (!existsSync(src)) return true;
  let startedAt;
  try {
    ({ startedAt } = JSON.parse(readFileSync(new URL('../dist/build-info.json', import.meta.url), 'utf8')));
  } catch {
    return false;
  }
  return newest(src) < startedAt;
}

if (distIsCurrent()) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('cli/main.ts', src).href);
}
