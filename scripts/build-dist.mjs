#!/usr/bin/env node
// `npm run build` (also `prepare`, so `npm ci`, `npm install` in a clone and `npm pack` run it): src/ compiled to dist/
// by tsc (tsconfig.build.json), the files the code reads beside itself copied along, the command index written, and
// dist/ replaced in one rename, so that a `coinlake` starting meanwhile finds either the old build or none.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
// Beside dist/ so that the compiled files find package.json, test/fixtures/ and node_modules/ as they will from dist/.
const next = path.join(root, `.dist-build-${process.pid}`);
const startedAt = Date.now();

/** Files under src/ that are not TypeScript and that the code reads at run time (the dashboard page, the built-in
 * catalog): every one except tests' recorded pages (fixtures/) and notes (*.md). */
function copyAssets(dir, to) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'fixtures') copyAssets(from, path.join(to, e.name));
    } else if (!e.name.endsWith('.ts') && !e.name.endsWith('.md')) {
      cpSync(from, path.join(to, e.name));
    }
  }
}

try {
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', next], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    process.stderr.write(`build: tsc failed (exit ${tsc.status ?? tsc.signal})\n`);
    process.exit(1);
  }
  copyAssets(src, next);
  // The command index: what `coinlake --help` lists, taken from the compiled commands themselves.
  const { commandIndex, COMMAND_INDEX_URL } = await import(pathToFileURL(path.join(next, 'cli/program.js')).href);
  writeFileSync(COMMAND_INDEX_URL, JSON.stringify(await commandIndex(), null, 2) + '\n');
  // bin/coinlake.mjs runs dist/ only when no file under src/ changed after this build started.
  writeFileSync(path.join(next, 'build-info.json'), JSON.stringify({ startedAt }) + '\n');
  const old = path.join(root, `.dist-old-${process.pid}`);
  try {
    renameSync(dist, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
  process.stdout.write(`build: dist/ from src/ in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
} finally {
  rmSync(next, { recursive: true, force: true });
}
// Loading every command for the index may have left handles open (a pool, a timer): the build is done.
process.exit(0);
