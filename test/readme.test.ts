// The README is the short front door (issue #24): at most 200 lines, it starts with the two commands CI relies on, its
// links to docs/ resolve, and its table of environment variables is the set the code reads. The code's set comes from
// the code itself: every `env.NAME` / `env['NAME']` in src/ and bin/, the variables each registered source declares
// (Source.variables), and, for the few reads by a computed name, what those functions read when asked (a recording
// environment). A new variable without a README row fails here; so does a row for a variable nothing reads.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SOURCES } from '../src/sources/registry.ts';
import { exchangeOrigin } from '../src/sources/ccxt/ccxt-url-override.ts';
import { venueCredentials } from '../src/sources/ccxt/ccxt-venue.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const MAX_LINES = 200;

/**
 * Files that read the environment by a computed name (`env[expr]`), each with where its names come from. A new such
 * read fails the test until it is listed here and its variables are covered (declared by a source or probed below).
 */
const COMPUTED_READS: Record<string, string> = {
  'src/cli/replay-endpoints.ts': "each source's Source.variables.baseUrl",
  'src/runner/job-builder.ts': "the job's source's Source.variables.apiKey",
  'src/cli/stream-command.ts': "the feed's source's Source.variables.wsUrl",
  'src/server/command-host.ts': 'sets and restores the variables a command handed over to `coinlake serve` brought (control-protocol HANDED_OVER_ENV), reads none of its own',
  'src/sources/ccxt/ccxt-url-override.ts': 'COINLAKE_CCXT_<EXCHANGE>_URL (probed below)',
  'src/sources/ccxt/ccxt-venue.ts': 'COINLAKE_CCXT_<EXCHANGE>_API_KEY, _SECRET, _PASSWORD (probed below)',
};

/** Variables a dependency reads (not coinlake's code) that the README documents, each with the package that reads it. */
const LIBRARY_READS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: '@aws-sdk/client-s3',
  AWS_SECRET_ACCESS_KEY: '@aws-sdk/client-s3',
  GOOGLE_APPLICATION_CREDENTIALS: '@google-cloud/bigquery',
  BIGQUERY_EMULATOR_HOST: '@google-cloud/bigquery',
  PGHOST: 'pg',
  PGPORT: 'pg',
  PGUSER: 'pg',
  PGPASSWORD: 'pg',
  PGDATABASE: 'pg',
};

/** Non-test TypeScript/JavaScript files under `dir`, relative to the repository, `/`-separated. */
function codeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...codeFiles(rel));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !/\.test\.ts$|\.d\.ts$/.test(entry.name)) out.push(rel);
  }
  return out.sort();
}

interface CodeReads {
  /** Variable → the first `file:line` that reads it. */
  byName: Map<string, string>;
  /** `file:line` of every read by a computed name. */
  computed: string[];
}

/** Every read of the environment by a literal name, and every read by a computed one, in src/ and bin/. */
function scanCode(): CodeReads {
  const byName = new Map<string, string>();
  const computed: string[] = [];
  for (const rel of [...codeFiles('src'), ...codeFiles('bin')]) {
    readFileSync(path.join(ROOT, rel), 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g)) {
        const name = m[1] ?? m[2];
        if (!byName.has(name)) byName.set(name, `${rel}:${i + 1}`);
      }
      if (/\benv\[\s*(?!['"`][A-Z][A-Z0-9_]*['"`]\s*\])/.test(line)) computed.push(`${rel}:${i + 1}`);
    });
  }
  return { byName, computed };
}

/** The names a function reads from the environment it is given, recorded by a proxy that holds no values. */
function namesRead(fn: (env: NodeJS.ProcessEnv) => unknown): string[] {
  const seen = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_t, key) => {
      if (typeof key === 'string') seen.add(key);
      return undefined;
    },
  });
  fn(env);
  return [...seen];
}

/** Every variable the code reads, each with where. */
function variablesTheCodeReads(): Map<string, string> {
  const { byName } = scanCode();
  const all = new Map(byName);
  for (const s of SOURCES) {
    for (const [what, name] of Object.entries(s.variables)) if (name) all.set(name, `Source.variables.${what} of ${s.name}`);
  }
  // The per-exchange variables, with the placeholder the README writes (`<exchange>` upper-cased by the code).
  for (const name of namesRead((env) => exchangeOrigin('<exchange>', '', env))) all.set(name, 'ccxt-url-override.ts exchangeOrigin');
  for (const name of namesRead((env) => venueCredentials('<exchange>', env))) all.set(name, 'ccxt-venue.ts venueCredentials');
  return all;
}

/** The README's section under `## title`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** The names in the first column of the README's environment-variable table. */
function variablesTheReadmeLists(): string[] {
  const rows = section('Environment variables')
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*(variable|-)/.test(l));
  return rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_<>]*)`/g)].map((m) => m[1]));
}

/** The anchors GitHub gives the headings of a Markdown file (fenced blocks skipped): lower case, punctuation dropped, spaces → `-`. */
function headingAnchors(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/^#+ (.*)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-'));
}

describe('README', () => {
  it(`has at most ${MAX_LINES} lines`, () => {
    const lines = README.endsWith('\n') ? README.slice(0, -1).split('\n').length : README.split('\n').length;
    expect(lines).toBeLessThanOrEqual(MAX_LINES);
  });

  it('starts with the two commands (CI runs the README\'s test command)', () => {
    const first = /```sh\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
    expect(first.split('\n').map((l) => l.replace(/\s*#.*$/, '').trim()).filter(Boolean)).toEqual(['npm ci && npm run demo', 'npm test']);
  });

  it('links only to files and headings that exist', () => {
    const broken = [...README.matchAll(/\]\(((?:docs\/)?[\w./-]+\.md)(?:#([\w-]*))?\)/g)]
      .filter(([, file, anchor]) => !existsSync(path.join(ROOT, file)) || (anchor !== undefined && !headingAnchors(file).includes(anchor)))
      .map((m) => m[0]);
    expect(broken).toEqual([]);
  });

  it('lists every environment variable the code reads, and only those', () => {
    const code = variablesTheCodeReads();
    const listed = variablesTheReadmeLists();
    const missing = [...code].filter(([name]) => !listed.includes(name)).map(([name, where]) => `${name} (read at ${where})`);
    expect(missing, 'variables the code reads without a row in the README table').toEqual([]);
    const dependencies = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    const stale = listed.filter((name) => !code.has(name) && !(LIBRARY_READS[name] && dependencies[LIBRARY_READS[name]]));
    expect(stale, 'README rows for variables nothing reads').toEqual([]);
    expect(new Set(listed).size, 'each variable has one row').toBe(listed.length);
  });

  it('knows every read of the environment by a computed name', () => {
    const files = [...new Set(scanCode().computed.map((at) => at.replace(/:\d+$/, '')))].sort();
    expect(files).toEqual(Object.keys(COMPUTED_READS).sort());
  });

  it('finds what it looks for (the scan and the probes are not empty)', () => {
    const code = variablesTheCodeReads();
    expect(code.get('COINLAKE_WAREHOUSE')).toMatch(/^src\/catalog\/settings\.ts:\d+$/);
    expect([...code.keys()].filter((n) => n.includes('<EXCHANGE>')).sort()).toEqual([
      'COINLAKE_CCXT_<EXCHANGE>_API_KEY',
      'COINLAKE_CCXT_<EXCHANGE>_PASSWORD',
      'COINLAKE_CCXT_<EXCHANGE>_SECRET',
      'COINLAKE_CCXT_<EXCHANGE>_URL',
    ]);
  });
});
