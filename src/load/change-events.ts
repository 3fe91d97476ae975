// Change events of `merge` and `scd2`: one coinlake_meta.change_event row per inserted, updated or deleted key, with
// before/after images and the changed columns as JSON text. Written set-based (INSERT … SELECT) inside the load's
// transaction, each just BEFORE the statement that changes the rows, so the before image is still there to read.
// Which operations write events is the table's `changeEvents` (all, changes: no inserts, none). The statements are
// also given as text (updateEventsSql, …) for a warehouse that applies a write mode as one script of its own.
import type { Dialect, LoadContext, Session } from '../core/destination.ts';
import type { ChangeEventsPolicy, ColumnSpec, ColumnType, TableSpec } from '../core/table.ts';
import { EVENT_ID_SEQ, META_SCHEMA } from '../catalog/meta-tables.ts';
import { ConfigError } from '../core/errors.ts';

/** The event table (created by ensureMetaTables). */
export const CHANGE_EVENT_TABLE = 'coinlake_meta.change_event';

/** What an event says happened to its key. */
export type ChangeOperation = 'insert' | 'update' | 'delete';

/** The events of one load as SQL: the target (alias `t`) and the staged batch (alias `s`), both quoted. */
export interface ChangeEventSql {
  d: Dialect;
  t: TableSpec;
  target: string;
  staging: string;
  /** Extra condition on the target rows that count (scd2: `t.is_current`). */
  targetFilter?: string;
  /**
   * Expression giving each event row its id; default the dialect's next value of event_id_seq. A warehouse without
   * sequences numbers the rows itself (BigQuery's scripts: a script variable plus ROW_NUMBER()).
   */
  eventId?: string;
}

/** Where the events of one load come from: the target (alias `t`) and the staged batch (alias `s`). */
export interface ChangeSource {
  s: Session;
  t: TableSpec;
  /** The target table, quoted. */
  target: string;
  /** The staging table, quoted. */
  staging: string;
  ctx: LoadContext;
  /** Extra condition on the target rows that count (scd2: `t.is_current`). */
  targetFilter?: string;
}

/**
 * The columns of a table's images: every data column (never lineage), the key, and the columns that make a change —
 * data columns outside the key that are not `volatile` (volatile ones ride along in images but never make a change).
 */
export function imageColumns(t: TableSpec): { image: ColumnSpec[]; key: ColumnSpec[]; compared: ColumnSpec[] } {
  const keys = new Set(t.primaryKey);
  const key = t.primaryKey.map((k) => {
    const c = t.columns.find((x) => x.name === k);
    if (!c) throw new ConfigError(`primary key column "${k}" is not a column of ${t.schema}.${t.name}`, {
      field: k,
      hint: `the primary key of ${t.name} must list its own columns: fix the table's definition (primaryKey, or primary_key in the catalog)`,
    });
    return c;
  });
  return { image: t.columns, key, compared: t.columns.filter((c) => !keys.has(c.name) && !c.volatile) };
}

/** Column `c` of alias `alias` as the dialect compares it (Dialect.comparable: BigQuery compares JSON by its text). */
function compared(d: Dialect, alias: string, c: { name: string; type: ColumnType }): string {
  const expr = `${alias}.${d.ident(c.name)}`;
  return d.comparable ? d.comparable(expr, c.type) : expr;
}

/** JSON array text of the columns whose values differ between aliases `a` and `b`, in table order, e.g. `["price"]`. */
export function changedColumnsSql(d: Dialect, columns: ColumnSpec[], a: string, b: string): string {
  if (columns.length === 0) return `'[]'`;
  const pieces = columns.map((c) => `COALESCE(CASE WHEN ${compared(d, a, c)} IS DISTINCT FROM ${compared(d, b, c)} THEN ',"${c.name}"' END, '')`);
  return `'[' || substr(${pieces.join(' || ')}, 2) || ']'`;
}

/** `a.c1 IS DISTINCT FROM b.c1 OR …`: the rows differ in a column that makes a change. */
export function differsSql(d: Dialect, columns: ColumnSpec[], a: string, b: string): string {
  return columns.map((c) => `${compared(d, a, c)} IS DISTINCT FROM ${compared(d, b, c)}`).join(' OR ');
}

