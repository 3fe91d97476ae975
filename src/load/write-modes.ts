// The write modes from a staging table into its target, in standard SQL (INSERT … SELECT … WHERE NOT EXISTS, DELETE …
// WHERE NOT EXISTS, IS DISTINCT FROM, CAST(x AS DATE)); the joined UPDATE, which each engine spells its own way, comes
// from the dialect (Dialect.updateFrom). A warehouse without transactions gets one script from its dialect instead.
// merge and scd2 also write change events (change-events.ts) in the same transaction.
import {
  STAGING_ORDINAL,
  WRITE_MODES,
  type ChangeEventStatements,
  type Dialect,
  type LoadContext,
  type LoadResult,
  type Session,
  type WriteMode,
} from '../core/destination.ts';
import { ConfigError, TerminalError } from '../core/errors.ts';
import { LINEAGE_COLUMNS, type TableSpec } from '../core/table.ts';
import {
  changeEventParams,
  deleteEventsSql,
  insertEventsSql,
  recordDeletes,
  recordInserts,
  recordUpdates,
  updateEventsSql,
  type ChangeSource,
} from './change-events.ts';
import { applyScd2, physicalTable } from './scd2.ts';

/** Quotes a staging name as returned by `stage()`: a bare identifier or `schema.name`. */
function stagingRef(d: Dialect, staging: string): string {
  return staging
    .split('.')
    .map((part) => d.ident(part))
    .join('.');
}

/** The SQL pieces every mode shares. */
interface Parts {
  s: Session;
  t: TableSpec;
  target: string;
  staging: string;
  /** Data and lineage columns, quoted, in table order. */
  columns: string[];
  key: string[];
  ctx: LoadContext;
}

/**
 * Applies a staged batch to its table with the given write mode, inside one transaction (joining the caller's).
 *
 * - `replace`: deletes every row, inserts the batch.
 * - `append`: inserts the batch.
 * - `merge`: updates rows whose key matches and whose data differ (unchanged rows keep their lineage), inserts new keys;
 *   with `t.deleteMissing`, deletes the rows whose key is absent from a non-empty batch.
 * - `delete_insert`: deletes the rows whose UTC date of `partitionBy` occurs in the batch, inserts the batch.
 * - `scd2`: closes the current version of changed keys and inserts a new one (scd2.ts); the target must have the
 *   columns of `physicalTable(t, 'scd2')`, which this mode ensures.
 *
 * For replace, merge, delete_insert and scd2 a batch with repeated keys keeps the last row given to `stage()` per key.
 * Reapplying the same batch leaves the table as it was (except append). Lineage values come from the staging rows.
 * merge and scd2 write one coinlake_meta.change_event row per inserted, updated or deleted key (process, time: `ctx`),
 * so the meta tables must exist (ensureMetaTables).
 */
export async function applyWriteMode(
  s: Session,
  t: TableSpec,
  staging: string,
  mode: WriteMode,
  ctx: LoadContext,
): Promise<LoadResult> {
  checkWriteMode(t, mode);
  const d = s.dialect;
  if (s.capabilities.transactions === false) return applyScript(s, t, staging, mode, ctx);
  const parts: Parts = {
    s,
    t,
    target: d.table(t.schema, t.name),
    staging: stagingRef(d, staging),
    columns: [...t.columns, ...LINEAGE_COLUMNS].map((c) => d.ident(c.name)),
    key: t.primaryKey.map((k) => d.ident(k)),
    ctx,
  };
  switch (mode) {
    case 'append':
      return s.transaction(() => append(parts));
    case 'replace':
      return s.transaction(async () => {
        await dedupe(parts);
        return replace(parts);
      });
    case 'merge':
    case 'scd2':
      return s.transaction(async () => {
        await dedupe(parts);
        await refuseNullKeys(parts, mode);
        return mode === 'merge' ? merge(parts) : applyScd2(changeSource(parts));
      });
    case 'delete_insert':
      return s.transaction(async () => {
        await dedupe(parts);
        return deleteInsert(parts, d.ident(t.partitionBy!));
      });
  }
}

/**
 * What a write mode needs of the table, checked before anything is sent (on every warehouse, scripted or not): a
 * known mode, a primary key for merge and scd2, a partition column for delete_insert.
 */
