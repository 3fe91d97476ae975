// Each write mode as one BigQuery script: BigQuery has no transaction across separate jobs, so de-duplication, the
// NULL-key check, the change events, the writes (MERGE for merge and scd2, DELETE … WHERE for replace and
// delete_insert) and the counts run in one job, the events and writes inside BEGIN/COMMIT TRANSACTION. The script's
// last statement returns the counts.
import { STAGING_ORDINAL, type ChangeEventScope, type ChangeEventStatements, type Dialect, type WriteMode, type WriteModeScript } from '../../core/destination.ts';
import { LINEAGE_COLUMNS, type TableSpec } from '../../core/table.ts';
import { bq } from './bigquery-sql.ts';

/** The de-duplicated batch: a script-scoped temporary table. */
const BATCH = '_batch';

const SCD2_VERSION = ['valid_from', 'valid_to', 'is_current'];

/** The event statements' id: a script variable drawn from the clock, plus the row's number (no sequences here). */
const EVENT_ID = 'next_event_id';

/**
 * The change events of merge and scd2 as script statements, in BigQuery's spelling (`spell`): the core's statements
 * (the same as on DuckDB and PostgreSQL) over the de-duplicated batch, each followed by moving the id on.
 */
function eventStatements(events: ChangeEventStatements, spell: (sql: string) => string, target: string, scd2: boolean, closeMissing: boolean): string[] {
  const scope: ChangeEventScope = { target, staging: BATCH, eventId: `${EVENT_ID} + ROW_NUMBER() OVER ()`, ...(scd2 ? { targetFilter: `t.${bq('is_current')}` } : {}) };
  const statements = [events.updates(scope), ...(closeMissing ? [events.deletes(scope)] : []), events.inserts(scope)].filter((x): x is string => x !== undefined);
  if (statements.length === 0) return [];
  return [`SET ${EVENT_ID} = UNIX_MICROS(CURRENT_TIMESTAMP());`, ...statements.flatMap((sql) => [`${spell(sql)};`, `SET ${EVENT_ID} = ${EVENT_ID} + @@row_count;`])];
}

/**
 * The script applying `mode` from the staging table `staging` (quoted) into `target` (quoted). merge and scd2 take
 * the events' parameters (`@p1` process id, `@p2` table, `@p3` load time, also scd2's valid_from / valid_to) and run
 * the core's change-event statements (`events`) just before the MERGE, in the same transaction. Semantics as
 * load/write-modes.ts: the last staged row per key wins (by STAGING_ORDINAL), merge never touches unchanged rows,
 * reruns change nothing. applyWriteMode has checked what the mode needs of the table (a primary key, a partition
 * column). `spell` puts the core's event statements in BigQuery's spelling (bigquery-spelling.ts).
 */
