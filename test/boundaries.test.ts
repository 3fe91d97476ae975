// The plug-in boundary for warehouses (DESIGN §3): engine-specific SQL lives in src/destinations/<engine>/ only.
// Plain file scanning: every string literal and template of every non-test source file outside an engine's folder is
// searched for SQL that only some engines speak, and its imports for an engine's folder (only the registries name
// engines); the failure lists each offending file:line.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');

/** Folders of src/destinations/ that hold no engine: shared by every warehouse, so they must be clean too. */
const SHARED_DESTINATION_FOLDERS = new Set(['conformance']);

/** Engine-specific SQL, each with what it is. */
const ENGINE_SQL: [RegExp, string][] = [
  [/\bnextval\s*\(/i, 'sequence (nextval)'],
  [/\bCREATE\s+SEQUENCE\b/i, 'sequence (CREATE SEQUENCE)'],
  [/\bpg_\w+/, 'PostgreSQL function or catalog (pg_*)'],
  [/\bON\s+CONFLICT\b/i, 'ON CONFLICT'],
  [/\bread_csv\w*/i, 'file read (read_csv)'],
  [/\bread_parquet\b/i, 'file read (read_parquet)'],
  [/\bCOPY\s*(\(|\S+\s+(FROM|TO)\b)/, 'COPY'],
  // A joined UPDATE: a FROM after SET and before any WHERE (a FROM in the WHERE's subquery is standard SQL).
  [/\bUPDATE\b(?:(?!\bWHERE\b)[^;])*?\bSET\b(?:(?!\bWHERE\b|\(\s*SELECT\b)[^;])*?\bFROM\b/i, 'joined UPDATE (UPDATE … SET … FROM)'],
];

/**
 * Files still allowed to hold engine SQL, each with the reason. This list only shrinks: a listed file that no longer
 * holds any fails the last test, so it is taken off when it is moved. Empty: every file it started with (meta-tables,
 * run-history, change-events, abandoned-runs, run-lease, cdd-landing, cdd-sql, warehouse-tables) now asks its dialect.
 */
const ALLOWED: Record<string, string> = {};

/** The files that name the engines, one line each: the warehouses' registry and the in-process file engine. */
const REGISTRIES = new Set(['src/destinations/registry.ts', 'src/destinations/file-engine.ts']);

/**
 * Files still allowed to import an engine's folder directly, each with the reason; shrinks like ALLOWED.
 */
const ALLOWED_IMPORTS: Record<string, string> = {
  'src/server/serve-marker.ts': "duckdbPath: the serve marker sits beside the embedded warehouse file it guards (server hand-over)",
  'src/cli/warehouse-file.ts': "the embedded warehouse's default file name and its move from ./coinlake.duckdb (CLI defaults)",
  'src/cli/bigquery-command.ts': "the deprecated `coinlake bigquery load` alias opens a BigQuery session itself (goes with the alias)",
};

/** Source files (relative to the repository, `/`-separated) outside src/destinations/<engine>/, tests excluded. */
function coreFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(ROOT, full).split(path.sep).join('/');
    if (entry.isDirectory()) {
      const engineFolder = /^src\/destinations\/[^/]+$/.test(rel) && !SHARED_DESTINATION_FOLDERS.has(entry.name);
      if (!engineFolder) out.push(...coreFiles(full));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(rel);
    }
  }
  return out.sort();
}

/** `file:line: what — the line` for every engine-specific SQL fragment in a string literal or template of the file. */
function engineSqlIn(rel: string): string[] {
  if (!existsSync(path.join(ROOT, rel))) return [];
  const text = readFileSync(path.join(ROOT, rel), 'utf8');
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const start = node.getStart(sf);
      const raw = node.getText(sf);
      for (const [pattern, what] of ENGINE_SQL) {
        const m = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
        for (const hit of raw.matchAll(m)) {
          const { line } = sf.getLineAndCharacterOfPosition(start + (hit.index ?? 0));
          found.add(`${rel}:${line + 1}: ${what} — ${text.split('\n')[line].trim()}`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return [...found];
}

/** Engine folders of src/destinations/. */
function engineNames(): string[] {
  return readdirSync(path.join(SRC, 'destinations'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && !SHARED_DESTINATION_FOLDERS.has(e.name))
    .map((e) => e.name);
}

/** `file:line: import of <engine folder path>` for every static or dynamic import of an engine's folder. */
function engineImportsIn(rel: string, engines: string[]): string[] {
  if (!existsSync(path.join(ROOT, rel))) return [];
  const text = readFileSync(path.join(ROOT, rel), 'utf8');
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const check = (spec: ts.Node | undefined): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, rel)), spec.text)).split(path.sep).join('/');
    if (!engines.some((e) => target.startsWith(`src/destinations/${e}/`))) return;
    const { line } = sf.getLineAndCharacterOfPosition(spec.getStart(sf));
    found.push(`${rel}:${line + 1}: import of ${target}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) check(node.moduleSpecifier);
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) check(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('engine SQL stays in src/destinations/<engine>/', () => {
  const files = coreFiles();

  it('scans the core (sanity: the scan sees the files it must)', () => {
    expect(files).toContain('src/runner/run-history.ts');
    expect(files).toContain('src/destinations/registry.ts');
    expect(files).toContain('src/destinations/conformance/destination-cases.ts');
    expect(files.some((f) => f.startsWith('src/destinations/duckdb/') || f.startsWith('src/destinations/postgres/'))).toBe(false);
    // The scan finds what it looks for: each pattern matches its example.
    const examples = [`SELECT nextval('s')`, 'CREATE SEQUENCE s', 'SELECT pg_advisory_lock(1)', 'ON CONFLICT (id) DO NOTHING', "read_csv('f')", "read_parquet('f')", 'COPY (SELECT 1) TO', 'COPY t FROM STDIN'];
    expect(examples.map((e) => ENGINE_SQL.some(([p]) => p.test(e)))).toEqual(examples.map(() => true));
  });

  it('no source file outside an engine folder holds engine-specific SQL (except the allow-list)', () => {
    const offending = files.filter((f) => !(f in ALLOWED)).flatMap(engineSqlIn);
    expect(offending, `engine SQL outside src/destinations/<engine>/:\n${offending.join('\n')}`).toEqual([]);
  });

  it('outside src/destinations/, only the registries import an engine folder (except the allow-list)', () => {
    const engines = engineNames();
    expect(engines).toEqual(expect.arrayContaining(['duckdb', 'postgres']));
    const offending = files.filter((f) => !REGISTRIES.has(f) && !(f in ALLOWED_IMPORTS)).flatMap((f) => engineImportsIn(f, engines));
    expect(offending, `engine folders imported outside the registries:\n${offending.join('\n')}`).toEqual([]);
  });

  it('every allow-listed file still does what it is listed for (take it off the list once it is moved)', () => {
    const engines = engineNames();
    const clean = [
      ...Object.keys(ALLOWED).filter((f) => engineSqlIn(f).length === 0),
      ...Object.keys(ALLOWED_IMPORTS).filter((f) => engineImportsIn(f, engines).length === 0),
    ];
    expect(clean).toEqual([]);
  });
});

// The plug-in boundary for sources (DESIGN §3): everything one source knows lives in src/sources/<name>/. Outside it,
// no source file names a source — in an identifier (`coincapSource`, `BINANCE_URL`) or a string or template
// (`'coincap'`, `COINCAP_API_KEY`, `/binance/`) — except the registries, the demo and the models that read source
// tables by name. Comments are not scanned.

/** Folders of src/sources/ that hold no source: shared by every source, so they must be clean too. */
const SHARED_SOURCE_FOLDERS = new Set(['conformance']);

/** How each source is named in code when not by its folder's name anywhere in an identifier or string. */
const SOURCE_ALIASES: Record<string, { pattern: RegExp; stringsOnly?: boolean }> = {
  cryptodatadownload: { pattern: /cryptodatadownload|cdd/i },
  evm: { pattern: /evm|erc20/i },
  // `rest` is an English word (restBaseUrl, `...rest`): only the source's name as a whole string counts.
  rest: { pattern: /^rest$/, stringsOnly: true },
};

/** Files that name sources by design: the registries (one line per plug-in), the demo, the models on source tables. */
function namesSourcesByDesign(rel: string): boolean {
  return ['src/sources/registry.ts', 'src/sources/file-format-registry.ts', 'src/streaming/feed-registry.ts', 'src/replay/replay-registry.ts', 'src/replay/ws-replay-registry.ts', 'src/cli/demo-command.ts'].includes(rel) || rel.startsWith('src/models/');
}

/**
 * Files still allowed to name a source, each with the reason. This list only shrinks: a listed file that no longer
 * names any fails the last test, so it is taken off when it is cleaned.
 */
const ALLOWED_SOURCE_NAMES: Record<string, string> = {
  // The dashboard reads source tables by name, as the models do. (Help and error examples come from the sources
  // themselves: Source.examples, collected in sources/registry.ts EXAMPLES.)
  'src/server/market-queries.ts': "the dashboard's market pages read coincap_assets/coincap_asset_history/coincap_exchanges (like src/models/)",
  'src/server/overview-queries.ts': "the dashboard's hints print the commands that load its tables (coinlake --replay run coincap.assets…)",
};

/** Source folders of src/sources/. */
function sourceNames(): string[] {
  return readdirSync(path.join(SRC, 'sources'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && !SHARED_SOURCE_FOLDERS.has(e.name))
    .map((e) => e.name)
    .sort();
}

/** Non-test source files outside src/sources/<name>/ (relative, `/`-separated). */
function filesOutsideSources(dir = SRC): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(ROOT, full).split(path.sep).join('/');
    if (entry.isDirectory()) {
      const sourceFolder = /^src\/sources\/[^/]+$/.test(rel) && !SHARED_SOURCE_FOLDERS.has(entry.name);
      if (!sourceFolder) out.push(...filesOutsideSources(full));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(rel);
    }
  }
  return out.sort();
}

interface SourcePattern {
  name: string;
  pattern: RegExp;
  stringsOnly?: boolean;
}

/** The patterns naming each source: its folder name anywhere in a token (case-insensitive), or its alias. */
function sourcePatterns(names: string[]): SourcePattern[] {
  return names.map((name) => ({ name, ...(SOURCE_ALIASES[name] ?? { pattern: new RegExp(name, 'i') }) }));
}

interface Token {
  node: ts.Node;
  text: string;
  isString: boolean;
}

/** Every identifier, string literal and template text of a file (comments are not tokens). */
function tokensOf(sf: ts.SourceFile): Token[] {
  const tokens: Token[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) tokens.push({ node, text: node.text, isString: false });
    else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) tokens.push({ node, text: node.text, isString: true });
    else if (ts.isTemplateExpression(node)) {
      tokens.push({ node: node.head, text: node.head.text, isString: true });
      for (const span of node.templateSpans) tokens.push({ node: span.literal, text: span.literal.text, isString: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return tokens;
}

/** `file:line: <source> in <token>` for every token of the code that names a source. */
function sourceNamesInCode(rel: string, text: string, patterns: SourcePattern[]): string[] {
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Set<string>();
  for (const token of tokensOf(sf)) {
    for (const p of patterns) {
      if ((p.stringsOnly && !token.isString) || !p.pattern.test(token.text)) continue;
      const { line } = sf.getLineAndCharacterOfPosition(token.node.getStart(sf));
      const shown = token.text.length > 60 ? `${token.text.slice(0, 57)}...` : token.text;
      found.add(`${rel}:${line + 1}: ${p.name} in ${JSON.stringify(shown)}`);
    }
  }
  return [...found];
}

/** The same for a file of the repository (none when it no longer exists). */
function sourceNamesIn(rel: string, patterns: SourcePattern[]): string[] {
  if (!existsSync(path.join(ROOT, rel))) return [];
  return sourceNamesInCode(rel, readFileSync(path.join(ROOT, rel), 'utf8'), patterns);
}

describe('a source is known only in src/sources/<name>/', () => {
  const files = filesOutsideSources();
  const names = sourceNames();

  it('scans the core (sanity: the scan sees the files it must, and finds what it looks for)', () => {
    expect(names).toEqual(expect.arrayContaining(['binance', 'coincap', 'coinlore', 'cryptodatadownload', 'evm', 'rest']));
    expect(files).toContain('src/runner/job-builder.ts');
    expect(files).toContain('src/sources/registry.ts');
    expect(files.some((f) => /^src\/sources\/(binance|coincap)\//.test(f))).toBe(false);
    const patterns = sourcePatterns(names);
    const examples = [
      `const k = process.env.COINCAP_API_KEY;`,
      `import { BINANCE_URL } from './x.ts';`,
      `if (source.name === 'coinlore') f();`,
      'const u = `${base}/binance/api`;',
      `const s = 'rest';`,
      `importCddFiles();`,
      `new EvmChain();`,
    ];
    expect(examples.map((code) => sourceNamesInCode('probe.ts', code, patterns).length)).toEqual(examples.map(() => 1));
    // Not a source's name: "rest" inside other names or as a variable, a comment.
    expect(sourceNamesInCode('probe.ts', `// coincap\nconst { a, ...rest } = o; const restBaseUrl = 'the rest';`, patterns)).toEqual([]);
  });

  it('no source file outside src/sources/<name>/ names a source (except the registries, the demo, the models and the allow-list)', () => {
    const patterns = sourcePatterns(names);
    const offending = files.filter((f) => !namesSourcesByDesign(f) && !(f in ALLOWED_SOURCE_NAMES)).flatMap((f) => sourceNamesIn(f, patterns));
    expect(offending, `sources named outside src/sources/<name>/:\n${offending.join('\n')}`).toEqual([]);
  });

  it('every allow-listed file still names a source (take it off the list once it is cleaned)', () => {
    const patterns = sourcePatterns(names);
    const clean = Object.keys(ALLOWED_SOURCE_NAMES).filter((f) => sourceNamesIn(f, patterns).length === 0);
    expect(clean).toEqual([]);
  });
});

