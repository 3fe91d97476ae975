// Config files: which one applies (-p, else ./config.ini, else ./coinlake.yaml, else the built-in catalog), and
// how each form reads — YAML with settings and the catalog, or INI with the classic [COMMON] merge rules.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ini from 'ini';
import YAML from 'yaml';
import { type z } from 'zod';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { catalogFileSchema, LOG_LEVELS, type Catalog, type CatalogFile, type LogLevelName } from './catalog-schema.ts';

/** Files looked for in the working directory when -p is not given, in this order. */
export const DEFAULT_CONFIG_FILES = ['config.ini', 'coinlake.yaml'];

/** The built-in catalog (the five classic CoinCap jobs), shipped beside this file. */
export const BUILTIN_CATALOG_URL = new URL('./builtin-catalog.yaml', import.meta.url);
export const BUILTIN_LABEL = 'the built-in catalog';

/** INI keys, in the order a missing-keys error lists them. */
export const INI_REQUIRED_KEYS = ['warehouse', 'lake'] as const;
export const INI_OPTIONAL_KEYS = ['log_level', 'connection_url'] as const;
const INI_KEYS: readonly string[] = [...INI_REQUIRED_KEYS, ...INI_OPTIONAL_KEYS];
export const COMMON_SECTION = 'COMMON';

/** Settings a config file gives (paths already resolved against the file's directory). */
export interface ConfigSettings {
  warehouse?: string;
  lake?: string;
  logLevel?: LogLevelName;
  /** INI only: overrides the URL of the selected connection. */
  connectionUrl?: string;
}

/** The config a command works with. */
export interface LoadedConfig {
  /** Absolute path of the file, absent for the built-in catalog alone. */
  file?: string;
  format: 'yaml' | 'ini' | 'builtin';
  settings: ConfigSettings;
  catalog: Catalog;
  /** Where the catalog came from: the file's name, or "the built-in catalog". */
  catalogOrigin: string;
}

/** The file name as messages show it: relative to the working directory when inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The config file to use: `explicit` (which must exist), else the first default file present, else undefined. */
function findConfigFile(explicit?: string, cwd = process.cwd()): string | undefined {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError(`config file ${explicit} not found`, { file: explicit, hint: 'check the path given with -p' });
    return file;
  }
  return DEFAULT_CONFIG_FILES.map((f) => path.resolve(cwd, f)).find((f) => existsSync(f));
}

/**
 * Loads the config a command uses. `section` is the connection selected with -s: for an INI file it picks the
 * section merged with [COMMON]. An INI file, or a YAML file without `connections`/`ingestions`, uses the built-in catalog.
 */
export async function loadConfig(opts: { file?: string; section?: string; cwd?: string } = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const file = findConfigFile(opts.file, cwd);
  if (!file) return { format: 'builtin', settings: {}, catalog: await loadBuiltinCatalog(), catalogOrigin: BUILTIN_LABEL };
  const label = displayPath(file, cwd);
  const text = await readFile(file, 'utf8');
  const dir = path.dirname(file);
  if (isIni(file, text)) {
    const settings = resolvePaths(parseIniSettings(text, label, opts.section), dir);
    return { file, format: 'ini', settings, catalog: await loadBuiltinCatalog(), catalogOrigin: BUILTIN_LABEL };
  }
  const parsed = parseCatalogText(text, label);
  const settings = resolvePaths({ warehouse: parsed.warehouse, lake: parsed.lake, logLevel: parsed.log_level }, dir);
  if (!parsed.connections && !parsed.ingestions) {
    return { file, format: 'yaml', settings, catalog: await loadBuiltinCatalog(), catalogOrigin: BUILTIN_LABEL };
  }
  return { file, format: 'yaml', settings, catalog: catalogOf(parsed), catalogOrigin: label };
}

/** The built-in catalog: the five classic CoinCap jobs with their column details. */
export async function loadBuiltinCatalog(): Promise<Catalog> {
  return catalogOf(parseCatalogText(await readFile(BUILTIN_CATALOG_URL, 'utf8'), 'builtin-catalog.yaml'));
}

/** Reads a catalog file (YAML or JSON) that must hold connections and ingestions (`catalog import`, `validate FILE`). */
export async function readCatalogFile(file: string, cwd = process.cwd()): Promise<Catalog> {
  const abs = path.resolve(cwd, file);
  if (!existsSync(abs)) throw new ConfigError(`catalog file ${file} not found`, { file });
  const parsed = parseCatalogText(await readFile(abs, 'utf8'), displayPath(abs, cwd));
  // A file of identity: alone (pins, forbids, exchange aliases) changes only those rows.
  if (parsed.identity && !parsed.connections && !parsed.ingestions) return { ...catalogOf(parsed), identityOnly: true };
  if (!parsed.connections || !parsed.ingestions) {
    throw new ConfigError(`${displayPath(abs, cwd)}: expected top-level keys connections and ingestions (or identity alone)`, { file });
  }
  return catalogOf(parsed);
}

/** The catalog part of a parsed file (empty lists where absent). */
export function catalogOf(f: CatalogFile): Catalog {
  return { connections: f.connections ?? [], ingestions: f.ingestions ?? [], ...(f.identity ? { identity: f.identity } : {}) };
}

