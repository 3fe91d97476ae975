/**
 * The fault ledger: every fault trial (a kill, a restart, an injected API fault…) records what it did and what it
 * found here, and the vitest globalSetup (fault-ledger-setup.ts) prints the table at the end of the run.
 *
 * Vitest runs test files in forked workers, so the ledger is a JSON-lines file named by `COINLAKE_FAULT_LEDGER`,
 * which the globalSetup creates before the workers start (they inherit the variable). Each trial is one
 * `appendFileSync` of one line: small appends to a file opened with O_APPEND do not interleave.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export const FAULT_LEDGER_ENV = 'COINLAKE_FAULT_LEDGER';

/** One fault trial. */
export interface FaultTrial {
  /** The test file's suite, e.g. `kill-9` or `pg-restart`. */
  suite: string;
  /** The case within the suite, e.g. `run coincap.asset_history (duckdb)`. */
  case: string;
  /** Faults injected in this trial (a kill, a restart, a refused request…). */
  faults: number;
  /** Rows the clean run has that the faulted-and-rerun one does not. Must be 0. */
  rowsLost: number;
  /** Rows held more than once (or more rows than the clean run) after the rerun. Must be 0. */
  rowsDuplicated: number;
  /** Whether the failure the fault caused was reported clearly (one line naming what failed); null: not applicable. */
  clearError: boolean | null;
}

/** The trial as stored: the entry plus when and by which process it was recorded. */
export interface LedgerLine extends FaultTrial {
  at: string;
  pid: number;
}

function checkCount(entry: FaultTrial, field: 'faults' | 'rowsLost' | 'rowsDuplicated'): void {
  const value = entry[field];
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`fault ledger: ${field} of trial ${entry.suite}/${entry.case} must be a non-negative integer, got ${String(value)}`);
  }
}

/**
 * Records one trial. Returns false (and writes nothing) when no ledger is set up — a fault test run outside the
 * project's vitest config; the test's own assertions still decide whether it passes.
 */
export function recordTrial(entry: FaultTrial): boolean {
  if (!entry.suite || !entry.case) throw new Error('fault ledger: a trial needs a suite and a case');
  checkCount(entry, 'faults');
  checkCount(entry, 'rowsLost');
  checkCount(entry, 'rowsDuplicated');
  if (entry.clearError !== null && typeof entry.clearError !== 'boolean') {
    throw new Error(`fault ledger: clearError of trial ${entry.suite}/${entry.case} must be true, false or null`);
  }
  const file = process.env[FAULT_LEDGER_ENV];
  if (!file) return false;
  const line: LedgerLine = {
    suite: entry.suite,
    case: entry.case,
    faults: entry.faults,
    rowsLost: entry.rowsLost,
    rowsDuplicated: entry.rowsDuplicated,
    clearError: entry.clearError,
    at: new Date().toISOString(),
    pid: process.pid,
  };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
  return true;
}

/** Reads a ledger file; a line that is not a trial fails with its line number. */
export function readLedger(file: string): LedgerLine[] {
  if (!existsSync(file)) return [];
  const lines: LedgerLine[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (text.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`fault ledger ${file}: line ${index + 1} is not JSON: ${text.slice(0, 120)}`);
      }
      lines.push(parsed as LedgerLine);
    });
  return lines;
}

/** One row of the summary table: a suite/case, or the total. */
export interface LedgerSummaryRow {
  suite: string;
  case: string;
  trials: number;
  faults: number;
  rowsLost: number;
  rowsDuplicated: number;
  /** Trials whose failure was reported clearly, out of the trials where that applies. */
  clearErrors: number;
  clearErrorTrials: number;
}

export interface LedgerSummary {
  rows: LedgerSummaryRow[];
  total: LedgerSummaryRow;
  /** True when any trial lost or duplicated rows, or reported a failure unclearly. */
  failed: boolean;
}

export function summarizeLedger(lines: readonly LedgerLine[]): LedgerSummary {
  const byCase = new Map<string, LedgerSummaryRow>();
  const empty = (suite: string, name: string): LedgerSummaryRow => ({
    suite,
    case: name,
    trials: 0,
    faults: 0,
    rowsLost: 0,
    rowsDuplicated: 0,
    clearErrors: 0,
    clearErrorTrials: 0,
  });
  const total = empty('total', '');
  for (const line of lines) {
    const key = `${line.suite}\u0000${line.case}`;
    let row = byCase.get(key);
    if (!row) {
      row = empty(line.suite, line.case);
      byCase.set(key, row);
    }
    for (const target of [row, total]) {
      target.trials += 1;
      target.faults += line.faults;
      target.rowsLost += line.rowsLost;
      target.rowsDuplicated += line.rowsDuplicated;
      if (line.clearError !== null) {
        target.clearErrorTrials += 1;
        if (line.clearError) target.clearErrors += 1;
      }
    }
  }
  const rows = [...byCase.values()].sort((a, b) => a.suite.localeCompare(b.suite) || a.case.localeCompare(b.case));
  const failed = total.rowsLost > 0 || total.rowsDuplicated > 0 || total.clearErrors < total.clearErrorTrials;
  return { rows, total, failed };
}

/** The table the fault run ends with (plain text, columns padded like `coinlake status`). */
export function formatLedgerTable(summary: LedgerSummary): string {
  const header = ['suite', 'case', 'trials', 'faults injected', 'rows lost', 'rows duplicated', 'clear errors'];
  const cells = (row: LedgerSummaryRow): string[] => [
    row.suite,
    row.case,
    String(row.trials),
    String(row.faults),
    String(row.rowsLost),
    String(row.rowsDuplicated),
    row.clearErrorTrials === 0 ? '-' : `${row.clearErrors}/${row.clearErrorTrials}`,
  ];
  const body = summary.rows.map(cells);
  const total = cells(summary.total);
  const all = [header, ...body, total];
  const widths = header.map((_, column) => Math.max(...all.map((r) => r[column]!.length)));
  const line = (r: string[]): string => r.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line), rule, line(total)].join('\n');
}
