// An executing back end for the BigQuery fake (test/helpers/bigquery-fake-api.ts): the statements and scripts the
// BigQuery destination sends are translated to DuckDB and run on an in-memory DuckDB, so the shared conformance cases
// and CLI runs check real rows and counts offline. It understands only the forms coinlake sends (backticked names,
// @pN parameters, DATE(x), SELECT * EXCEPT, MERGE, ALTER … ADD COLUMN lists, INFORMATION_SCHEMA.COLUMNS, the
// functions of the change events' JSON images, and scripts of DECLARE, SET, IF … THEN … END IF, RAISE, BEGIN/COMMIT
// TRANSACTION); it refuses spellings BigQuery refuses (notBigQuery) and NULL parameters; the rest goes to DuckDB as it
// is, and rows come back as DuckDB computes them. One job runs at a time. BigQuery itself is checked by
// test/bigquery-live.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { FakeAnswer, QueryConfiguration } from './bigquery-fake-api.ts';

type Params = NonNullable<QueryConfiguration['queryParameters']>;

/** Quote-aware replace: `fn` sees only the SQL outside single-quoted literals. */
function outsideLiterals(sql: string, fn: (code: string) => string): string {
  return sql
    .split(/('(?:[^'\\]|\\.)*')/)
    .map((part, i) => (i % 2 === 1 ? part : fn(part)))
    .join('');
}

