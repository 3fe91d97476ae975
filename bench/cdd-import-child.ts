// One side of the CDD import benchmark, in its own process so its peak RSS is its own: `raw` is DuckDB's
// CREATE TABLE … AS SELECT * FROM read_csv(…) into a fresh warehouse file; `coinlake` is `import cdd` end to end
// (lake Parquet + merged coinlake.ohlcv_1m); `floor` is the work the import cannot do without, each part timed alone:
// a CREATE TABLE … AS SELECT of the file read into the contract's typed columns (the import's own SQL builders and
// DuckDB settings, the two lineage columns as constants), then a COPY of that table to one Parquet file with the
// import's Parquet options. Prints one JSON line: { ms, cpuMs, rows, maxRssMb, … } — cpuMs is the process's user +
// system CPU time over the same span as ms; `coinlake` adds `lines` and `quarantined` (data lines read, lines set
// aside) and `steps` (the import's own step log), `floor` adds `fill`
// and `parquet` (ms and cpuMs of each part; ms and cpuMs are their sums).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { tuneForImport } from '../src/load/bulk-import-tuning.ts';
import { importFiles } from '../src/runner/file-import.ts';
import { cddFileFormat } from '../src/sources/cryptodatadownload/cdd-file-format.ts';
import { planCddFile } from '../src/sources/cryptodatadownload/cdd-plan.ts';
import { DUCKDB_CURATED_PARQUET as CURATED_PARQUET } from '../src/destinations/duckdb/duckdb-file-sql.ts';
import { newRunId } from '../src/runner/run-history.ts';
import { sniffCddFile } from '../src/sources/cryptodatadownload/cdd-file.ts';
import { candleSelectSql, normalizedSql, readCsvSql, sqlText } from '../src/sources/cryptodatadownload/cdd-sql.ts';

// The warehouse: a DuckDB file in `dir`, or the location given after it (a postgres:// URL).
const [mode, file, dir, warehouse] = process.argv.slice(2);
const session = await openWarehouse(warehouse ?? path.join(dir, 'warehouse.duckdb'));

interface Span {
  ms: number;
  cpuMs: number;
}

/** Wall and CPU time (user + system, every thread of this process) of `fn`. */
async function timed(fn: () => Promise<unknown>): Promise<Span> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const cpu = process.cpuUsage(c0);
  return { ms: Math.round(performance.now() - t0), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

/** The import's 'import step' lines (debug level) from its run log: step, ms, cpuMs, peakRssMb. */
async function importSteps(logPath: string): Promise<{ step: string; ms: number; cpuMs: number; peakRssMb: number }[]> {
  const lines = (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
  return lines
    .map((l) => JSON.parse(l) as { msg?: string; step?: string; ms?: number; cpuMs?: number; peakRssMb?: number })
    .filter((o) => o.msg === 'import step')
    .map((o) => ({ step: String(o.step), ms: Number(o.ms), cpuMs: Number(o.cpuMs), peakRssMb: Number(o.peakRssMb) }));
}

let out: Record<string, unknown>;
if (mode === 'floor') {
  const p = planCddFile(await sniffCddFile(file), {});
  // The import's own settings (memory limit: its default) and SQL; the lineage columns as the constants it writes.
  const undo = await tuneForImport(session, '256MB');
  const read = normalizedSql(p.layout, p.interval, readCsvSql(session.dialect, p.layout), Date.now());
  const fill = await timed(() =>
    session.exec(
      `CREATE TABLE floor_cdd AS SELECT ${candleSelectSql(sqlText(p.exchange))}, ${sqlText(newRunId())} AS _run_id, TIMESTAMPTZ ${sqlText(new Date().toISOString())} AS _loaded_at
         FROM (${read}) WHERE ok`,
    ),
  );
  const parquet = await timed(() => session.exec(`COPY floor_cdd TO ${sqlText(path.join(dir, 'floor.parquet'))} (${CURATED_PARQUET})`));
  const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM read_parquet(${sqlText(path.join(dir, 'floor.parquet'))})`);
  await undo();
  out = { ms: fill.ms + parquet.ms, cpuMs: fill.cpuMs + parquet.cpuMs, rows: Number(n), fill, parquet };
} else {
  let rows = 0;
  let lines: number | undefined;
  let quarantined: number | undefined;
  let logPath: string | undefined;
  const span = await timed(async () => {
    if (mode === 'raw') {
      await session.exec(`CREATE TABLE raw_cdd AS SELECT * FROM read_csv('${file.replaceAll("'", "''")}')`);
      const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM raw_cdd`);
      rows = Number(n);
    } else {
      // Debug level only adds the import's few 'import step' lines to its run log.
      const s = await importFiles(cddFileFormat, [file], { session, lake: new LocalLake(path.join(dir, 'lake')), progress: false, logLevel: 'debug' });
      rows = s.rowsLoaded;
      lines = s.rowsExtracted;
      quarantined = s.rowsQuarantined;
      logPath = s.logPath;
    }
  });
  out = { ...span, rows, ...(lines !== undefined ? { lines, quarantined } : {}), ...(logPath ? { steps: await importSteps(logPath) } : {}) };
}
await session.close();
process.stdout.write(JSON.stringify({ ...out, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
