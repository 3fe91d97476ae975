/**
 * vitest globalSetup: creates the fault ledger before any worker starts (the workers inherit
 * COINLAKE_FAULT_LEDGER) and, at teardown, prints the fault table. A trial that lost or duplicated rows, or reported
 * a failure unclearly, makes the whole run fail (exit code 1) with a loud message — even when the test that
 * recorded it did not fail itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULT_LEDGER_ENV, formatLedgerTable, readLedger, summarizeLedger } from './fault-ledger.ts';

export function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'coinlake-fault-ledger-'));
  const file = join(dir, 'ledger.jsonl');
  writeFileSync(file, '');
  const previous = process.env[FAULT_LEDGER_ENV];
  process.env[FAULT_LEDGER_ENV] = file;
  return () => {
    try {
      const lines = readLedger(file);
      if (lines.length === 0) return;
      const summary = summarizeLedger(lines);
      const trials = process.env.COINLAKE_FAULT_TRIALS ?? 'default';
      const out: string[] = ['', `fault trials (COINLAKE_FAULT_TRIALS=${trials}):`, formatLedgerTable(summary), ''];
      if (summary.failed) {
        const bad = summary.rows
          .filter((r) => r.rowsLost > 0 || r.rowsDuplicated > 0 || r.clearErrors < r.clearErrorTrials)
          .map((r) => `${r.suite}/${r.case}: ${r.rowsLost} lost, ${r.rowsDuplicated} duplicated, ${r.clearErrorTrials - r.clearErrors} unclear error(s)`);
        out.push('!!! FAULT SUITE FAILED: rows lost or duplicated, or an unclear error !!!', ...bad.map((b) => `!!! ${b}`), '');
        process.exitCode = 1;
      }
      process.stdout.write(`${out.join('\n')}\n`);
    } finally {
      if (previous === undefined) delete process.env[FAULT_LEDGER_ENV];
      else process.env[FAULT_LEDGER_ENV] = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
