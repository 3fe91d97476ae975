// BigQuery's dialect: identifiers in backticks, tables as `project.dataset.table`, named parameters @p1…, ids from
// the clock (no sequences), and each write mode as one script with its change events (bigquery-write-modes.ts).
import type { ChangeEventStatements, Dialect, LoadContext, WriteMode, WriteModeScript } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import { assertIdentifier, type ColumnType, type TableSpec } from '../../core/table.ts';
import { decimalParts } from '../sql-types.ts';
import { datasetOf, type BigQueryLocation } from './bigquery-location.ts';
import { bigQueryTable, bigQueryType, bq } from './bigquery-sql.ts';
import { bigQuerySpelling } from './bigquery-spelling.ts';
import { writeModeScript } from './bigquery-write-modes.ts';

/** The dialect of one BigQuery location (table names carry its project and datasets). */
export class BigQueryDialect implements Dialect {
  constructor(readonly where: BigQueryLocation) {}

  ident(name: string): string {
    return bq(name);
  }

  table(schema: string, name: string): string {
    return bigQueryTable({ projectId: this.where.projectId, datasetId: datasetOf(this.where, schema), tableId: name });
  }

  /** A staging table as stage() names it (`dataset.table`), quoted with the project. */
  staging(staging: string): string {
    const [datasetId, tableId, ...rest] = staging.split('.');
    if (!tableId || rest.length) throw new ConfigError(`"${staging}" is not a BigQuery staging table (dataset.table)`);
    return bigQueryTable({ projectId: this.where.projectId, datasetId, tableId });
  }

  sqlType(type: string): string {
    return bigQueryType(type);
  }

  param(i: number): string {
    return `@p${i}`;
  }

  rowToJson(alias: string, columns: string[]): string {
    assertIdentifier(alias, 'alias');
    return `TO_JSON_STRING(STRUCT(${columns.map((c) => `${alias}.${bq(c)} AS ${bq(c)}`).join(', ')}))`;
  }

  jsonValue(expr: string, type: ColumnType): string {
    const quoted = (text: string) => `CONCAT('"', ${text}, '"')`;
    const dec = decimalParts(type);
    let text: string;
    if (dec) text = quoted(`FORMAT('%.${dec.scale}f', ${expr})`);
    else if (type === 'double') {
      text = `CASE WHEN IS_NAN(${expr}) THEN '"NaN"' WHEN IS_INF(${expr}) AND ${expr} > 0 THEN '"Infinity"' WHEN IS_INF(${expr}) THEN '"-Infinity"' ELSE CAST(${expr} AS STRING) END`;
    } else if (type === 'bigint' || type === 'integer') text = `CAST(${expr} AS STRING)`;
    else if (type === 'boolean') text = `CASE WHEN ${expr} THEN 'true' WHEN NOT ${expr} THEN 'false' END`;
    else if (type === 'timestamptz') text = quoted(`FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', ${expr}, 'UTC')`);
    else if (type === 'date') text = quoted(`FORMAT_DATE('%Y-%m-%d', ${expr})`);
    else text = `TO_JSON_STRING(${expr})`;
    return `COALESCE(${text}, 'null')`;
  }

  /** JSON values are not comparable in BigQuery: their JSON text is. */
  comparable(expr: string, type: ColumnType): string {
    return type === 'json' ? `TO_JSON_STRING(${expr})` : expr;
  }

  /** BigQuery's UPDATE … FROM (the target aliased t, joined to s). */
  updateFrom(target: string, set: string, from: string, where: string): string {
    return `UPDATE ${target} AS t SET ${set} FROM ${from} AS s WHERE ${where}`;
  }

  /** BigQuery has no sequences: ids come from nextId's clock, so there is nothing to create (a statement that does nothing). */
  createSequence(schema: string, name: string): string {
    assertIdentifier(schema, 'schema');
    assertIdentifier(name, 'sequence');
    return 'SELECT 1 AS no_sequence_needed';
  }

  /**
   * An id from the clock: microseconds since 1970 — increasing from one statement to the next, a safe JavaScript
   * integer until the year 2255, the same for every row of a statement, so for one-row inserts (run ids). Change
   * events number their rows from it (bigquery-change-events.ts).
   */
  nextId(schema: string, name: string): string {
    assertIdentifier(schema, 'schema');
    assertIdentifier(name, 'sequence');
    return 'UNIX_MICROS(CURRENT_TIMESTAMP())';
  }

  /** The write mode as one script (bigquery-write-modes.ts); the load's time and process come with `events`' parameters. */
  writeModeScript(t: TableSpec, staging: string, mode: WriteMode, _ctx: LoadContext, events: ChangeEventStatements): WriteModeScript {
    return writeModeScript(this, events, (sql) => bigQuerySpelling(sql, this.where), this.table(t.schema, t.name), this.staging(staging), t, mode);
  }
}
