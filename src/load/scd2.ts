// The `scd2` write mode: a table keeps every version of a key, each valid over [valid_from, valid_to), the open one
// marked is_current. Only a change in a non-volatile data column makes a new version; closed versions keep their
// values and lineage (the run that wrote the values), and get valid_to = the closing load's loadedAt.
import type { LoadResult, WriteMode } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import { LINEAGE_COLUMNS, type ColumnSpec, type TableSpec } from '../core/table.ts';
import { imageColumns, differsSql, keyMatchSql, recordDeletes, recordInserts, recordUpdates, type ChangeSource } from './change-events.ts';

/** The version columns an scd2 table carries after its data columns. */
export const SCD2_COLUMNS: readonly ColumnSpec[] = [
  { name: 'valid_from', type: 'timestamptz', nullable: false },
  { name: 'valid_to', type: 'timestamptz' },
  { name: 'is_current', type: 'boolean', nullable: false },
];

const SCD2_NAMES = new Set(SCD2_COLUMNS.map((c) => c.name));

/**
 * The table as the warehouse holds it under a write mode: for `scd2`, the data columns plus valid_from, valid_to and
 * is_current, keyed by the key plus valid_from; for every other mode, `t` itself. Give it to `ensureTable`; staging
 * and applyWriteMode keep using `t`.
 */
export function physicalTable(t: TableSpec, mode: WriteMode): TableSpec {
  if (mode !== 'scd2') return t;
  const clash = t.columns.filter((c) => SCD2_NAMES.has(c.name));
  if (clash.length === SCD2_NAMES.size) return t; // already physical
  if (clash.length > 0) {
    throw new ConfigError(`${t.schema}.${t.name} has a column named ${clash.map((c) => c.name).join(', ')}, which write mode scd2 reserves`, {
      hint: 'rename the column in the column details, or use another write mode',
    });
  }
  return { ...t, columns: [...t.columns, ...SCD2_COLUMNS], primaryKey: [...t.primaryKey, 'valid_from'] };
}

/**
 * Applies a de-duplicated, NULL-key-free staged batch as new versions (see applyWriteMode), inside the caller's
 * transaction. Counts: inserted = new keys, updated = keys given a new version, deleted = keys closed because
 * absent (only with `t.scd2.closeMissing`, and never by an empty batch). Change events as for merge.
 */
export async function applyScd2(src: ChangeSource): Promise<LoadResult> {
  const { s, t, target, staging, ctx } = src;
  const d = s.dialect;
  await s.ensureTable(physicalTable(t, 'scd2'));
  const current = `t.${d.ident('is_current')}`;
  const events: ChangeSource = { ...src, targetFilter: current };
  const { compared } = imageColumns(t);
  const close = `${d.ident('valid_to')} = CAST($1 AS TIMESTAMPTZ), ${d.ident('is_current')} = FALSE`;
  const keys = keyMatchSql(d, t, 't', 's');

  // Every event first: once versions are closed, a changed key would look new.
  const closeMissing = Boolean(t.scd2?.closeMissing) && (await s.query(`SELECT 1 AS one FROM ${staging} LIMIT 1`)).length > 0;
  await recordUpdates(events);
  if (closeMissing) await recordDeletes(events);
  await recordInserts(events);

  let updated = 0;
  if (compared.length > 0) {
    updated = await s.exec(d.updateFrom(target, close, staging, `${keys} AND ${current} AND (${differsSql(d, compared, 't', 's')})`), [ctx.loadedAt]);
  }
  let deleted = 0;
  if (closeMissing) {
    deleted = await s.exec(
      `UPDATE ${target} AS t SET ${close} WHERE ${current} AND NOT EXISTS (SELECT 1 FROM ${staging} AS s WHERE ${keys})`,
      [ctx.loadedAt],
    );
  }
  const columns = [...t.columns, ...LINEAGE_COLUMNS].map((c) => d.ident(c.name));
  const versioned = await s.exec(
    `INSERT INTO ${target} (${columns.join(', ')}, ${SCD2_COLUMNS.map((c) => d.ident(c.name)).join(', ')})
     SELECT ${columns.map((c) => `s.${c}`).join(', ')}, CAST($1 AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), TRUE
       FROM ${staging} AS s
      WHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${keys} AND ${current})`,
    [ctx.loadedAt],
  );
  return { inserted: versioned - updated, updated, deleted };
}