/** `a.k1 = b.k1 AND …` over the table's key. */
export function keyMatchSql(d: Dialect, t: TableSpec, a: string, b: string): string {
  return t.primaryKey.map((k) => `${a}.${d.ident(k)} = ${b}.${d.ident(k)}`).join(' AND ');
}

/** Which events the table takes (TableSpec.changeEvents): `all` unless it says otherwise. */
function policy(src: { t: TableSpec }): ChangeEventsPolicy {
  return src.t.changeEvents ?? 'all';
}

/** The qualified name events and audit rows carry: `schema.table`. */
export function qualifiedName(t: TableSpec): string {
  return `${t.schema}.${t.name}`;
}

/** A SQL string literal of validated JSON text (column names are identifiers, so nothing needs escaping). */
function allColumnsLiteral(columns: ColumnSpec[]): string {
  return `'${JSON.stringify(columns.map((c) => c.name))}'`;
}

/** The event time of every event of a load: its loadedAt, bound as the third parameter (changeEventParams). */
const EVENT_TIME = 'CAST($3 AS TIMESTAMPTZ)';

/**
 * Each column of `alias` rendered to its JSON text once (Dialect.jsonValue), as `<alias>_j<i>` of a derived table:
 * the key and the full image share the rendering, which dominates the cost of writing a million events.
 */
function renderedColumns(d: Dialect, alias: string, columns: ColumnSpec[]): string[] {
  return columns.map((c, i) => `${d.jsonValue(`${alias}.${d.ident(c.name)}`, c.type)} AS ${alias}_j${i}`);
}

/** Arguments one concat() call takes at most (PostgreSQL allows 100); longer lists nest. */
const CONCAT_ARGS = 90;

/** concat(…) of text pieces that are never NULL: one call instead of a chain of `||`, which copies at every step. */
function concatSql(pieces: string[]): string {
  if (pieces.length <= CONCAT_ARGS) return `concat(${pieces.join(', ')})`;
  const groups: string[] = [];
  for (let i = 0; i < pieces.length; i += CONCAT_ARGS) groups.push(concatSql(pieces.slice(i, i + CONCAT_ARGS)));
  return concatSql(groups);
}

/** `{"a":<alias>_j0,"b":<alias>_j1}` as SQL, over the rendered columns of `image`, for `columns` ⊆ image. */
function objectOfRendered(alias: string, image: ColumnSpec[], columns: ColumnSpec[]): string {
  if (columns.length === 0) return `'{}'`;
  const pieces = columns.flatMap((c, i) => [`'${i === 0 ? '{' : ','}"${c.name}":'`, `${alias}_j${image.indexOf(c)}`]);
  return concatSql([...pieces, `'}'`]);
}

/** The parameters of the event statements: $1 the load's process id, $2 the table (`schema.name`), $3 its loadedAt. */
export function changeEventParams(t: TableSpec, ctx: LoadContext): unknown[] {
  return [ctx.processId, qualifiedName(t), ctx.loadedAt];
}

/** INSERT … SELECT of events; `select` gives primary_key, operation, before, after, changed_columns, event_time, then `FROM …`. */
function insertEvents(src: ChangeEventSql, select: string): string {
  return `INSERT INTO ${CHANGE_EVENT_TABLE} (event_id, process_id, table_name, primary_key, operation, "before", "after", changed_columns, event_time)
     SELECT ${src.eventId ?? src.d.nextId(META_SCHEMA, EVENT_ID_SEQ)}, CAST($1 AS BIGINT), CAST($2 AS VARCHAR), ${select}`;
}

/** Runs an event statement of `src` (none when the table's policy writes no such events). */
function record(src: ChangeSource, build: (sql: ChangeEventSql) => string | undefined): Promise<number> {
  const sql = build({ d: src.s.dialect, t: src.t, target: src.target, staging: src.staging, targetFilter: src.targetFilter });
  return sql ? src.s.exec(sql, changeEventParams(src.t, src.ctx)) : Promise.resolve(0);
}

