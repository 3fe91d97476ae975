// `coinlake check [TABLE]`: runs the quality checks tables declare, records them (process_id NULL) and exits 1 when an
// `error`-severity check fails.
import type { Command } from 'commander';
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import type { TableSpec } from '../core/table.ts';
import { planIngestion } from '../catalog/catalog-job.ts';
import { readCatalog } from '../catalog/catalog-read.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { qualifiedName } from '../load/change-events.ts';
import { failures, runChecks, warehouseColumns, type CheckResult } from '../quality/run-checks.ts';
import { SOURCES } from '../sources/registry.ts';
import { qualifyTable } from './changes-command.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';
import { EXAMPLES } from '../sources/registry.ts';

/** Every table coinlake knows: the catalog's targets first (their column details and checks), then the streams' own. */
export async function checkTargets(s: Session): Promise<TableSpec[]> {
  const tables = new Map<string, TableSpec>();
  for (const ing of (await readCatalog(s)).ingestions) {
    let t: TableSpec;
    try {
      t = planIngestion(ing).table;
    } catch {
      continue; // an unusable entry is `coinlake catalog validate`'s to report
    }
    if (!tables.has(qualifiedName(t))) tables.set(qualifiedName(t), t);
  }
  for (const source of SOURCES) {
    for (const stream of source.streams) if (!tables.has(qualifiedName(stream.table))) tables.set(qualifiedName(stream.table), stream.table);
  }
  return [...tables.values()];
}

/** What one `coinlake check` found. */
export interface CheckReport {
  results: { table: string; result: CheckResult }[];
  /** Tables that declare no checks. */
  unchecked: string[];
  /** Tables with checks that the warehouse does not hold yet. */
  missing: string[];
  errors: string[];
  warnings: string[];
}

/**
 * Runs the checks of `tables` (only `only`, qualified, when given) at `now`, each table in its own transaction,
 * recording results with process_id NULL.
 */
export async function checkTables(s: Session, tables: TableSpec[], now: Date, only?: string): Promise<CheckReport> {
  const chosen = only === undefined ? tables : tables.filter((t) => qualifiedName(t) === only);
  if (only !== undefined && chosen.length === 0) {
    throw new ConfigError(`unknown table "${only}"`, { hint: `known tables: ${tables.map(qualifiedName).join(', ')}` });
  }
  const report: CheckReport = { results: [], unchecked: [], missing: [], errors: [], warnings: [] };
  for (const t of chosen) {
    const name = qualifiedName(t);
    if (!t.checks?.length) {
      report.unchecked.push(name);
      continue;
    }
    if ((await warehouseColumns(s, t)).size === 0) {
      report.missing.push(name);
      continue;
    }
    const results = await s.transaction(() => runChecks(s, t, { processId: null, now }));
    const f = failures(results);
    report.errors.push(...f.errors.map((e) => `${name}: ${e}`));
    report.warnings.push(...f.warnings.map((w) => `${name}: ${w}`));
    report.results.push(...results.map((result) => ({ table: name, result })));
  }
  return report;
}

/** The report as the command prints it. */
export function formatCheckReport(r: CheckReport): string {
  const lines: string[] = [];
  if (r.results.length > 0) {
    lines.push(
      formatTable(
        r.results.map(({ table, result }) => ({
          table,
          check: result.name,
          severity: result.severity,
          status: result.passed ? 'pass' : 'FAIL',
          failing: result.failing,
          message: result.message,
        })),
        ['table', 'check', 'severity', 'status', 'failing', 'message'],
      ),
    );
  }
  if (r.missing.length > 0) lines.push(`not in the warehouse yet: ${r.missing.join(', ')}`);
  if (r.unchecked.length > 0) lines.push(`no checks declared: ${r.unchecked.join(', ')}`);
  return lines.join('\n');
}

export function registerCheckCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('check')
    .description('run the quality checks tables declare (all tables, or one); exit code 1 when an error-severity check fails')
    .argument('[table]', `data table, e.g. ${EXAMPLES.table} or coinlake.${EXAMPLES.table}`)
    .action(async (table: string | undefined) => {
      const report = await withWarehouse(globals(), async (session) => {
        await ensureMetaTables(session);
        return checkTables(session, await checkTargets(session), new Date(), table === undefined ? undefined : qualifyTable(table));
      });
      process.stdout.write(formatCheckReport(report) + '\n');
      if (report.errors.length > 0) {
        process.stderr.write(`error: ${report.errors.length} quality check(s) failed\n${report.errors.map((e) => `  ${e}`).join('\n')}\n`);
        process.exitCode = 1;
      }
    });
}
