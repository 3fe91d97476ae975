// Landing a CryptoDataDownload file in a warehouse that reads CSV, writes Parquet and settles appended rows itself
// (DuckDB): one read of the CSV straight into the table, inside the file's transaction; no row passes through JS.
// Malformed lines are skipped by that read and counted as the data lines it did not parse; rows that are not candles
// are counted by a sequence as the read skips them; only the first MAX_ENTRIES lines of each kind set aside are looked
// at one by one.
import { randomBytes } from 'node:crypto';
import type { AppendedSeries } from '../../core/append-merge.ts';
import type { Session } from '../../core/destination.ts';
import { ConfigError } from '../../core/errors.ts';
import type { FileLandContext, ImportLanding } from '../../core/file-format.ts';
import type { CuratedFile } from '../../lake/curated-writer.ts';
import type { QuarantineEntry } from '../../lake/local-lake.ts';
import { CANDLE_COLUMNS, mergeOptions } from './cdd-candle-rule.ts';
import { exportLoaded } from './cdd-curated-export.ts';
import type { CddPlanned } from './cdd-plan.ts';
import { countDataLines } from './cdd-line-scan.ts';
import { MAX_ENTRIES, invalidEntries, rejectsOf, type InvalidRow } from './cdd-quarantine.ts';
import { candleSelectSql, normalizedSql, readCsvSql, sqlText } from './cdd-sql.ts';
import { stepTimer } from './cdd-step-timer.ts';

/** The session's settling of rows it appended itself (Session.describeAppended / mergeAppended); landInWarehouse needs it. */
function appendMerge(s: Session): Required<Pick<Session, 'describeAppended' | 'mergeAppended'>> {
  const { describeAppended, mergeAppended } = s;
  if (!describeAppended || !mergeAppended) throw new ConfigError('this warehouse cannot settle rows it appended itself (Session.mergeAppended)', { hint: 'CDD files land in the warehouse only where it reads CSV, writes Parquet and merges appended rows itself' });
  return { describeAppended: describeAppended.bind(s), mergeAppended: mergeAppended.bind(s) };
}

/**
 * The landing of `p` in the warehouse itself: one read loads the candles, skips the malformed lines and counts the
 * rows that are not candles (Dialect.nextId of a sequence made for the file, called for those rows only); the first
 * MAX_ENTRIES of each kind are then set aside with their reasons. When the rows are a fresh range (no other row in their series' time ranges, no key repeated — a
 * first import) nothing needs settling; the transaction commits and the curated Parquet is written from the committed
 * rows, one range scan per lake partition. Otherwise the Parquet of the rows as landed is written inside the
 * transaction, and mergeAppended settles them against the rows already there.
 */
export function landInWarehouse(p: CddPlanned, { scope, load: ctx, stem }: FileLandContext): ImportLanding {
  const s = scope.session;
  const t = p.table;
  const step = stepTimer(scope.log, p.layout.file);
  const curated: CuratedFile[] = [];
  const batch = { runId: ctx.runId, loadedAt: ctx.loadedAt };
  let exportAfterCommit: AppendedSeries[] | undefined;
  // The file's data lines, counted (in this process, while the warehouse reads the file) once for every round.
  let dataLines: Promise<number> | undefined;
  return {
    curated,
    async load() {
      exportAfterCommit = undefined;
      if (!dataLines) {
        dataLines = countDataLines(p.layout.file, p.layout.headerLine);
        dataLines.catch(() => undefined);
      }
      const normalized = normalizedSql(p.layout, p.interval, readCsvSql(s.dialect, p.layout), Date.now());
      const columns = [...CANDLE_COLUMNS, '_run_id', '_loaded_at'].map((c) => s.dialect.ident(c)).join(', ');
      // Made and dropped inside the file's transaction (a failure rolls it back with the rows).
      const counter = `cdd_not_candles_${randomBytes(4).toString('hex')}`;
      await s.exec(s.dialect.createSequence(t.schema, counter));
      const appended = await s.exec(
        `INSERT INTO ${s.dialect.table(t.schema, t.name)} (${columns})
         SELECT ${candleSelectSql(sqlText(p.exchange))}, ${sqlText(ctx.runId)}, TIMESTAMPTZ ${sqlText(ctx.loadedAt.toISOString())}
           FROM (${normalized}) WHERE CASE WHEN ok THEN TRUE ELSE ${s.dialect.nextId(t.schema, counter)} < 0 END`,
      );
      // The sequence starts at 1: its next value less one is how many times the read took one.
      const [{ n }] = await s.query<{ n: number }>(`SELECT ${s.dialect.nextId(t.schema, counter)} - 1 AS n`);
      await s.exec(`DROP SEQUENCE ${s.dialect.table(t.schema, counter)}`);
      const invalid = Number(n);
      step('read the file into the table');
      let quarantine: QuarantineEntry[] = [];
      if (invalid > 0) {
        // The LIMIT stops the read once it has the rows kept, near the file's start, where the lines are looked for.
        const bad = `(${normalizedSql(p.layout, p.interval, readCsvSql(s.dialect, p.layout), Date.now())}) WHERE NOT ok`;
        const rows = await s.query<InvalidRow>(
          `SELECT unix, symbol, open, high, low, close, volume_base, volume_quote, tradecount, reason FROM ${bad} LIMIT ${MAX_ENTRIES}`,
        );
        quarantine = await invalidEntries(t.name, p, rows);
        step('set aside the rows that are not candles');
      }

      const rejected = await rejectsOf(s, t.name, p, await dataLines, appended + invalid);
      if (rejected.lines > 0) step('set aside the lines that do not parse');
      const shape = await appendMerge(s).describeAppended(t, batch, mergeOptions(p));
      step('describe the rows');
      if (shape.repeatedKeys || shape.overlap > 0) {
        curated.push(...(await exportLoaded(s, scope.lake, t, { ...batch, series: shape.series }, stem, false)));
        step('land the rows as Parquet');
      } else {
        exportAfterCommit = shape.series;
      }
      const merged = await appendMerge(s).mergeAppended(t, batch, mergeOptions(p), shape);
      step('merge');
      return {
        appended,
        load: { inserted: merged.inserted, updated: merged.updated, deleted: merged.deleted },
        repeated: merged.repeated,
        series: merged.series,
        rejected: rejected.lines,
        invalid,
        quarantine: rejected.entries.concat(quarantine),
      };
    },
    async afterCommit() {
      if (!exportAfterCommit) return;
      curated.push(...(await exportLoaded(s, scope.lake, t, { ...batch, series: exportAfterCommit }, stem, true)));
      exportAfterCommit = undefined;
      step('land the committed rows as Parquet');
    },
    close: async () => {},
  };
}