/**
 * The statement writing 'update' events for target rows whose key is staged with different values in a column that
 * makes a change (parameters: changeEventParams), or undefined when the table takes none. Run it before the UPDATE
 * (or the scd2 close) that applies them.
 */
export function updateEventsSql(src: ChangeEventSql): string | undefined {
  if (policy(src) === 'none') return undefined;
  const d = src.d;
  const { image, key, compared: changing } = imageColumns(src.t);
  if (changing.length === 0) return undefined;
  const filter = src.targetFilter ? `${src.targetFilter} AND ` : '';
  return insertEvents(
    src,
    `${objectOfRendered('s', image, key)}, 'update', ${objectOfRendered('t', image, image)}, ${objectOfRendered('s', image, image)},
       changed, ${EVENT_TIME}
       FROM (SELECT ${[...renderedColumns(d, 's', image), ...renderedColumns(d, 't', image)].join(', ')},
                    ${changedColumnsSql(d, changing, 't', 's')} AS changed
               FROM ${src.target} AS t JOIN ${src.staging} AS s ON ${keyMatchSql(d, src.t, 't', 's')}
              WHERE ${filter}(${differsSql(d, changing, 't', 's')})) AS j`,
  );
}

/**
 * The statement writing 'insert' events for staged keys the target lacks (changed_columns: every column that can make
 * a change, with the key), or undefined when the table takes none. Run it before the INSERT. With `allNew` (the caller
 * knows no staged key is in the target) the anti-join is skipped.
 */
export function insertEventsSql(src: ChangeEventSql, opts: { allNew?: boolean } = {}): string | undefined {
  if (policy(src) !== 'all') return undefined;
  const d = src.d;
  const { image, key, compared: changing } = imageColumns(src.t);
  const filter = src.targetFilter ? ` AND ${src.targetFilter}` : '';
  const where = opts.allNew ? '' : `WHERE NOT EXISTS (SELECT 1 FROM ${src.target} AS t WHERE ${keyMatchSql(d, src.t, 't', 's')}${filter})`;
  return insertEvents(
    src,
    `${objectOfRendered('s', image, key)}, 'insert', NULL, ${objectOfRendered('s', image, image)}, ${allColumnsLiteral([...key, ...changing])}, ${EVENT_TIME}
       FROM (SELECT ${renderedColumns(d, 's', image).join(', ')} FROM ${src.staging} AS s ${where}) AS j`,
  );
}

/**
 * The statement writing 'delete' events for target keys absent from the batch (merge with deleteMissing, scd2 with
 * closeMissing; changed_columns: every column that can make a change, with the key), or undefined when the table takes
 * none. Run it before the DELETE (or close).
 */
export function deleteEventsSql(src: ChangeEventSql): string | undefined {
  if (policy(src) === 'none') return undefined;
  const d = src.d;
  const { image, key, compared: changing } = imageColumns(src.t);
  const filter = src.targetFilter ? `${src.targetFilter} AND ` : '';
  return insertEvents(
    src,
    `${objectOfRendered('t', image, key)}, 'delete', ${objectOfRendered('t', image, image)}, NULL, ${allColumnsLiteral([...key, ...changing])}, ${EVENT_TIME}
       FROM (SELECT ${renderedColumns(d, 't', image).join(', ')} FROM ${src.target} AS t
              WHERE ${filter}NOT EXISTS (SELECT 1 FROM ${src.staging} AS s WHERE ${keyMatchSql(d, src.t, 't', 's')})) AS j`,
  );
}

/** Writes the 'update' events of `src` (updateEventsSql); call before the UPDATE. Returns the number of events. */
export function recordUpdates(src: ChangeSource): Promise<number> {
  return record(src, updateEventsSql);
}

/** Writes the 'insert' events of `src` (insertEventsSql); call before the INSERT. Returns the number of events. */
export function recordInserts(src: ChangeSource, opts: { allNew?: boolean } = {}): Promise<number> {
  return record(src, (sql) => insertEventsSql(sql, opts));
}

/** Writes the 'delete' events of `src` (deleteEventsSql); call before the DELETE or close. Returns the number of events. */
export function recordDeletes(src: ChangeSource): Promise<number> {
  return record(src, deleteEventsSql);
}
