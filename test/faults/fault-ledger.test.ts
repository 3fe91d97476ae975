// The fault ledger itself: lines appended by recordTrial, the summary per suite/case, the printed table, and the
// failure verdict when a trial lost or duplicated rows. Uses its own ledger file so the run's real table stays clean.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAULT_LEDGER_ENV, formatLedgerTable, readLedger, recordTrial, summarizeLedger } from './fault-ledger.ts';

const saved = process.env[FAULT_LEDGER_ENV];
let dir: string | undefined;
afterEach(() => {
  if (saved === undefined) delete process.env[FAULT_LEDGER_ENV];
  else process.env[FAULT_LEDGER_ENV] = saved;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function privateLedger(): string {
  dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  const file = join(dir, 'ledger.jsonl');
  process.env[FAULT_LEDGER_ENV] = file;
  return file;
}

describe('fault ledger', () => {
  it('is set up by the globalSetup for every worker', () => {
    expect(saved, 'COINLAKE_FAULT_LEDGER is set by test/faults/fault-ledger-setup.ts').toMatch(/coinlake-fault-ledger-.*ledger\.jsonl$/);
  });

  it('appends one JSON line per trial and sums them per case with a total', () => {
    const file = privateLedger();
    expect(recordTrial({ suite: 'kill-9', case: 'run (duckdb)', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: true })).toBe(true);
    recordTrial({ suite: 'kill-9', case: 'run (duckdb)', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: null });
    recordTrial({ suite: 'api', case: '429 storm', faults: 7, rowsLost: 0, rowsDuplicated: 0, clearError: false });
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3);
    const lines = readLedger(file);
    expect(lines.map((l) => [l.suite, l.case, l.faults, l.pid])).toEqual([
      ['kill-9', 'run (duckdb)', 1, process.pid],
      ['kill-9', 'run (duckdb)', 1, process.pid],
      ['api', '429 storm', 7, process.pid],
    ]);
    const summary = summarizeLedger(lines);
    expect(summary.rows.map((r) => [r.suite, r.case, r.trials, r.faults, r.clearErrors, r.clearErrorTrials])).toEqual([
      ['api', '429 storm', 1, 7, 0, 1],
      ['kill-9', 'run (duckdb)', 2, 2, 1, 1],
    ]);
    expect(summary.total).toMatchObject({ trials: 3, faults: 9, rowsLost: 0, rowsDuplicated: 0, clearErrors: 1, clearErrorTrials: 2 });
    expect(summary.failed).toBe(true); // one unclear error
    expect(formatLedgerTable(summary).split('\n')).toEqual([
      'suite   case          trials  faults injected  rows lost  rows duplicated  clear errors',
      '------  ------------  ------  ---------------  ---------  ---------------  ------------',
      'api     429 storm     1       7                0          0                0/1',
      'kill-9  run (duckdb)  2       2                0          0                1/1',
      '------  ------------  ------  ---------------  ---------  ---------------  ------------',
      'total                 3       9                0          0                1/2',
    ]);
  });

  it('passes only when nothing was lost or duplicated and every error was clear', () => {
    const ok = { suite: 's', case: 'c', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: true, at: '', pid: 1 };
    expect(summarizeLedger([ok]).failed).toBe(false);
    expect(summarizeLedger([ok, { ...ok, rowsLost: 2 }]).failed).toBe(true);
    expect(summarizeLedger([ok, { ...ok, rowsDuplicated: 1 }]).failed).toBe(true);
  });

  it('refuses a malformed trial with a message naming it', () => {
    privateLedger();
    expect(() => recordTrial({ suite: 'kill-9', case: 'x', faults: -1, rowsLost: 0, rowsDuplicated: 0, clearError: null })).toThrow(
      'fault ledger: faults of trial kill-9/x must be a non-negative integer, got -1',
    );
    expect(() => recordTrial({ suite: 'kill-9', case: 'x', faults: 1, rowsLost: 0.5, rowsDuplicated: 0, clearError: null })).toThrow(
      'fault ledger: rowsLost of trial kill-9/x must be a non-negative integer, got 0.5',
    );
  });

  it('writes nothing without a ledger', () => {
    delete process.env[FAULT_LEDGER_ENV];
    expect(recordTrial({ suite: 's', case: 'c', faults: 1, rowsLost: 0, rowsDuplicated: 0, clearError: null })).toBe(false);
  });
});
