// The npm package (issue #24 item 1): `npm pack` builds dist/ (prepare) and packs it; the tarball installs into an empty
// folder outside the repository, offline from the npm cache, and `coinlake` runs there without TypeScript or tsx.
// The folder gets a lockfile made from the repository's (its versions, the registry's tarball URLs): npm resolves
// ranges from full registry documents, which the npm cache does not hold offline; the tarballs it does.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../src/destinations/registry.ts';

const exec = promisify(execFile);
const REPO = path.resolve('.');
let tmp: string;
let folder: string;
let tarball: string;
/** A folder outside the install, where the installed `coinlake` is run by its path (as a global install's would be). */
let elsewhere: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end: exit code and both outputs (no shell). */
async function runIn(cwd: string, file: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const clean = { ...process.env, COINLAKE_WAREHOUSE: '', COINLAKE_LAKE: '', COINLAKE_REPLAY: '', COINCAP_API_KEY: '', ...env };
  return exec(file, args, { cwd, env: clean, maxBuffer: 64 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** `npx coinlake …` in the folder, as a user types it: npx runs the installed node_modules/.bin/coinlake. */
const coinlake = (args: string[]) => runIn(folder, 'npx', ['coinlake', ...args]);

/** The installed `coinlake` run by its path from another folder. */
const installedCoinlake = (args: string[]) => runIn(elsewhere, path.join(folder, 'node_modules/.bin/coinlake'), args);

/** The lockfile for a folder that depends on the tarball only: the repository's runtime packages, with tarball URLs. */
function folderLock(tgz: string, integrity: string): object {
  const repoPkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const repoLock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { name?: string; version: string; resolved?: string; dev?: boolean }> };
  const packages: Record<string, object> = {
    '': { name: 'coinlake-package-test', dependencies: { coinlake: `file:${tgz}` } },
    'node_modules/coinlake': { version: repoPkg.version, resolved: `file:${tgz}`, integrity, license: repoPkg.license, dependencies: repoPkg.dependencies, bin: repoPkg.bin, engines: repoPkg.engines },
  };
  for (const [key, entry] of Object.entries(repoLock.packages)) {
    if (key === '' || entry.dev) continue;
    const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[key] = { resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`, ...entry };
  }
  return { name: 'coinlake-package-test', lockfileVersion: 3, requires: true, packages };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'coinlake-package-'));
  const packed = await runIn(REPO, 'npm', ['pack', '--pack-destination', tmp]);
  expect(packed.code, packed.stderr).toBe(0);
  const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
  expect(await readdir(tmp)).toEqual([`coinlake-${version}.tgz`]);
  folder = path.join(tmp, 'empty-folder');
  elsewhere = path.join(tmp, 'elsewhere');
  await exec('mkdir', [folder, elsewhere]);
  const tgz = `coinlake-${version}.tgz`;
  tarball = path.join(folder, tgz);
  await exec('mv', [path.join(tmp, tgz), tarball]);
  const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
  await writeFile(path.join(folder, 'package.json'), JSON.stringify({ name: 'coinlake-package-test', private: true, dependencies: { coinlake: `file:${tgz}` } }, null, 2));
  await writeFile(path.join(folder, 'package-lock.json'), JSON.stringify(folderLock(tgz, integrity), null, 2));
  const installed = await runIn(folder, 'npm', ['i', '--offline', '--no-audit', '--no-fund']);
  expect(installed.code, installed.stderr).toBe(0);
}, 240_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the compiled CLI, the files it reads beside itself and the replay recordings; no TypeScript, no tests', async () => {
    const { stdout } = await exec('tar', ['tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    for (const f of [
      'package/package.json',
      'package/bin/coinlake.mjs',
      'package/dist/cli/main.js',
      'package/dist/cli/command-index.json',
      'package/dist/catalog/builtin-catalog.yaml',
      'package/dist/server/web/index.html',
      'package/dist/server/web/main.js',
      'package/dist/server/web/style.css',
      'package/test/fixtures/coincap-v2/assets.json',
      'package/test/fixtures/formats/coinlore-tickers-start0-limit3.json',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('package/src/') || f.endsWith('.ts') || f.endsWith('.test.js'))).toEqual([]);
    expect(files.filter((f) => !/^package\/(bin|dist|test\/fixtures)\/|^package\/(package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);
  });

  it('installs without tsx or TypeScript', () => {
    expect(existsSync(path.join(folder, 'node_modules/coinlake/dist/cli/main.js'))).toBe(true);
    expect(existsSync(path.join(folder, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(path.join(folder, 'node_modules/typescript'))).toBe(false);
  });

  it('coinlake --help there prints the help of the program with every command loaded', async () => {
    // The same build with every command's module loaded (an unknown command name loads them all).
    const program = path.join(folder, 'node_modules/coinlake/dist/cli/program.js');
    const script = `const { createProgram } = await import(${JSON.stringify(program)}); const { program: p, load } = createProgram(); await load(['no-such-command']); process.stdout.write(p.helpInformation());`;
    const full = await runIn(folder, process.execPath, ['--input-type=module', '-e', script]);
    expect(full.code, full.stderr).toBe(0);
    const r = await coinlake(['--help']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(full.stdout);
    expect(r.stdout.split('\n')[0]).toBe('Usage: coinlake [options] [command]');
    for (const name of ['run', 'status', 'setup', 'demo', 'catalog', 'serve', 'backfill', 'daily', 'models', 'bigquery']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    // No command named: the same help on stderr, exit 1.
    const bare = await coinlake([]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toBe(full.stdout);
  });

  it("coinlake --help loads no command's module: only the entry, the program and the config option", async () => {
    // A resolve hook reports every module the process loads from the package or its dependencies.
    const hook = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith('file:')) process.stderr.write('loaded ' + r.url + '\\n'); return r; }",
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    const bin = path.join(folder, 'node_modules/coinlake/bin/coinlake.mjs');
    const r = await new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ['--import', register, bin, '--help'], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    const root = `file://${path.join(folder, 'node_modules')}/`;
    const loaded = [...new Set(r.stderr.split('\n').filter((l) => l.startsWith('loaded ')).map((l) => l.slice('loaded '.length).replace(root, '')))].sort();
    expect(loaded).toEqual([
      'coinlake/bin/coinlake.mjs',
      'coinlake/dist/cli/config-option.js',
      'coinlake/dist/cli/main.js',
      'coinlake/dist/cli/program.js',
      'commander/esm.mjs',
      'commander/index.js',
    ]);
  });

  it('runs a job offline from the folder: --replay run coincap.assets into ./warehouse.duckdb', async () => {
    const r = await coinlake(['--replay', 'run', 'coincap.assets']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^coincap\.assets: 100 rows into coinlake\.coincap_assets \(100 inserted, 0 updated, 0 deleted\) from 1 page\(s\) in \d+\.\d s — run \S+ \(process 1\)\n$/);
    const s = await openWarehouse(path.join(folder, 'warehouse.duckdb'));
    try {
      const [{ n }] = await s.query<{ n: number }>('SELECT count(*) AS n FROM coinlake.coincap_assets');
      expect(Number(n)).toBe(100);
    } finally {
      await s.close();
    }
    expect(existsSync(path.join(folder, 'lake/raw'))).toBe(true);
  });

  it('runs the demo from another folder (demo --no-serve): what it says landed is in the warehouse', async () => {
    const r = await installedCoinlake(['demo', '--no-serve']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^coinlake demo — replay server http://127\\.0\\.0\\.1:\\d+, warehouse ${elsewhere}/warehouse\\.duckdb, lake ${elsewhere}/lake$`));
    expect(lines).toContain('1     BTC     Bitcoin          96415.27   1907.9');
    // The summary's table: every table it names holds the rows it says.
    const landed = lines.map((l) => /^coinlake\.(\w+)\s+([\d,]+)\s+\S/.exec(l)).filter((m) => m !== null);
    expect(landed.map((m) => m[1])).toEqual(expect.arrayContaining(['coincap_assets', 'coinlore_tickers', 'ohlcv_1m', 'erc20_transfers', 'fact_indicators']));
    const s = await openWarehouse(path.join(elsewhere, 'warehouse.duckdb'));
    try {
      for (const [, table, rows] of landed) {
        const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM coinlake.${table}`);
        expect([table, Number(n)]).toEqual([table, Number(rows.replace(/,/g, ''))]);
      }
    } finally {
      await s.close();
    }
  });

  it('serves the dashboard from the package: the page, its scripts and the chart library; Ctrl-C ends it with exit 0', async () => {
    const serve = spawn(path.join(folder, 'node_modules/.bin/coinlake'), ['serve', '--port', '0'], { cwd: elsewhere, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    serve.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => serve.on('exit', (code) => resolve(code)));
    const origin = await new Promise<string>((resolve, reject) => {
      serve.stdout.on('data', (d) => {
        stdout += d;
        const m = /^coinlake serve — dashboard on (http:\/\/127\.0\.0\.1:\d+)/m.exec(stdout);
        if (m && stdout.includes('press Ctrl+C to stop')) resolve(m[1]);
      });
      serve.on('exit', () => reject(new Error(`serve ended before listening: ${stderr}`)));
    });
    try {
      const installed = path.join(folder, 'node_modules/coinlake/dist/server/web');
      const page = await fetch(origin + '/');
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(path.join(installed, 'index.html'), 'utf8'));
      const script = await fetch(origin + '/app/main.js');
      expect(script.status).toBe(200);
      expect(await script.text()).toBe(readFileSync(path.join(installed, 'main.js'), 'utf8'));
      const charts = await fetch(origin + '/vendor/lightweight-charts.mjs');
      expect(charts.status).toBe(200);
      expect(await charts.text()).toBe(readFileSync(path.join(folder, 'node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs'), 'utf8'));
    } finally {
      serve.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});
