// Turns source records into typed rows for a table: rename by column spec, safe-cast, quarantine
// what fails (never dropped silently), and report schema drift (unknown or missing fields).
import { TerminalError } from '../core/errors.ts';
import type { Row, TableSpec } from '../core/table.ts';
import type { QuarantineEntry } from '../lake/local-lake.ts';
import { castValue } from './cast.ts';

/** What to do when an expected field is missing from a record. */
export type MissingPolicy = 'null' | 'fail';

/** What to do with a value that fails its cast: NULL + quarantine (default), or fail the run (`strict`). */
export type InvalidPolicy = 'null' | 'strict';

/**
 * Quarantine entries kept per page or batch: beyond them only the count goes on (`quarantinedCount`), so a page of
 * bad values costs no more memory than a page of good ones.
 */
export const MAX_QUARANTINE_ENTRIES = 10_000;

/** Entries set aside (the first MAX_QUARANTINE_ENTRIES) and how many values were set aside in all. */
export interface Quarantined {
  quarantined: QuarantineEntry[];
  quarantinedCount: number;
}

/** Adds the values `from` set aside to `into`: all to the count, entries while fewer than MAX_QUARANTINE_ENTRIES are kept. */
export function addQuarantined(into: Quarantined, from: Quarantined): void {
  into.quarantinedCount += from.quarantinedCount;
  for (const e of from.quarantined) {
    if (into.quarantined.length >= MAX_QUARANTINE_ENTRIES) break;
    into.quarantined.push(e);
  }
}

/** Result of normalizing one page. */
export interface NormalizeResult extends Quarantined {
  rows: Row[];
  /** Source fields seen that no column maps (kept in the raw lake). */
  unknownFields: Set<string>;
  /** Expected source fields absent from at least one record. */
  missingFields: Set<string>;
}

export interface NormalizeOptions {
  onMissing?: MissingPolicy;
  onInvalid?: InvalidPolicy;
  origin?: string;
}

/**
 * Types records for table t. A value that fails its cast becomes NULL and is counted in `quarantinedCount`; the first
 * MAX_QUARANTINE_ENTRIES are recorded in `quarantined`.
 */
export function normalizeRecords(t: TableSpec, records: Record<string, unknown>[], opts: NormalizeOptions = {}): NormalizeResult {
  const out: NormalizeResult = { rows: [], quarantined: [], quarantinedCount: 0, unknownFields: new Set(), missingFields: new Set() };
  const quarantine = (e: QuarantineEntry) => {
    if (out.quarantinedCount++ < MAX_QUARANTINE_ENTRIES) out.quarantined.push(e);
  };
  const cols = t.columns.filter((c) => !c.derived).map((c) => ({ ...c, src: c.source ?? c.name }));
  const known = new Set(cols.map((c) => c.src));
  for (const record of records) {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      quarantine({ table: t.name, record, reason: 'record is not an object', origin: opts.origin });
      continue;
    }
    for (const k of Object.keys(record)) if (!known.has(k)) out.unknownFields.add(k);
    const row: Row = {};
    for (const c of cols) {
      if (!(c.src in record)) {
        row[c.name] = null;
        if (c.optional) continue;
        out.missingFields.add(c.src);
        if (opts.onMissing === 'fail') {
          throw new TerminalError(`field "${c.src}" is missing from a record of ${t.name}${opts.origin ? ` (${opts.origin})` : ''}`, {
            field: c.src,
            hint: 'the source changed its schema; update the column details or set on_missing: null',
          });
        }
        continue;
      }
      const raw = record[c.src];
      const r = castValue(raw, c.type);
      if (r.ok) {
        row[c.name] = r.value;
      } else {
        row[c.name] = null;
        if (opts.onInvalid === 'strict') {
          throw new TerminalError(`invalid value ${JSON.stringify(raw)} in field "${c.src}" of ${t.name}${opts.origin ? ` (${opts.origin})` : ''}: ${r.reason}`, {
            field: c.src,
            hint: 'the table\'s policy is on_invalid: strict; fix the source or the column type, or set on_invalid: null to load NULL and quarantine the value',
          });
        }
        quarantine({ table: t.name, field: c.src, value: raw, reason: r.reason, record, origin: opts.origin });
      }
    }
    out.rows.push(row);
  }
  return out;
}
