// One side of the CDD import benchmark, in its own process so its peak RSS is its own: `raw` is DuckDB's
// CREATE TABLE … AS SELECT * FROM read_csv(…) into a fresh warehouse file; `coinlake` is `import cdd` end to end
// (lake Parquet + merged coinlake.ohlcv_1m). Prints one JSON line: { ms, cpuMs, rows, maxRssMb } — cpuMs is the
// process's user + system CPU time over the same span as ms.
import path from 'node:path';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { importCddFiles } from '../src/runner/cdd-import.ts';

const [mode, file, dir] = process.argv.slice(2);
const session = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
let rows = 0;
const started = Date.now();
const cpuStart = process.cpuUsage();
if (mode === 'raw') {
  await session.exec(`CREATE TABLE raw_cdd AS SELECT * FROM read_csv('${file.replaceAll("'", "''")}')`);
  const [{ n }] = await session.query<{ n: number }>(`SELECT count(*) AS n FROM raw_cdd`);
  rows = Number(n);
} else {
  const s = await importCddFiles([file], { session, lake: new LocalLake(path.join(dir, 'lake')), progress: false });
  rows = s.rowsLoaded;
}
const ms = Date.now() - started;
const cpu = process.cpuUsage(cpuStart);
const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
await session.close();
process.stdout.write(JSON.stringify({ ms, cpuMs, rows, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