const TYPES: [RegExp, string][] = [
  [/\bSTRING\b/g, 'VARCHAR'],
  [/\bFLOAT64\b/g, 'DOUBLE'],
  [/\bINT64\b/g, 'BIGINT'],
  [/\bBOOL\b/g, 'BOOLEAN'],
  [/\bBIGNUMERIC\(/g, 'DECIMAL('],
  [/\bNUMERIC\(/g, 'DECIMAL('],
  [/\bTIMESTAMP\b/g, 'TIMESTAMPTZ'],
];

/** One BigQuery statement as DuckDB SQL (possibly several statements, for ALTER … ADD COLUMN lists). */
export function toDuckdb(sql: string): string[] {
  let s = sql.trim().replace(/;$/, '').replace(/\s+OPTIONS \([^)]*\)$/, '');
  const info = /^SELECT column_name FROM `[^.`]+\.([^`]+)`\.INFORMATION_SCHEMA\.COLUMNS WHERE table_name = @p1$/.exec(s);
  if (info) return [`SELECT column_name FROM information_schema.columns WHERE table_schema = '${info[1]}' AND table_name = $1`];
  // FORMAT('%.<scale>f', x) renders a NUMERIC with its scale: DuckDB's decimal text. A FLOAT64 cast to STRING (the
  // double branch of the dialect's jsonValue) as BigQuery renders it.
  s = s.replace(/\bFORMAT\('%\.\d+f', ([^()]*)\)/g, 'CAST($1 AS STRING)');
  s = s.replace(/(WHEN IS_INF\(([^()]*)\) THEN '"-Infinity"' ELSE )CAST\(\2 AS STRING\)/g, '$1BQ_FLOAT64_STRING($2)');
  s = outsideLiterals(s, (code) => {
    // A region's INFORMATION_SCHEMA.COLUMNS (every dataset of the project): DuckDB's own.
    let c = code.replace(/`[^`.]+`\.`region-[a-z0-9-]+`\.INFORMATION_SCHEMA\.COLUMNS/g, 'information_schema.columns');
    c = c.replace(/`([^`]+)`/g, (_m, name: string) => {
      const parts = name.split('.');
      // `project.dataset.table` and `project.dataset`: DuckDB's schema is the dataset.
      return (parts.length > 1 ? parts.slice(1) : parts).map((p) => `"${p}"`).join('.');
    });
    c = c.replace(/@p(\d+)/g, '$$$1');
    c = c.replace(/\bCURRENT_TIMESTAMP\(\)/g, 'current_timestamp');
    c = c.replace(/\bCONCAT\(/g, 'BQ_CONCAT(');
    c = c.replace(/(?<![A-Za-z_])DATE\(([^()]*)\)/g, 'CAST($1 AS DATE)');
    c = c.replace(/SELECT \* EXCEPT \(/g, 'SELECT * EXCLUDE (');
    c = c.replace(/^MERGE (?!INTO)/, 'MERGE INTO ');
    c = c.replace(/^CREATE TEMP TABLE /, 'CREATE OR REPLACE TEMP TABLE ');
    c = c.replace(/\n(PARTITION|CLUSTER) BY [^\n]*/g, '');
    for (const [from, to] of TYPES) c = c.replace(from, to);
    return c;
  });
  const alter = /^ALTER TABLE (\S+) (ADD COLUMN IF NOT EXISTS [\s\S]*)$/.exec(s);
  if (alter) return alter[2].split(/, (?=ADD COLUMN)/).map((add) => `ALTER TABLE ${alter[1]} ${add}`);
  return [s];
}

/**
 * Spellings DuckDB takes and BigQuery refuses (or reads otherwise), outside literals and backticked names: a job that
 * holds one is refused as BigQuery would refuse it, so the fake is not lenient where the core's SQL reaches BigQuery.
 */
const NOT_BIGQUERY: [RegExp, string][] = [
  [/"[A-Za-z_][A-Za-z0-9_]*"/, 'a double-quoted name (a string in BigQuery)'],
  [/\bRETURNING\b/i, 'RETURNING'],
  [/\bON CONFLICT\b/i, 'ON CONFLICT'],
  [/::/, 'a :: cast'],
  [/\$\d/, 'a $n parameter'],
  [/\b(?:TIMESTAMPTZ|VARCHAR|DOUBLE PRECISION)\b/, 'a type BigQuery does not have'],
  [/\bnextval\(/i, 'nextval'],
  [/\bcurrent_database\(/i, 'current_database()'],
  [/(?<![\w.`])(?:coinlake(?:_[a-z0-9_]+)?|information_schema)\.[a-z_]/i, 'a schema-qualified name without its project'],
];

/** Why BigQuery would refuse `sql`, or undefined. */
export function notBigQuery(sql: string): string | undefined {
  const code = sql.split(/'(?:[^'\\]|\\.)*'|`[^`]*`/).join(' ');
  return NOT_BIGQUERY.find(([re]) => re.test(code))?.[1];
}

/** A parameter's value as DuckDB takes it. */
function paramValue(p: Params[number]): unknown {
  const v = p.parameterValue.value;
  if (v === undefined) return null;
  if (p.parameterType.type === 'INT64') return BigInt(v as string);
  if (p.parameterType.type === 'FLOAT64') return Number(v);
  if (p.parameterType.type === 'BOOL') return v === 'true';
  return v;
}

/** BigQuery's result type of a DuckDB column type. */
function bqField(name: string, type: string): { name: string; type: string; precision?: string; scale?: string } {
  const dec = /^DECIMAL\((\d+),(\d+)\)$/.exec(type);
  if (dec) return { name, type: Number(dec[1]) - Number(dec[2]) <= 29 && Number(dec[2]) <= 9 ? 'NUMERIC' : 'BIGNUMERIC', precision: dec[1], scale: dec[2] };
  if (type === 'TIMESTAMP WITH TIME ZONE' || type === 'TIMESTAMP') return { name, type: 'TIMESTAMP' };
  if (type === 'DOUBLE' || type === 'FLOAT') return { name, type: 'FLOAT' };
  if (/INT/.test(type)) return { name, type: 'INTEGER' };
  if (type === 'BOOLEAN') return { name, type: 'BOOLEAN' };
  if (type === 'DATE') return { name, type: 'DATE' };
  if (type === 'JSON') return { name, type: 'JSON' };
  return { name, type: 'STRING' };
}

/** A DuckDB value as BigQuery's JSON sends it (timestamps as µs since 1970, as the client asks). */
function bqValue(v: unknown, field: { type: string }): string | null {
  if (v === null || v === undefined) return null;
  if (field.type === 'TIMESTAMP') return String((v as { micros: bigint }).micros);
  return String(v);
}

/** An executing engine for the fake: query(sql, params) answers a query job, load(config, data) runs a load job. */
export interface BigQueryDuckdbEngine {
  query(sql: string, params: Params): Promise<FakeAnswer>;
  load(data: Buffer, load: Record<string, unknown>): Promise<number>;
  close(): Promise<void>;
}

export async function bigQueryDuckdbEngine(): Promise<BigQueryDuckdbEngine> {
  const instance = await DuckDBInstance.create(':memory:');
  const c: DuckDBConnection = await instance.connect();
  // The BigQuery functions coinlake's statements use, as DuckDB macros.
  // TO_JSON_STRING: JSON text with the \u00xx escapes of control characters in lower case (JSON.stringify's form).
  const json = 'CAST(to_json(x) AS VARCHAR)';
  let lower = `replace(${json}, '\\\\', chr(1))`;
  for (const code of ['0B', '0E', '0F', '1A', '1B', '1C', '1D', '1E', '1F']) lower = `replace(${lower}, '\\u00${code}', '\\u00${code.toLowerCase()}')`;
  await c.run(`CREATE MACRO TO_JSON_STRING(x) AS CASE WHEN strpos(${json}, '\\u00') = 0 THEN ${json} ELSE replace(${lower}, chr(1), '\\\\') END`);
  // CAST(FLOAT64 AS STRING): the shortest text that round-trips, with an exponent from 1e15 on (no ".0").
  const digits = `rtrim(replace(CAST(abs(x) AS VARCHAR), '.', ''), '0')`;
  const e15 = `(CASE WHEN x < 0 THEN '-' ELSE '' END) || substr(${digits}, 1, 1) || (CASE WHEN length(${digits}) > 1 THEN '.' || substr(${digits}, 2) ELSE '' END) || 'e+15'`;
  await c.run(`CREATE MACRO BQ_FLOAT64_STRING(x) AS CASE WHEN x <> trunc(x) AND abs(x) < 1e15 THEN CAST(x AS VARCHAR)
    WHEN abs(x) < 1e15 AND NOT (x = 0 AND signbit(x)) THEN CAST(CAST(x AS BIGINT) AS VARCHAR)
    WHEN abs(x) >= 1e15 AND abs(x) < 1e16 THEN ${e15}
    ELSE regexp_replace(CAST(x AS VARCHAR), '\\.0$', '') END`);
  // BigQuery's CONCAT is NULL when an argument is (DuckDB's concat skips NULLs); the dialect spells it in capitals.
  await c.run('CREATE MACRO BQ_CONCAT(a, b) AS a || b, (a, b, c) AS a || b || c');
  await c.run('CREATE MACRO IS_NAN(x) AS isnan(x)');
  await c.run('CREATE MACRO IS_INF(x) AS isinf(x)');
  await c.run("CREATE MACRO FORMAT_TIMESTAMP(f, x, tz) AS strftime(timezone(tz, x), replace(f, '%E6S', '%S.%f'))");
  await c.run('CREATE MACRO FORMAT_DATE(f, x) AS strftime(x, f)');
  await c.run('CREATE MACRO UNIX_MICROS(x) AS epoch_us(x)');
  await c.run('CREATE MACRO FARM_FINGERPRINT(x) AS CAST(hash(x) >> 1 AS BIGINT)');
  await c.run('CREATE MACRO GENERATE_UUID() AS CAST(gen_random_uuid() AS VARCHAR)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-bq-engine-'));
  let files = 0;
  // One job at a time, as a session sends them; the fake's HTTP server may otherwise interleave two.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function run(sql: string, params: unknown[] = []): Promise<{ rows: Record<string, string | null>[]; fields: ReturnType<typeof bqField>[]; changed: number }> {
    let out = { rows: [] as Record<string, string | null>[], fields: [] as ReturnType<typeof bqField>[], changed: 0 };
    for (const text of toDuckdb(sql)) {
      // DuckDB binds exactly the parameters a statement names: renumber the ones it uses 1…k.
      const numbers = [...new Set([...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
      const stmt = text.replace(/\$(\d+)/g, (_m, n: string) => `$${numbers.indexOf(Number(n)) + 1}`);
      const used = numbers.map((n) => params[n - 1]);
      const reader = await c.runAndReadAll(stmt, used as never);
      const names = reader.columnNames();
      const fields = names.map((n, i) => { const t = reader.columnTypes()[i]; return bqField(n, t.alias ?? t.toString()); });
      const rows = reader.getRows().map((r) => Object.fromEntries(r.map((v, i) => [names[i], bqValue(v, fields[i])])));
      out = { rows, fields, changed: Number(reader.rowsChanged ?? 0) };
    }
    return out;
  }

  async function script(sql: string, params: unknown[]): Promise<FakeAnswer> {
    const vars = new Map<string, number>();
    const lines = sql.split('\n');
    const active: boolean[] = [];
    let rowCount = 0;
    let inTransaction = false;
    const on = () => active.every(Boolean);
    const withVars = (expr: string) => expr.replace(/@@row_count/g, String(rowCount)).replace(/\b[a-z_]+\b/g, (w) => (vars.has(w) ? String(vars.get(w)) : w));
    let stmt = '';
    try {
      for (const line of lines) {
        const ifLine = /^IF (.*) THEN$/.exec(line);
        if (!stmt && ifLine) {
          active.push(on() && (await run(`SELECT (${ifLine[1]}) AS v`, params)).rows[0].v === 'true');
          continue;
        }
        if (!stmt && line === 'END IF;') {
          active.pop();
          continue;
        }
        stmt += (stmt ? '\n' : '') + line;
        if (!line.endsWith(';')) continue;
        const s = stmt.trim().replace(/;$/, '');
        stmt = '';
        if (!on()) continue;
        let m = /^DECLARE (.+) INT64 DEFAULT 0$/.exec(s);
        if (m) {
          for (const name of m[1].split(', ')) vars.set(name, 0);
          continue;
        }
        m = /^SET (\w+) = ([\s\S]+)$/.exec(s);
        if (m) {
          vars.set(m[1], Number((await run(`SELECT ${withVars(m[2])} AS v`, params)).rows[0].v));
          continue;
        }
        m = /^RAISE USING MESSAGE = ([\s\S]+)$/.exec(s);
        if (m) return { error: { code: 400, message: String((await run(`SELECT ${m[1]} AS v`, params)).rows[0].v) } };
        if (s === 'BEGIN TRANSACTION') {
          await c.run('BEGIN TRANSACTION');
          inTransaction = true;
          continue;
        }
        if (s === 'COMMIT TRANSACTION') {
          await c.run('COMMIT');
          inTransaction = false;
          continue;
        }
        m = /^SELECT ((?:[a-z_]+(?:, )?)+)$/.exec(s);
        if (m && m[1].split(', ').every((v) => vars.has(v))) {
          const names = m[1].split(', ');
          return { fields: names.map((name) => ({ name, type: 'INTEGER' })), rows: [Object.fromEntries(names.map((n) => [n, String(vars.get(n))]))] };
        }
        // Script variables in a statement (the change events' next id), outside literals and backticked names.
        const bound = s
          .split(/('(?:[^'\\]|\\.)*'|`[^`]*`)/)
          .map((part, i) => (i % 2 === 1 ? part : part.replace(/\b[a-z_]+\b/g, (w) => (vars.has(w) ? String(vars.get(w)) : w))))
          .join('');
        rowCount = (await run(bound, params)).changed;
      }
      return {}; // a script of statements only (Session.execAll)
    } catch (err) {
      if (inTransaction) await c.run('ROLLBACK');
      return { error: { code: 400, message: `fake BigQuery (DuckDB): ${String((err as Error).message ?? err)}` } };
    }
  }

  return {
    query: (sql, params) =>
      serial(async () => {
        // By name (p1, p2, …): a NULL is sent as a NULL literal, not as a parameter, so the list may have gaps.
        const values: unknown[] = [];
        for (const p of params) values[Number(p.name.slice(1)) - 1] = paramValue(p);
        // A NULL parameter carries a type that may not fit its column (a STRING into an INT64): coinlake sends NULLs
        // as NULL literals, so one here is refused.
        const untyped = params.find((p) => p.parameterValue.value === undefined);
        const refused = untyped ? `NULL parameter ${untyped.name}` : notBigQuery(sql);
        if (refused) return { error: { code: 400, message: `fake BigQuery: not BigQuery SQL (${refused}): ${sql.split('\n')[0]}` } };
        if (sql.startsWith('DECLARE ') || sql.includes(';\n')) return script(sql, values);
        try {
          const r = await run(sql, values);
          return { rows: r.rows, fields: r.fields, affected: r.changed };
        } catch (err) {
          return { error: { code: 400, message: `fake BigQuery (DuckDB): ${(err as Error).message}` } };
        }
      }),
    load: (data, load) =>
      serial(async () => {
        const dest = load.destinationTable as { datasetId: string; tableId: string };
        const table = `"${dest.datasetId}"."${dest.tableId}"`;
        const file = path.join(dir, `load-${++files}`);
        await writeFile(file, data);
        const append = load.writeDisposition === 'WRITE_APPEND';
        await c.run(`CREATE SCHEMA IF NOT EXISTS "${dest.datasetId}"`);
        if (load.sourceFormat === 'PARQUET') {
          await c.run(append ? `INSERT INTO ${table} SELECT * FROM read_parquet('${file}')` : `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_parquet('${file}')`);
          return Number((await c.runAndReadAll(`SELECT count(*) FROM read_parquet('${file}')`)).getRows()[0][0]);
        }
        const fields = (load.schema as { fields: { name: string; type: string; precision?: string; scale?: string }[] }).fields;
        const sqlType = (f: (typeof fields)[number]) =>
          f.type === 'NUMERIC' || f.type === 'BIGNUMERIC' ? `DECIMAL(${f.precision}, ${f.scale})` : ({ STRING: 'VARCHAR', FLOAT: 'DOUBLE', INTEGER: 'BIGINT', BOOLEAN: 'BOOLEAN', TIMESTAMP: 'TIMESTAMPTZ', DATE: 'DATE', JSON: 'JSON' } as Record<string, string>)[f.type];
        if (!append) await c.run(`CREATE OR REPLACE TABLE ${table} (${fields.map((f) => `"${f.name}" ${sqlType(f)}`).join(', ')})`);
        const lines = data.toString('utf8').split('\n').filter(Boolean);
        if (lines.length === 0) return 0;
        const columns = `{${fields.map((f) => `'${f.name}': '${f.type === 'FLOAT' ? 'VARCHAR' : sqlType(f)}'`).join(', ')}}`;
        // Doubles are read as text first: BigQuery's NDJSON takes "NaN" and "Infinity" strings for FLOAT columns.
        const select = fields.map((f) => (f.type === 'FLOAT' ? `CAST("${f.name}" AS DOUBLE)` : `"${f.name}"`)).join(', ');
        await c.run(`INSERT INTO ${table} SELECT ${select} FROM read_json('${file}', format = 'newline_delimited', columns = ${columns})`);
        return lines.length;
      }),
    async close() {
      c.closeSync();
      instance.closeSync();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
