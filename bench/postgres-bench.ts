// PostgreSQL load benchmark: 1,000,000 OHLCV rows appended by coinlake's load (COPY straight into the table,
// Session.appendRows, one transaction; and, to compare, through a staging table as appends went before) vs a raw
// pg-copy-streams COPY FROM STDIN of the same rows into the same table shape, same script, in alternating order
// (BENCH_REPEAT rounds, default 3; the median ratio is the figure).
// Then a merge of 1,000,000 rows of which half are updates.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { TableSpec, Row } from '../src/core/table.ts';
import { createTestDatabase } from '../src/destinations/postgres/postgres-test-database.ts';
import { openWarehouse } from '../src/destinations/registry.ts';
import { applyWriteMode } from '../src/load/write-modes.ts';
import { ensureMetaTables } from '../src/catalog/meta-tables.ts';

const ROWS = Number(process.env.BENCH_PG_ROWS ?? 1_000_000);

const table: TableSpec = {
  schema: 'coinlake',
  name: 'bench_ohlcv',
  primaryKey: ['exchange', 'symbol', 'ts'],
  columns: [
    { name: 'exchange', type: 'varchar' },
    { name: 'symbol', type: 'varchar' },
    { name: 'ts', type: 'timestamptz' },
    { name: 'open', type: 'double' },
    { name: 'high', type: 'double' },
    { name: 'low', type: 'double' },
    { name: 'close', type: 'double' },
    { name: 'volume_base', type: 'double' },
    { name: 'volume_quote', type: 'double' },
    { name: 'trade_count', type: 'bigint' },
  ],
};

function makeRows(n: number, priceShift = 0): Row[] {
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  const rows: Row[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = 100 + (i % 1000) / 10 + priceShift;
    rows[i] = { exchange: 'binance', symbol: i % 2 ? 'BTC-USDT' : 'ETH-USDT', ts: new Date(t0 + Math.floor(i / 2) * 60_000), open: p, high: p + 1, low: p - 1, close: p + 0.5, volume_base: 10 + (i % 7), volume_quote: (10 + (i % 7)) * p, trade_count: i % 500 };
  }
  return rows;
}

/** The raw baseline: rows → COPY text → pg-copy-streams, nothing else, into an emptied table of coinlake's shape. */
async function rawCopy(url: string, rows: Row[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Same shape as coinlake's table: the lineage columns and the index on the key.
    await client.query(`CREATE TABLE IF NOT EXISTS raw_ohlcv (exchange varchar, symbol varchar, ts timestamptz, open double precision, high double precision, low double precision, close double precision, volume_base double precision, volume_quote double precision, trade_count bigint, _run_id varchar, _loaded_at timestamptz)`);
    await client.query(`CREATE INDEX IF NOT EXISTS raw_ohlcv_key ON raw_ohlcv (exchange, symbol, ts)`);
    await client.query(`TRUNCATE raw_ohlcv`);
    const loadedAt = new Date().toISOString();
    const t0 = performance.now();
    function* lines() {
      for (let i = 0; i < rows.length; i += 5000) {
        let chunk = '';
        for (const r of rows.slice(i, i + 5000)) {
          chunk += `${r.exchange}\t${r.symbol}\t${(r.ts as Date).toISOString()}\t${r.open}\t${r.high}\t${r.low}\t${r.close}\t${r.volume_base}\t${r.volume_quote}\t${r.trade_count}\tbench\t${loadedAt}\n`;
        }
        yield chunk;
      }
    }
    await pipeline(Readable.from(lines()), client.query(copyFrom(`COPY raw_ohlcv FROM STDIN`)));
    return (performance.now() - t0) / 1000;
  } finally {
    await client.end();
  }
}

/** Rounds of the append comparison, the order alternating (raw first, then coinlake first, …): a COPY after another pays for its WAL. */
const ROUNDS = Number(process.env.BENCH_REPEAT ?? 3);

export async function main(): Promise<void> {
  const db = await createTestDatabase();
  try {
    const rows = makeRows(ROWS);
    const s = await openWarehouse(db.url);
    try {
      await ensureMetaTables(s);
      await s.ensureTable(table);
      const ctx = { runId: 'bench', processId: 1, loadedAt: new Date() };
      // The append as a run loads it (commitBatch): straight into the table (Session.appendRows), one transaction.
      const append = async () => {
        await s.exec(`TRUNCATE ${s.dialect.table(table.schema, table.name)}`);
        const t0 = performance.now();
        await s.transaction(() => s.appendRows!(table, rows, ctx));
        return (performance.now() - t0) / 1000;
      };
      const rate = (sec: number) => Math.round(ROWS / sec).toLocaleString('en-US');
      console.log(`postgres: ${ROWS.toLocaleString('en-US')} OHLCV rows, ${ROUNDS} rounds, the order alternating`);
      const ratios: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        let rawSec: number;
        let loadSec: number;
        if (round % 2 === 1) {
          rawSec = await rawCopy(db.url, rows);
          loadSec = await append();
        } else {
          loadSec = await append();
          rawSec = await rawCopy(db.url, rows);
        }
        ratios.push(rawSec / loadSec);
        console.log(`  round ${round} (${round % 2 === 1 ? 'raw first' : 'coinlake first'}): raw COPY ${rawSec.toFixed(2)} s (${rate(rawSec)} rows/s), coinlake append ${loadSec.toFixed(2)} s (${rate(loadSec)} rows/s): ${(rawSec / loadSec).toFixed(3)}x`);
      }
      const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
      console.log(`  ratio append / raw, median of ${ROUNDS}: ${median.toFixed(3)}x (target >= 0.9x)`);
      // The way appends went before: COPY into a staging table, then INSERT … SELECT into the table.
      await s.exec(`TRUNCATE ${s.dialect.table(table.schema, table.name)}`);
      const t2 = performance.now();
      await s.transaction(async () => {
        const st = await s.stage(table, rows, ctx);
        await applyWriteMode(s, table, st, 'append', ctx);
        await s.dropStaging(st);
      });
      const stagedSec = (performance.now() - t2) / 1000;
      console.log(`  the same through staging (COPY staging + INSERT):   ${stagedSec.toFixed(2)} s, ${rate(stagedSec)} rows/s`);
      // Merge: half the batch updates existing keys (new prices), half inserts new keys.
      const half = Math.floor(ROWS / 2);
      const updates = makeRows(half, 0.25);
      const inserts = makeRows(ROWS).slice(0, ROWS - half).map((r) => ({ ...r, exchange: 'kraken' }));
      const batch = [...updates, ...inserts];
      const t1 = performance.now();
      let result = { inserted: 0, updated: 0, deleted: 0 };
      await s.transaction(async () => {
        const st = await s.stage(table, batch, ctx);
        result = await applyWriteMode(s, table, st, 'merge', ctx);
        await s.dropStaging(st);
      });
      const mergeSec = (performance.now() - t1) / 1000;
      console.log(`  merge of ${ROWS.toLocaleString('en-US')} rows (${result.updated.toLocaleString('en-US')} updated, ${result.inserted.toLocaleString('en-US')} inserted): ${mergeSec.toFixed(2)} s, ${rate(mergeSec)} rows/s`);
    } finally {
      await s.close();
    }
  } finally {
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