export function writeModeScript(
  d: Dialect,
  events: ChangeEventStatements,
  spell: (sql: string) => string,
  target: string,
  staging: string,
  t: TableSpec,
  mode: WriteMode,
): WriteModeScript {
  const key = t.primaryKey.map(bq);
  const columns = [...t.columns, ...LINEAGE_COLUMNS].map((c) => bq(c.name));
  const colList = columns.join(', ');
  const match = key.map((k) => `t.${k} = s.${k}`).join(' AND ');
  const keys = new Set(t.primaryKey);
  const lineage = LINEAGE_COLUMNS.map((c) => c.name);
  const data = t.columns.filter((c) => !keys.has(c.name) && !SCD2_VERSION.includes(c.name));
  // Volatile columns (a snapshot's response time) follow a change but never make one. JSON values are compared by
  // their JSON text (Dialect.comparable).
  const side = (alias: string, c: (typeof data)[number]) => (d.comparable ? d.comparable(`${alias}.${bq(c.name)}`, c.type) : `${alias}.${bq(c.name)}`);
  const changed = data
    .filter((c) => !c.volatile)
    .map((c) => `${side('t', c)} IS DISTINCT FROM ${side('s', c)}`)
    .join(' OR ');
  const insert = (where = '') => `INSERT INTO ${target} (${colList})\nSELECT ${columns.map((c) => `s.${c}`).join(', ')} FROM ${BATCH} AS s${where ? `\nWHERE ${where}` : ''};`;
  const withEvents = mode === 'merge' || mode === 'scd2';
  const head = ['DECLARE inserted, updated, deleted INT64 DEFAULT 0;', ...(withEvents ? [`DECLARE ${EVENT_ID} INT64 DEFAULT 0;`] : [])];
  const batch = key.length
    ? `CREATE TEMP TABLE ${BATCH} AS\nSELECT * EXCEPT (${bq(STAGING_ORDINAL)}) FROM ${staging}\nWHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key.join(', ')} ORDER BY ${bq(STAGING_ORDINAL)} DESC) = 1;`
    : `CREATE TEMP TABLE ${BATCH} AS\nSELECT * EXCEPT (${bq(STAGING_ORDINAL)}) FROM ${staging};`;
  const counts = 'SELECT inserted, updated, deleted;';
  const transaction = (body: string[]) => ['BEGIN TRANSACTION;', ...body, 'COMMIT TRANSACTION;'];
  // An empty batch changes nothing (and never deletes or closes everything with deleteMissing / closeMissing).
  const whenBatch = (body: string[]) => [`IF EXISTS (SELECT 1 FROM ${BATCH}) THEN`, ...body, 'END IF;'];
  const name = `${t.schema}.${t.name}`;
  // A NULL never matches, so the row would be inserted again on every rerun.
  const nullKeys = () => [
    `IF EXISTS (SELECT 1 FROM ${BATCH} WHERE ${key.map((k) => `${k} IS NULL`).join(' OR ')}) THEN`,
    `  RAISE USING MESSAGE = CONCAT(CAST((SELECT COUNT(*) FROM ${BATCH} WHERE ${key.map((k) => `${k} IS NULL`).join(' OR ')}) AS STRING), ' staged row(s) for ${name} have a NULL in the primary key (${t.primaryKey.join(', ')}); ${mode} cannot match them');`,
    'END IF;',
  ];
  const script = (lines: string[], params: unknown[] = []): WriteModeScript => ({ sql: [...head, batch, ...lines, counts].join('\n'), params });

  switch (mode) {
    case 'append':
      return script([insert(), 'SET inserted = @@row_count;']);
    case 'replace':
      return script(transaction([`DELETE FROM ${target} WHERE TRUE;`, 'SET deleted = @@row_count;', insert(), 'SET inserted = @@row_count;']));
    case 'delete_insert': {
      const p = bq(t.partitionBy!);
      return script(
        transaction([
          `DELETE FROM ${target} AS t\nWHERE DATE(t.${p}) IN (SELECT DISTINCT DATE(s.${p}) FROM ${BATCH} AS s WHERE s.${p} IS NOT NULL)\n   OR (t.${p} IS NULL AND EXISTS (SELECT 1 FROM ${BATCH} AS s WHERE s.${p} IS NULL));`,
          'SET deleted = @@row_count;',
          insert(),
          'SET inserted = @@row_count;',
        ]),
      );
    }
    case 'merge': {
      const set = [...data.map((c) => c.name), ...lineage].map((c) => `${bq(c)} = s.${bq(c)}`).join(', ');
      const body = [
        ...(changed ? [`SET updated = (SELECT COUNT(*) FROM ${target} AS t JOIN ${BATCH} AS s ON ${match} WHERE ${changed});`] : []),
        `SET inserted = (SELECT COUNT(*) FROM ${BATCH} AS s WHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${match}));`,
        ...(t.deleteMissing ? [`SET deleted = (SELECT COUNT(*) FROM ${target} AS t WHERE NOT EXISTS (SELECT 1 FROM ${BATCH} AS s WHERE ${match}));`] : []),
        ...eventStatements(events, spell, target, false, Boolean(t.deleteMissing)),
        [
          `MERGE ${target} AS t`,
          `USING ${BATCH} AS s`,
          `ON ${match}`,
          ...(changed ? [`WHEN MATCHED AND (${changed}) THEN`, `  UPDATE SET ${set}`] : []),
          'WHEN NOT MATCHED THEN',
          `  INSERT (${colList}) VALUES (${columns.map((c) => `s.${c}`).join(', ')})`,
          ...(t.deleteMissing ? ['WHEN NOT MATCHED BY SOURCE THEN', '  DELETE'] : []),
        ].join('\n') + ';',
      ];
      return script([...nullKeys(), ...transaction(whenBatch(body))], events.params);
    }
    case 'scd2': {
      const current = `t.${bq('is_current')}`;
      const close = `${bq('valid_to')} = @p3, ${bq('is_current')} = FALSE`;
      const closeMissing = Boolean(t.scd2?.closeMissing);
      const closing = [
        ...(changed ? [`WHEN MATCHED AND (${changed}) THEN`, `  UPDATE SET ${close}`] : []),
        ...(closeMissing ? [`WHEN NOT MATCHED BY SOURCE AND ${current} THEN`, `  UPDATE SET ${close}`] : []),
      ];
      const version = SCD2_VERSION.map(bq).join(', ');
      const body = [
        ...(changed ? [`SET updated = (SELECT COUNT(*) FROM ${target} AS t JOIN ${BATCH} AS s ON ${match} WHERE ${current} AND (${changed}));`] : []),
        ...(closeMissing ? [`SET deleted = (SELECT COUNT(*) FROM ${target} AS t WHERE ${current} AND NOT EXISTS (SELECT 1 FROM ${BATCH} AS s WHERE ${match}));`] : []),
        // Every event first: once versions are closed, a changed key would look new.
        ...eventStatements(events, spell, target, true, closeMissing),
        ...(closing.length ? [[`MERGE ${target} AS t`, `USING ${BATCH} AS s`, `ON ${match} AND ${current}`, ...closing].join('\n') + ';'] : []),
        `INSERT INTO ${target} (${colList}, ${version})\nSELECT ${columns.map((c) => `s.${c}`).join(', ')}, @p3, CAST(NULL AS TIMESTAMP), TRUE FROM ${BATCH} AS s\nWHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${match} AND ${current});`,
        'SET inserted = @@row_count - updated;',
      ];
      return script([...nullKeys(), ...transaction(whenBatch(body))], events.params);
    }
  }
}