/** Parses YAML text against the catalog schema; errors name the file and each key with the expected form. */
export function parseCatalogText(text: string, label: string): CatalogFile {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${label}: not valid YAML: ${errorMessage(err).split('\n')[0]}`, { file: label });
  }
  return parseCatalogObject(doc ?? {}, label);
}

/** Validates an already parsed object (YAML document, or rows read back from the meta tables). */
export function parseCatalogObject(doc: unknown, label: string): CatalogFile {
  const r = catalogFileSchema.safeParse(doc);
  if (r.success) return r.data;
  throw new ConfigError(formatIssues(label, r.error, doc), { file: label });
}

/** `file: ingestions[2] (EXTERNAL_X).load_type: expected one of FULL, INCR, got "FOOL"`, one line per issue. */
function formatIssues(label: string, error: z.ZodError, doc: unknown): string {
  return error.issues
    .map((issue) => {
      let at = '';
      let node: unknown = doc;
      for (const key of issue.path) {
        node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
        at += typeof key === 'number' ? `[${key}]` : `${at ? '.' : ''}${String(key)}`;
        const name = node && typeof node === 'object' && !Array.isArray(node) ? ((node as Record<string, unknown>).asset ?? (node as Record<string, unknown>).name) : undefined;
        if (typeof key === 'number' && typeof name === 'string') at += ` (${name})`;
      }
      const message = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
      return `${label}: ${at ? at + ': ' : ''}${message}`;
    })
    .join('\n');
}

function isIni(file: string, text: string): boolean {
  const ext = path.extname(file).toLowerCase();
  if (['.ini', '.cfg', '.conf'].includes(ext)) return true;
  if (['.yaml', '.yml', '.json'].includes(ext)) return false;
  return /^\s*\[[A-Za-z_][A-Za-z0-9_]*\]\s*$/m.test(text.split('\n').find((l) => l.trim() && !/^\s*[;#]/.test(l)) ?? '');
}

/** Relative warehouse/lake paths are relative to the config file; URLs (postgres://…) stay as they are. */
function resolvePaths(s: ConfigSettings, dir: string): ConfigSettings {
  const resolve = (v: string | undefined) => (v === undefined || /^[A-Za-z][A-Za-z0-9+.-]+:/.test(v) ? v : path.resolve(dir, v));
  const out: ConfigSettings = { ...s, warehouse: resolve(s.warehouse), lake: resolve(s.lake) };
  for (const k of Object.keys(out) as (keyof ConfigSettings)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * The classic merge: [COMMON] is merged into the selected section, and the section's value wins unless it is
 * empty. Returns the merged key/values (values trimmed; booleans and numbers as text).
 */
export function mergeCommon(common: Record<string, string>, selected: Record<string, string>): Record<string, string> {
  const out = { ...common };
  for (const [k, v] of Object.entries(selected)) if (v !== '' || !(k in out)) out[k] = v;
  return out;
}

/**
 * Settings from INI text for one section (or [COMMON] alone when no section is selected). Every problem is a
 * ConfigError naming the file and section; missing required keys are listed together in one error.
 */
export function parseIniSettings(text: string, label: string, section?: string): ConfigSettings {
  const doc = ini.parse(text) as Record<string, unknown>;
  const sections: Record<string, Record<string, string>> = {};
  for (const [name, value] of Object.entries(doc)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(`${label}: key "${name}" is outside any section; expected it under [${COMMON_SECTION}] or a connection's section`, { file: label });
    }
    const entries: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== null && typeof v === 'object') throw new ConfigError(`${label}: section [${name}.${k}]: expected a section name without dots`, { file: label });
      entries[k] = String(v ?? '').trim();
    }
    sections[name] = entries;
  }
  const common = sections[COMMON_SECTION] ?? {};
  const name = section ?? COMMON_SECTION;
  if (section && !sections[section]) {
    throw new ConfigError(`${label}: no section [${section}]`, { file: label, hint: `sections: ${Object.keys(sections).map((s) => `[${s}]`).join(', ') || 'none'}; add [${section}] (it may be empty: [${COMMON_SECTION}] is merged into it)` });
  }
  for (const [sec, entries] of Object.entries(sections)) {
    for (const k of Object.keys(entries)) {
      if (!INI_KEYS.includes(k)) throw new ConfigError(`${label}: [${sec}] ${k}: unknown key; expected one of ${INI_KEYS.join(', ')}`, { file: label, field: k });
    }
  }
  const merged = section ? mergeCommon(common, sections[section]) : common;
  const missing = INI_REQUIRED_KEYS.filter((k) => !merged[k]);
  if (missing.length) {
    throw new ConfigError(`${label}: [${name}] is missing required keys: ${missing.join(', ')}`, {
      file: label,
      hint: section
        ? `set them in [${section}] or in [${COMMON_SECTION}] (an empty value in [${section}] falls back to [${COMMON_SECTION}])`
        : `set them in [${COMMON_SECTION}]`,
    });
  }
  const level = merged.log_level || undefined;
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`${label}: [${name}] log_level: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`, { file: label, field: 'log_level' });
  }
  const url = merged.connection_url || undefined;
  if (url !== undefined && !/^https?:\/\/\S+$/.test(url)) {
    throw new ConfigError(`${label}: [${name}] connection_url: expected an http(s) URL, got "${url}"`, { file: label, field: 'connection_url' });
  }
  return { warehouse: merged.warehouse, lake: merged.lake, logLevel: level as LogLevelName | undefined, connectionUrl: url };
}
