// DuckDB types the records of landed JSON pages itself (read_json over the gzipped raw pages): the fast path of a
// batch, with no value passing through JavaScript. Only values whose typing is unambiguous take it — a string of
// plain digits for a double, an ISO-8601 UTC time, an epoch in ms … — and give exactly what normalize/cast.ts gives;
// every other record (another shape, a missing field, anything cast.ts would quarantine or reject) is deferred to the
// caller, who types it in JavaScript. So quarantine reasons, strict failures and drift reports stay those of cast.ts.
import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../../core/errors.ts';
import { STAGING_ORDINAL, type DeferredRecord, type JsonPageFile, type JsonStaging, type LoadContext } from '../../core/destination.ts';
import type { ColumnSpec, ColumnType, Row, TableSpec } from '../../core/table.ts';
import { decimalParts } from '../sql-types.ts';
import { appendInChunks, type ChunkColumn } from './duckdb-chunk-writer.ts';
import { duckdbDialect as d } from './duckdb-dialect.ts';

/** A SQL string literal (DuckDB strings have no backslash escapes). */
function lit(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `-12`, `3.25`, `1e-7`: the number texts JavaScript's Number() and DuckDB's cast read alike. */
const PLAIN_NUMBER = `'-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?'`;
const PLAIN_INTEGER = `'-?[0-9]{1,15}'`;
const PLAIN_DECIMAL = `'[+-]?[0-9]+(\\.[0-9]+)?'`;
/** UTC ISO-8601 with up to millisecond precision: JavaScript's Date and DuckDB read it to the same instant. */
const ISO_UTC = `'[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?Z'`;
const ISO_DATE = `'[0-9]{4}-[0-9]{2}-[0-9]{2}'`;

/**
 * SQL typing a JSON value into column type `type`, or NULL when the value does not take the fast path (a non-finite
 * double is let through here and refused by the caller). `j` is the value's JSON text (NULL for JSON null), `s` its
 * text when it is a JSON string without escapes, `n` its integer when it is a JSON number of up to 16 digits.
 */
function fastValue(type: ColumnType, j: string, s: string, n: string): string | undefined {
  switch (type) {
    case 'varchar':
      return s;
    case 'double':
      // A -0 is stored as 0, as cast.ts gives it (the INSERT's `stored` columns).
      return `(CASE WHEN ${s} IS NOT NULL THEN (CASE WHEN regexp_full_match(${s}, ${PLAIN_NUMBER}) THEN TRY_CAST(${s} AS DOUBLE) END)
                    WHEN regexp_full_match(${j}, ${PLAIN_NUMBER}) THEN TRY_CAST(${j} AS DOUBLE) END)`;
    case 'bigint':
    case 'integer': {
      const v = `(CASE WHEN ${s} IS NOT NULL THEN (CASE WHEN regexp_full_match(${s}, ${PLAIN_INTEGER}) THEN CAST(${s} AS BIGINT) END)
                       WHEN ${n} IS NOT NULL AND abs(${n}) < 1000000000000000 THEN ${n} END)`;
      return type === 'integer' ? `TRY_CAST((CASE WHEN abs(${v}) <= 2147483647 THEN ${v} END) AS INTEGER)` : v;
    }
    case 'boolean':
      return `(CASE WHEN ${j} IN ('true', '1', '"true"', '"1"') THEN TRUE WHEN ${j} IN ('false', '0', '"false"', '"0"') THEN FALSE END)`;
    case 'timestamptz':
      // Whole non-negative epochs: s, ms or µs by magnitude (core/time.ts epochToMs), all within the years 1970–5138.
      return `(CASE WHEN ${s} IS NOT NULL THEN (CASE WHEN regexp_full_match(${s}, ${ISO_UTC}) AND NOT starts_with(${s}, '0000') THEN TRY_CAST(${s} AS TIMESTAMPTZ) END)
                    WHEN ${n} >= 0 THEN make_timestamptz((CASE WHEN ${n} < 100000000000 THEN ${n} * 1000 WHEN ${n} < 100000000000000 THEN ${n} ELSE ${n} // 1000 END) * 1000) END)`;
    case 'date':
      return `(CASE WHEN regexp_full_match(${s}, ${ISO_DATE}) AND NOT starts_with(${s}, '0000') THEN TRY_CAST(${s} AS DATE) END)`;
    case 'json':
      return undefined;
  }
  const dec = decimalParts(type);
  if (!dec) return undefined;
  return `(CASE WHEN regexp_full_match(${s}, ${PLAIN_DECIMAL}) THEN TRY_CAST(${s} AS ${d.sqlType(type)}) END)`;
}

/** A constant of a derived column, as SQL of the column's type. */
function constant(value: string | number | boolean | null, c: ColumnSpec): string {
  if (value === null) return `CAST(NULL AS ${d.sqlType(c.type)})`;
  const text = typeof value === 'string' ? lit(value) : lit(String(value));
  return `CAST(${text} AS ${d.sqlType(c.type)})`;
}

/** The staging table of a batch, filled from landed JSON pages and from rows typed in JavaScript. */
export class DuckdbJsonStaging implements JsonStaging {
  rowCount = 0;
  private finished = false;

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly t: TableSpec,
    readonly name: string,
    /** Turns a row typed in JavaScript into appender values (the session's converters). */
    private readonly dataColumns: (rows: Row[]) => ChunkColumn[],
  ) {}

  /** Whether every column of `t` can be typed from JSON here (`json` columns cannot: their text is JavaScript's). */
  static supports(t: TableSpec): boolean {
    return t.columns.every((c) => c.derived || fastValue(c.type, 'j', 's', 'n') !== undefined);
  }

  /**
   * Creates the table: the table's columns, STAGING_ORDINAL, and a working column `_fast` (false for the placeholder
   * row of a deferred record, deleted at once; the column is dropped by finish()).
   */
  static async create(connection: DuckDBConnection, t: TableSpec, name: string, dataColumns: (rows: Row[]) => ChunkColumn[]): Promise<DuckdbJsonStaging> {
    const defs = [...t.columns.map((c) => `${d.ident(c.name)} ${d.sqlType(c.type)}`), `${d.ident(STAGING_ORDINAL)} BIGINT`, '_fast BOOLEAN'];
    await connection.run(`CREATE TEMP TABLE ${d.ident(name)} (${defs.join(', ')})`);
    return new DuckdbJsonStaging(connection, t, name, dataColumns);
  }

  async addPages(pages: JsonPageFile[]): Promise<{ deferred: DeferredRecord[]; unknownFields: string[] }> {
    if (pages.length === 0) return { deferred: [], unknownFields: [] };
    const layout = pages[0].layout;
    const envelope = Object.entries(layout.envelopeFields ?? {});
    for (const p of pages) {
      if (p.layout.recordsKey !== layout.recordsKey || JSON.stringify(p.layout.envelopeFields ?? {}) !== JSON.stringify(layout.envelopeFields ?? {})) {
        throw new InternalError('the pages of one addPages() call must share records key and envelope fields', { file: p.file });
      }
      for (const c of this.t.columns) {
        if (c.derived && !(p.layout.derived && c.name in p.layout.derived)) throw new InternalError(`page ${p.file} does not give derived column ${c.name}`, { file: p.file, field: c.name });
      }
    }
    const sourced = this.t.columns.filter((c) => !c.derived);
    /** Source fields the columns read; those set from the envelope are never missing from a record. */
    const known = [...new Set(sourced.map((c) => c.source ?? c.name))];
    const fromEnvelope = new Map(envelope);
    const recordKeys = known.filter((k) => !fromEnvelope.has(k));
    const tops = [...new Set(envelope.map(([, top]) => top))];
    // Pages whose records the caller saw are all of one shape (JsonPageFile.kinds) are read as a fixed STRUCT of text
    // fields — a third of the cost of reading each record as a MAP of JSON values and checking its keys.
    const kinds = pages[0].kinds;
    const structured = kinds !== undefined && known.every((f) => kinds[f] !== undefined) && pages.every((p) => p.kinds && known.every((f) => p.kinds![f] === kinds[f]));
    const recordType = structured ? `STRUCT(${recordKeys.map((k) => `${d.ident(k)} VARCHAR`).join(', ') || '"__none" VARCHAR'})[]` : 'MAP(VARCHAR, JSON)[]';
    const topSpec = `{${[[layout.recordsKey, recordType], ...tops.map((top) => [top, structured ? 'VARCHAR' : 'JSON'])].map(([k, type]) => `${lit(k)}: ${lit(type)}`).join(', ')}}`;
    const files = `[${pages.map((p) => lit(p.file)).join(', ')}]`;
    const pageRows = pages.map((p, i) => `(${lit(p.file)}, ${i}, ${p.firstOrdinal}, [${(p.layout.skipped ?? []).join(', ')}]::BIGINT[])`).join(', ');
    const anySkipped = pages.some((p) => (p.layout.skipped ?? []).length > 0);
    // Position among the page's records: the element's position minus the skipped elements before it.
    const position = anySkipped ? `(r.__idx - 1 - len(list_filter(p.__skipped, x -> x < r.__idx - 1)))` : '(r.__idx - 1)';
    const keep = anySkipped ? `WHERE NOT list_contains(p.__skipped, r.__idx - 1)` : '';
    const j = (field: string) => `__j${known.indexOf(field)}`;
    const jsonColumns = known.map((f) => `${fromEnvelope.has(f) ? `__env_${tops.indexOf(fromEnvelope.get(f)!)}` : `__rec[${lit(f)}]`} AS ${j(f)}`);
    const integral = new Set(sourced.filter((c) => ['bigint', 'integer', 'timestamptz'].includes(c.type)).map((c) => c.source ?? c.name));
    const integer = (text: string) => `CASE WHEN regexp_full_match(${text}, '-?[0-9]{1,16}') THEN CAST(${text} AS BIGINT) END`;
    /**
     * A field's value as fastValue reads it — `j` its JSON text, `s` its text when it is a string without escapes, `n`
     * its integer when it is a number of up to 16 digits — and `empty` (it is the string '', which is NULL). Read as a
     * MAP, each is worked out from the JSON text once per field (the helper columns); read as a STRUCT of text, the
     * field's kind says which it is.
     */
    const valueOf = (f: string): { j: string; s: string; n: string; empty: string } => {
      const v = j(f);
      if (!structured) return { j: v, s: `${v}_s`, n: `${v}_n`, empty: `${v} = '""'` };
      if (kinds![f] === 'string') return { j: `('"' || ${v} || '"')`, s: v, n: 'CAST(NULL AS BIGINT)', empty: `${v} = ''` };
      if (kinds![f] === 'number') return { j: v, s: 'CAST(NULL AS VARCHAR)', n: integral.has(f) ? integer(v) : 'CAST(NULL AS BIGINT)', empty: 'FALSE' };
      return { j: 'CAST(NULL AS VARCHAR)', s: 'CAST(NULL AS VARCHAR)', n: 'CAST(NULL AS BIGINT)', empty: 'FALSE' };
    };
    // Each field's text (a JSON string without escapes) and integer (a JSON number of up to 16 digits), once.
    const helpers = structured
      ? []
      : known.flatMap((f) => [
          `CASE WHEN starts_with(${j(f)}, '"') AND NOT contains(${j(f)}, '\\') THEN ${j(f)}[2:-2] END AS ${j(f)}_s`,
          `${integral.has(f) ? integer(j(f)) : 'CAST(NULL AS BIGINT)'} AS ${j(f)}_n`,
        ]);
    // A record takes the fast path when it has exactly the fields it should (a key repeated, missing or unknown sends
    // it to JavaScript, which also reports the drift; the caller checked that for structured pages) and each value is
    // null, '' or typed.
    const ok: string[] = structured ? [] : [`cardinality(__rec) = ${recordKeys.length}`, ...recordKeys.map((k) => `(${j(k)} IS NOT NULL OR map_contains(__rec, ${lit(k)}))`)];
    const typed: string[] = [];
    for (const c of this.t.columns) {
      const col = d.ident(c.name);
      if (c.derived) {
        const values = pages.map((p) => p.layout.derived![c.name]);
        typed.push(values.every((v) => v === values[0])
          ? `${constant(values[0], c)} AS ${col}`
          : `CASE __page ${values.map((v, i) => `WHEN ${i} THEN ${constant(v, c)}`).join(' ')} END AS ${col}`);
        continue;
      }
      const f = c.source ?? c.name;
      const v = valueOf(f);
      typed.push(`CASE WHEN ${v.empty} THEN NULL ELSE ${fastValue(c.type, v.j, v.s, v.n)} END AS ${col}`);
      ok.push(`(${j(f)} IS NULL OR ${v.empty} OR ${c.type === 'double' ? `isfinite(${col})` : `${col} IS NOT NULL`})`);
    }
    // A double column's -0 (a text like "-0.0") is stored as 0, as cast.ts gives it.
    const stored = this.t.columns.map((c) => (c.type === 'double' ? `CASE WHEN ${d.ident(c.name)} = 0 THEN 0.0 ELSE ${d.ident(c.name)} END` : d.ident(c.name))).join(', ');
    const first = Math.min(...pages.map((p) => p.firstOrdinal));
    const last = Math.max(...pages.map((p) => p.firstOrdinal + p.records - 1));
    const range = `${d.ident(STAGING_ORDINAL)} BETWEEN ${first} AND ${last}`;
    const table = d.ident(this.name);
    const fieldColumns = known.map(j).join(', ');
    const inserted = Number(
      (
        await this.connection.run(`
      INSERT INTO ${table}
      SELECT ${stored}, __ord, coalesce(${ok.length ? ok.join(' AND ') : 'TRUE'}, FALSE)
        FROM (SELECT ${typed.join(', ')}, __ord${structured ? '' : ', __rec'}${fieldColumns ? `, ${fieldColumns}` : ''}
                FROM (SELECT *${helpers.length ? `, ${helpers.join(', ')}` : ''}
                        FROM (SELECT p.__page, p.__first + ${position} AS __ord${structured ? '' : ', r.__rec'}${jsonColumns.length ? `, ${jsonColumns.join(', ')}` : ''}
                                FROM (SELECT filename AS __file, unnest(${d.ident(layout.recordsKey)}) AS __rec,
                                             generate_subscripts(${d.ident(layout.recordsKey)}, 1) AS __idx${tops.map((top, i) => `, ${d.ident(top)} AS __env_${i}`).join('')}
                                        FROM read_json(${files}, columns = ${topSpec}, filename = true, maximum_object_size = 2147483647)) AS r
                                JOIN (VALUES ${pageRows}) AS p(__file, __page, __first, __skipped) ON p.__file = r.__file
                                ${keep})))`)
      ).rowsChanged,
    );
    try {
      const expected = pages.reduce((n, p) => n + p.records, 0);
      if (inserted !== expected) throw new InternalError(`the pages hold ${inserted} records where their layout promises ${expected}`, { file: pages[0].file });
      const deferredOrdinals = (await this.connection.runAndReadAll(`SELECT ${d.ident(STAGING_ORDINAL)} FROM ${table} WHERE ${range} AND NOT _fast ORDER BY 1`)).getRowsJS();
      if (deferredOrdinals.length > 0) await this.connection.run(`DELETE FROM ${table} WHERE ${range} AND NOT _fast`);
      const byFirst = pages.map((p, i) => ({ page: i, first: p.firstOrdinal })).sort((a, b) => b.first - a.first);
      const deferred = deferredOrdinals.map(([ord]) => {
        const o = Number(ord);
        const p = byFirst.find((x) => x.first <= o)!;
        return { page: p.page, index: o - p.first };
      });
      // Every record also carries the envelope fields: those no column reads are unknown once one record took this path.
      const unknown = inserted > deferred.length ? envelope.map(([field]) => field).filter((f) => !known.includes(f)) : [];
      this.rowCount += inserted - deferred.length;
      return { deferred, unknownFields: unknown };
    } catch (err) {
      await this.connection.run(`DELETE FROM ${table} WHERE ${range}`);
      throw err;
    }
  }

  async addRows(rows: Row[], ordinals: number[]): Promise<void> {
    if (rows.length === 0) return;
    const columns: ChunkColumn[] = [...this.dataColumns(rows), { valueAt: (i) => BigInt(ordinals[i]) }, { valueAt: () => true }];
    const appender = await this.connection.createAppender(this.name, 'main', 'temp');
    try {
      appendInChunks(appender, columns, rows.length);
      appender.closeSync();
    } catch (err) {
      try {
        appender.clear();
        appender.closeSync();
      } catch {
        // The appender may already be unusable; the batch fails either way.
      }
      throw err;
    }
    this.rowCount += rows.length;
  }

  async finish(ctx: LoadContext): Promise<string> {
    if (this.finished) throw new InternalError(`staging ${this.name} is already finished`);
    this.finished = true;
    const table = d.ident(this.name);
    const loadedAt = new Date(ctx.loadedAt.getTime()).toISOString().replace('T', ' ').replace('Z', '+00');
    await this.connection.run(`ALTER TABLE ${table} DROP COLUMN _fast`);
    await this.connection.run(`ALTER TABLE ${table} ADD COLUMN _run_id VARCHAR DEFAULT ${lit(ctx.runId)}`);
    await this.connection.run(`ALTER TABLE ${table} ADD COLUMN _loaded_at TIMESTAMPTZ DEFAULT CAST(${lit(loadedAt)} AS TIMESTAMPTZ)`);
    return this.name;
  }

  async discard(): Promise<void> {
    await this.connection.run(`DROP TABLE IF EXISTS temp.main.${d.ident(this.name)}`);
  }
}
