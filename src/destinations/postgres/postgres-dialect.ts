// PostgreSQL's SQL flavour for the shared write-mode SQL: quoting, logical → SQL types, placeholders, row → JSON.
// Types stay within what Redshift also understands where that costs nothing (VARCHAR, NUMERIC, DOUBLE PRECISION).
import type { Dialect } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import { decimalParts, quoteIdent, sqlTypeMapper } from '../sql-types.ts';
import { assertIdentifier, type ColumnType } from '../../core/table.ts';
import { postgresAdvisoryLocks } from './postgres-advisory-locks.ts';

const SIMPLE_TYPES: Record<string, string> = {
  varchar: 'VARCHAR',
  double: 'DOUBLE PRECISION',
  bigint: 'BIGINT',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  timestamptz: 'TIMESTAMPTZ',
  date: 'DATE',
  // JSONB, not JSON: `json` has no equality operator, and merge compares columns with IS DISTINCT FROM.
  json: 'JSONB',
};

/** PostgreSQL caps function arguments at 100, so jsonb_build_object takes at most 50 key/value pairs per call. */
const PAIRS_PER_CALL = 50;

/** The PostgreSQL dialect; identifiers are validated and double-quoted, parameters are `$1…`. */
export const postgresDialect: Dialect = {
  ident: quoteIdent,
  table(schema: string, name: string): string {
    return `${postgresDialect.ident(schema)}.${postgresDialect.ident(name)}`;
  },
  sqlType: sqlTypeMapper(SIMPLE_TYPES, 'NUMERIC'),
  param(i: number): string {
    return `$${i}`;
  },
  /** A JSONB object of the row's columns (calls joined with `||` beyond 50 columns). */
  rowToJson(alias: string, columns: string[]): string {
    const a = postgresDialect.ident(alias);
    const pairs = columns.map((c) => `'${assertIdentifier(c)}', ${a}.${postgresDialect.ident(c)}`);
    if (pairs.length === 0) return `'{}'::jsonb`;
    const calls: string[] = [];
    for (let i = 0; i < pairs.length; i += PAIRS_PER_CALL) {
      calls.push(`jsonb_build_object(${pairs.slice(i, i + PAIRS_PER_CALL).join(', ')})`);
    }
    return calls.length === 1 ? calls[0] : `(${calls.join(' || ')})`;
  },
  /** UPDATE … FROM: the matched target rows, aliased t, joined to s. */
  updateFrom(target: string, set: string, from: string, where: string): string {
    return `UPDATE ${target} AS t SET ${set} FROM ${from} AS s WHERE ${where}`;
  },
  createSequence(schema: string, name: string): string {
    return `CREATE SEQUENCE IF NOT EXISTS ${postgresDialect.table(schema, name)} START 1`;
  },
  nextId(schema: string, name: string): string {
    return `nextval('${assertIdentifier(schema)}.${assertIdentifier(name)}')`;
  },
  jsonValue(expr: string, type: ColumnType): string {
    return `COALESCE(${pgJsonText(expr, type)}, 'null')`;
  },
  advisoryLocks: postgresAdvisoryLocks,
  /** Range partitions (`ohlcv_1m_p202412`, the DEFAULT one) from pg_catalog. */
  partitionTablesSql(schemaCount: number): string {
    const schemas = Array.from({ length: schemaCount }, (_, i) => `$${i + 1}`).join(', ');
    return `SELECT n.nspname AS schema_name, c.relname AS table_name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relispartition AND n.nspname IN (${schemas})`;
  },
};

/** PostgreSQL's JSON text of a value (see Dialect.jsonValue); NULL for NULL. float8 text is already shortest round-trip. */
function pgJsonText(x: string, type: ColumnType): string {
  if (decimalParts(type)) return `'"' || CAST(${x} AS TEXT) || '"'`;
  switch (type) {
    case 'varchar':
      return `CAST(to_json(CAST(${x} AS TEXT)) AS TEXT)`;
    case 'double':
      return `CASE WHEN ${x} = CAST('NaN' AS DOUBLE PRECISION) THEN '"NaN"' WHEN ${x} = CAST('Infinity' AS DOUBLE PRECISION) THEN '"Infinity"'
        WHEN ${x} = CAST('-Infinity' AS DOUBLE PRECISION) THEN '"-Infinity"' ELSE CAST(${x} AS TEXT) END`;
    case 'bigint':
    case 'integer':
      return `CAST(${x} AS TEXT)`;
    case 'boolean':
      return `CASE WHEN ${x} THEN 'true' WHEN NOT ${x} THEN 'false' END`;
    case 'timestamptz':
      return `'"' || to_char(${x} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'`;
    case 'date':
      return `'"' || to_char(${x}, 'YYYY-MM-DD') || '"'`;
    case 'json':
      return `CAST(${x} AS TEXT)`;
  }
  throw new ConfigError(`unknown column type "${type}"`);
}
