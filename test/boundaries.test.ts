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
  'src/server/serve-marker.ts': "duckdbPath: the serve marker sits beside the embedded warehouse file (server hand-over; another engineer's file)",
  'src/cli/warehouse-file.ts': "the DuckDB default file's name and its move from ./coinlake.duckdb (CLI; another engineer's area)",
  'src/cli/bigquery-command.ts': "the deprecated `coinlake bigquery load` alias opens a BigQuery session itself (BigQuery engineer's file)",
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
