// The core's portable SQL (what DuckDB and PostgreSQL both take) in BigQuery's spelling, applied by the session to every
// statement it is given: `$n` parameters, "quoted" names, portable type names, `coinlake…` schemas as the location's
// datasets, the catalog's information_schema, and DDL keys BigQuery does not have. SQL already in BigQuery's spelling
// (the dialect's own: backticked names, BigQuery types, @pN) passes through unchanged.
import { datasetOf, type BigQueryLocation } from './bigquery-location.ts';

/** Portable type names → BigQuery's (whole words, outside literals and backticked names). */
const TYPES: [RegExp, string][] = [
  [/\bDOUBLE PRECISION\b/g, 'FLOAT64'],
  [/\bDOUBLE\b/g, 'FLOAT64'],
  [/\bTIMESTAMPTZ\b/g, 'TIMESTAMP'],
  [/\bVARCHAR\b/g, 'STRING'],
  [/\bBOOLEAN\b/g, 'BOOL'],
  [/\bBIGINT\b/g, 'INT64'],
  [/\bINTEGER\b/g, 'INT64'],
];

/** `fn` applied to the SQL outside single-quoted literals and backticked names. */
function outsideQuotes(sql: string, fn: (code: string) => string): string {
  return sql
    .split(/('(?:[^'\\]|\\.)*'|`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : fn(part)))
    .join('');
}

/**
 * The statement in BigQuery's spelling at `where`:
 * - `$n` → `@pn`, or `NULL` when `params[n - 1]` is null or undefined (an untyped NULL fits any column; a NULL
 *   parameter would need a type, and a STRING one does not go into an INT64 or FLOAT64 column);
 * - `"name"` → `` `name` `` (in BigQuery a double-quoted text is a string);
 * - VARCHAR, TIMESTAMPTZ, DOUBLE [PRECISION], BOOLEAN, BIGINT, INTEGER → STRING, TIMESTAMP, FLOAT64, BOOL, INT64;
 * - `coinlake.t`, `coinlake_meta.t` (any `coinlake…` schema) → `` `project.dataset.t` `` (datasetOf: a dataset in
 *   the URL takes the place of `coinlake`);
 * - `information_schema.columns` → the project's INFORMATION_SCHEMA.COLUMNS of the location's region (every dataset),
 *   and `current_database()` → the project (the catalog those views name);
 * - in CREATE TABLE, PRIMARY KEY and UNIQUE dropped (BigQuery enforces neither; coinlake never relies on them being
 *   enforced where a warehouse has no transactions), and ADD COLUMN made ADD COLUMN IF NOT EXISTS.
 */
export function bigQuerySpelling(sql: string, where: BigQueryLocation, params: readonly unknown[] = []): string {
  const region = `\`${where.projectId}\`.\`region-${where.location.toLowerCase()}\`.INFORMATION_SCHEMA.COLUMNS`;
  const ddl = /^\s*CREATE TABLE\b/i.test(sql);
  return outsideQuotes(sql, (code) => {
    const param = (n: string) => (params[Number(n) - 1] === null || params[Number(n) - 1] === undefined) && Number(n) <= params.length ? 'NULL' : `@p${n}`;
    let c = code.replace(/[$](\d+)|@p(\d+)\b/g, (_m, dollar: string | undefined, named: string | undefined) => param(dollar ?? named!));
    c = c.replace(/"([A-Za-z_][A-Za-z0-9_]*)"/g, '`$1`');
    c = c.replace(/(?<![\w.@])(coinlake(?:_[a-z0-9_]+)?)\.([A-Za-z_][A-Za-z0-9_]*)\b/g, (_m, schema: string, table: string) => `\`${where.projectId}.${datasetOf(where, schema)}.${table}\``);
    c = c.replace(/(?<![\w.])information_schema\.columns\b/gi, region);
    c = c.replace(/\bcurrent_database\(\)/gi, `'${where.projectId}'`);
    for (const [from, to] of TYPES) c = c.replace(from, to);
    c = c.replace(/\bADD COLUMN (?!IF NOT EXISTS\b)/g, 'ADD COLUMN IF NOT EXISTS ');
    if (ddl) {
      c = c.replace(/,\s*(?:PRIMARY KEY|UNIQUE) \([^)]*\)/g, '');
      c = c.replace(/ (?:PRIMARY KEY|UNIQUE)\b/g, '');
    }
    return c;
  });
}