function checkWriteMode(t: TableSpec, mode: WriteMode): void {
  if (!WRITE_MODES.includes(mode)) {
    throw new ConfigError(`unknown write mode "${String(mode)}"`, {
      hint: 'use replace, append, merge, delete_insert or scd2',
    });
  }
  if ((mode === 'merge' || mode === 'scd2') && t.primaryKey.length === 0) {
    throw new ConfigError(`write mode ${mode} needs a primary key on ${t.schema}.${t.name}`, {
      hint: 'set primary_key_column in the ingestion config, or use write mode append or replace',
    });
  }
  if (mode === 'delete_insert' && !t.partitionBy) {
    throw new ConfigError(`write mode delete_insert needs a partition column on ${t.schema}.${t.name}`, {
      hint: 'set partitioned_by in the ingestion config to a timestamp or date column',
    });
  }
}

/**
 * A warehouse without transactions across statements applies the whole mode as one atomic script of its dialect,
 * whose last statement returns the counts.
 */
async function applyScript(s: Session, t: TableSpec, staging: string, mode: WriteMode, ctx: LoadContext): Promise<LoadResult> {
  const d = s.dialect;
  if (!d.writeModeScript) {
    throw new ConfigError(`this warehouse has no transactions and its dialect writes no write-mode scripts: cannot load ${t.schema}.${t.name}`, {
      hint: 'a destination with capabilities.transactions false must implement Dialect.writeModeScript',
    });
  }
  if (mode === 'scd2') await s.ensureTable(physicalTable(t, 'scd2'));
  // The change events as every warehouse writes them, for the script to run over its batch before its writes.
  const events: ChangeEventStatements = {
    updates: (scope) => updateEventsSql({ d, t, ...scope }),
    inserts: (scope) => insertEventsSql({ d, t, ...scope }),
    deletes: (scope) => deleteEventsSql({ d, t, ...scope }),
    params: changeEventParams(t, ctx),
  };
  const script = d.writeModeScript(t, staging, mode, ctx, events);
  const [row] = await s.query<{ inserted: number; updated: number; deleted: number }>(script.sql, script.params);
  return { inserted: Number(row?.inserted ?? 0), updated: Number(row?.updated ?? 0), deleted: Number(row?.deleted ?? 0) };
}

/** INSERT INTO target (cols) SELECT cols FROM staging AS s [WHERE …]. */
function insertFromStaging(p: Parts, where = ''): Promise<number> {
  const cols = p.columns.join(', ');
  const selected = p.columns.map((c) => `s.${c}`).join(', ');
  return p.s.exec(`INSERT INTO ${p.target} (${cols}) SELECT ${selected} FROM ${p.staging} AS s${where ? ` WHERE ${where}` : ''}`);
}

/** `a.k1 = b.k1 AND a.k2 = b.k2`. */
function keyMatch(p: Parts, a: string, b: string): string {
  return p.key.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
}

/**
 * Keeps the last staged row per primary key. A cheap GROUP BY probe runs first because most batches have
 * no duplicates; only then does the window over the staging ordinal run.
 */
async function dedupe(p: Parts): Promise<void> {
  if (p.key.length === 0) return;
  const keys = p.key.join(', ');
  const dup = await p.s.query(`SELECT 1 AS dup FROM ${p.staging} GROUP BY ${keys} HAVING COUNT(*) > 1 LIMIT 1`);
  if (dup.length === 0) return;
  const ord = p.s.dialect.ident(STAGING_ORDINAL);
  await p.s.exec(
    `DELETE FROM ${p.staging} WHERE ${ord} IN (
       SELECT ${ord} FROM (
         SELECT ${ord}, ROW_NUMBER() OVER (PARTITION BY ${keys} ORDER BY ${ord} DESC) AS rn FROM ${p.staging}
       ) AS ranked WHERE rn > 1)`,
  );
}

async function append(p: Parts): Promise<LoadResult> {
  return { inserted: await insertFromStaging(p), updated: 0, deleted: 0 };
}

async function replace(p: Parts): Promise<LoadResult> {
  const deleted = await p.s.exec(`DELETE FROM ${p.target}`);
  const inserted = await insertFromStaging(p);
  return { inserted, updated: 0, deleted };
}

/**
 * Keys must be non-NULL for merge and scd2: a NULL never matches, so the row would be inserted again on every rerun.
 */