// The conformance suites (STYLE principle 3) exercise a plug-in's contract — a destination's Session and Dialect and
// the load/ write-mode semantics, a source's streams — never the runner: nothing under src/*/conformance/ imports
// src/runner/ or src/pipeline/.
describe('the conformance suites import no runner code', () => {
  /** `file:line: import of <target>` for every static or dynamic import of src/runner/ or src/pipeline/ in `text`. */
  function runnerImportsIn(rel: string, text = readFileSync(path.join(ROOT, rel), 'utf8')): string[] {
    const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const found: string[] = [];
    const check = (spec: ts.Node | undefined): void => {
      if (!spec || !ts.isStringLiteralLike(spec)) return;
      const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, rel)), spec.text)).split(path.sep).join('/');
      if (!/^src\/(runner|pipeline)(\/|$)/.test(target)) return;
      const { line } = sf.getLineAndCharacterOfPosition(spec.getStart(sf));
      found.push(`${rel}:${line + 1}: import of ${target}`);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) check(node.moduleSpecifier);
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) check(node.arguments[0]);
      ts.forEachChild(node, visit);
    };
    visit(sf);
    return found;
  }

  /** Every .ts file (tests included) under src/<folder>/conformance/. */
  function conformanceFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.ts')) out.push(path.relative(ROOT, full).split(path.sep).join('/'));
      }
    };
    for (const folder of readdirSync(SRC, { withFileTypes: true })) {
      const dir = path.join(SRC, folder.name, 'conformance');
      if (folder.isDirectory() && existsSync(dir)) walk(dir);
    }
    return out.sort();
  }

  it('no file under src/*/conformance/ imports from src/runner/ or src/pipeline/', () => {
    const files = conformanceFiles();
    expect(files).toEqual(expect.arrayContaining(['src/destinations/conformance/change-cases.ts', 'src/sources/conformance/source-cases.ts']));
    // The scan finds what it looks for: static, type-only, re-exported and dynamic imports; not other folders.
    const probe = 'src/destinations/conformance/probe.ts';
    const examples = [
      `import { a } from '../../runner/audit.ts';`,
      `import type { B } from '../../pipeline/pipeline.ts';`,
      `export { c } from '../../runner/state-store.ts';`,
      `const m = await import('../../pipeline/run-steps.ts');`,
    ];
    expect(examples.map((code) => runnerImportsIn(probe, code).length)).toEqual(examples.map(() => 1));
    expect(runnerImportsIn(probe, `import { d } from '../../load/write-modes.ts'; import { e } from './runner.ts';`)).toEqual([]);
    const offending = files.flatMap((f) => runnerImportsIn(f));
    expect(offending, `runner or pipeline code imported by a conformance suite:\n${offending.join('\n')}`).toEqual([]);
  });
});
