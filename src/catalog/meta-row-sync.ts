// Keyed sync of wanted rows into one meta table without churn: new keys are inserted, changed rows updated, identical
// rows left alone (timestamps too), and unlisted rows deleted only where the caller says so.
import type { Session } from '../core/destination.ts';
import type { Row } from '../core/table.ts';

/** What a sync did to one table. */
export interface SyncCounts {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
}

/** One row as the file wants it: its key, its content (undefined = keep the table's value), values the file gives for audit columns. */
export interface WantedRow {
  key: Row;
  content: Row;
  given: Row;
  id?: number;
}

/** How one table is synced: its key, its id column, and the audit values set on insert and update. */
export interface TableSync {
  table: string;
  key: string[];
  idColumn?: string;
  /** Set on insert unless the file gives a value. */
  onInsert: Row;
  /** Set when content changes unless the file gives a value. */
  onUpdate: Row;
  /** Rows the file does not list that the sync deletes. */
  removeIf: (row: Row) => boolean;
}

/** The row without its undefined values. */
const defined = (r: Row): Row => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

function comparable(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return `date:${v.getTime()}`;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function changes(row: Row, want: Row): Row {
  return Object.fromEntries(Object.entries(want).filter(([k, v]) => comparable(row[k]) !== comparable(v)));
}

async function insertRow(s: Session, table: string, values: Row): Promise<void> {
  const cols = Object.keys(values);
  await s.exec(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => s.dialect.param(i + 1)).join(', ')})`, Object.values(values));
}

function where(s: Session, key: Row, from: number): { sql: string; params: unknown[] } {
  const cols = Object.keys(key);
  return { sql: cols.map((c, i) => `${c} = ${s.dialect.param(from + i)}`).join(' AND '), params: Object.values(key) };
}

/** Upserts wanted rows by key; rows whose key, content and given values already match are left alone. */
export async function syncRows(s: Session, spec: TableSync, wanted: WantedRow[]): Promise<SyncCounts> {
  const counts: SyncCounts = { added: 0, updated: 0, unchanged: 0, removed: 0 };
  const existing = await s.query<Row>(`SELECT * FROM ${spec.table}`);
  const keyOf = (r: Row) => JSON.stringify(spec.key.map((k) => r[k]));
  const byKey = new Map(existing.map((r) => [keyOf(r), r]));
  const ids = new Set(spec.idColumn ? existing.map((r) => Number(r[spec.idColumn!])) : []);
  let nextId = Math.max(0, ...ids) + 1;
  const seen = new Set<string>();
  for (const w of wanted) {
    const k = keyOf(w.key);
    seen.add(k);
    const row = byKey.get(k);
    if (!row) {
      const values: Row = { ...w.key, ...spec.onInsert, ...defined(w.content), ...defined(w.given) };
      if (spec.idColumn) {
        const id = w.id !== undefined && !ids.has(w.id) ? w.id : nextId;
        ids.add(id);
        nextId = Math.max(nextId, id + 1);
        values[spec.idColumn] = id;
      }
      await insertRow(s, spec.table, values);
      counts.added++;
      continue;
    }
    const content = changes(row, defined(w.content));
    const given = changes(row, defined(w.given));
    if (Object.keys(content).length === 0 && Object.keys(given).length === 0) {
      counts.unchanged++;
      continue;
    }
    const set: Row = { ...(Object.keys(content).length ? spec.onUpdate : {}), ...defined(w.given), ...content };
    const cols = Object.keys(set);
    const w2 = where(s, w.key, cols.length + 1);
    await s.exec(`UPDATE ${spec.table} SET ${cols.map((c, i) => `${c} = ${s.dialect.param(i + 1)}`).join(', ')} WHERE ${w2.sql}`, [...Object.values(set), ...w2.params]);
    counts.updated++;
  }
  for (const row of existing) {
    if (seen.has(keyOf(row)) || !spec.removeIf(row)) continue;
    const w2 = where(s, Object.fromEntries(spec.key.map((k) => [k, row[k]])), 1);
    await s.exec(`DELETE FROM ${spec.table} WHERE ${w2.sql}`, w2.params);
    counts.removed++;
  }
  return counts;
}