async function refuseNullKeys(p: Parts, mode: WriteMode): Promise<void> {
  const nullKey = p.key.map((k) => `${k} IS NULL`).join(' OR ');
  const [bad] = await p.s.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${p.staging} WHERE ${nullKey}`);
  if (Number(bad?.n ?? 0) > 0) {
    throw new TerminalError(
      `${bad.n} staged row(s) for ${p.t.schema}.${p.t.name} have a NULL in the primary key (${p.t.primaryKey.join(', ')}); ${mode} cannot match them`,
      { hint: 'fix the key mapping in the column details, or quarantine rows without a key' },
    );
  }
}

function changeSource(p: Parts): ChangeSource {
  return { s: p.s, t: p.t, target: p.target, staging: p.staging, ctx: p.ctx };
}

/**
 * Whether no staged key can be in the target yet, by a cheap and conservative probe: the target is empty, or — when
 * the partition column is part of the key — holds no row within the staged range of that column (a fresh range of a
 * time series, the common incremental load). Then merge skips every key-matching join against the target.
 */
async function keysAreNew(p: Parts): Promise<boolean> {
  const part = p.t.partitionBy;
  if (!part || !p.t.primaryKey.includes(part)) return (await p.s.query(`SELECT 1 AS hit FROM ${p.target} LIMIT 1`)).length === 0;
  const c = p.s.dialect.ident(part);
  const [range] = await p.s.query<{ lo: unknown; hi: unknown }>(`SELECT min(${c}) AS lo, max(${c}) AS hi FROM ${p.staging}`);
  if (range.lo === null || range.lo === undefined) return true;
  // Times come back as Dates (milliseconds): widen by one so microseconds cut off cannot hide a row.
  const widen = (v: unknown, ms: number) => (v instanceof Date ? new Date(v.getTime() + ms) : v);
  const hit = await p.s.query(`SELECT 1 AS hit FROM ${p.target} WHERE ${c} >= $1 AND ${c} <= $2 LIMIT 1`, [widen(range.lo, -1), widen(range.hi, 1)]);
  return hit.length === 0;
}

/**
 * Update changed rows, then insert new keys, then (deleteMissing) delete absent keys; each step's change events are
 * written just before it. Keys that cannot exist yet (keysAreNew) are inserted without matching them against the target.
 */
async function merge(p: Parts): Promise<LoadResult> {
  const events = changeSource(p);
  const keySet = new Set(p.key);
  const lineage = new Set(LINEAGE_COLUMNS.map((c) => p.s.dialect.ident(c.name)));
  const data = p.columns.filter((c) => !keySet.has(c) && !lineage.has(c));
  // Volatile columns (e.g. the response time of a snapshot) follow a change but do not make one.
  const volatile = new Set(p.t.columns.filter((c) => c.volatile).map((c) => p.s.dialect.ident(c.name)));
  const compared = data.filter((c) => !volatile.has(c));
  const fresh = await keysAreNew(p);
  let updated = 0;
  if (compared.length > 0 && !fresh) {
    const set = [...data, ...lineage].map((c) => `${c} = s.${c}`).join(', ');
    const changed = compared.map((c) => `t.${c} IS DISTINCT FROM s.${c}`).join(' OR ');
    await recordUpdates(events);
    updated = await p.s.exec(p.s.dialect.updateFrom(p.target, set, p.staging, `${keyMatch(p, 't', 's')} AND (${changed})`));
  }
  await recordInserts(events, { allNew: fresh });
  const inserted = await insertFromStaging(p, fresh ? '' : `NOT EXISTS (SELECT 1 FROM ${p.target} AS t WHERE ${keyMatch(p, 't', 's')})`);
  let deleted = 0;
  if (p.t.deleteMissing && (await p.s.query(`SELECT 1 AS one FROM ${p.staging} LIMIT 1`)).length > 0) {
    await recordDeletes(events);
    deleted = await p.s.exec(`DELETE FROM ${p.target} AS t WHERE NOT EXISTS (SELECT 1 FROM ${p.staging} AS s WHERE ${keyMatch(p, 't', 's')})`);
  }
  return { inserted, updated, deleted };
}

/**
 * Partitions are UTC dates (the session runs in UTC, so CAST(timestamptz AS DATE) is the UTC date).
 * Rows whose partition value is NULL form their own partition, so reruns replace them too.
 */
async function deleteInsert(p: Parts, column: string): Promise<LoadResult> {
  const deleted = await p.s.exec(
    `DELETE FROM ${p.target}
      WHERE CAST(${column} AS DATE) IN (SELECT DISTINCT CAST(s.${column} AS DATE) FROM ${p.staging} AS s WHERE s.${column} IS NOT NULL)
         OR (${column} IS NULL AND EXISTS (SELECT 1 FROM ${p.staging} AS s WHERE s.${column} IS NULL))`,
  );
  const inserted = await insertFromStaging(p);
  return { inserted, updated: 0, deleted };
}
