// Overview of the warehouse for the page: which parts have data, and the commands that load some when none do.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';
import type { WarehouseTables } from './warehouse-tables.ts';

/** What the page needs to know before drawing: which parts have data, and how to load some when none do. */
export interface Overview {
  empty: boolean;
  tables: Record<string, number>;
  runs: number;
  indicators: boolean;
  qualityResults: boolean;
  /** Commands that load data, shown by the empty state. */
  loadCommands: string[];
}

/** Commands that load the data the page shows (through a running `coinlake serve` they are handed over to it). */
export const LOAD_COMMANDS = [
  'npx coinlake --replay run coincap.assets',
  'npx coinlake --replay run coincap.exchanges',
  'npx coinlake --replay run coincap.asset_history --asset bitcoin --interval h1 --from 2024-12-01 --to 2025-01-01',
  'npx coinlake --replay run binance.klines --asset BTCUSDT --interval 1m --from 2024-12-30 --to 2024-12-31',
];

/** The command that loads candles (the last of LOAD_COMMANDS). */
export const CANDLES_COMMAND = LOAD_COMMANDS[3];

/** Row counts of every data table, and whether the optional parts (indicators, quality results) exist. */
export async function overview(s: Session, t: WarehouseTables): Promise<Overview> {
  const tables: Record<string, number> = {};
  for (const name of t.tablesOf(DATA_SCHEMA)) {
    const [{ n }] = await s.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s.dialect.table(DATA_SCHEMA, name)}`);
    tables[name] = Number(n);
  }
  let runs = 0;
  if (t.has(META_SCHEMA, 'workflow_action_history')) {
    const [{ n }] = await s.query<{ n: unknown }>(`SELECT count(*) AS n FROM coinlake_meta.workflow_action_history`);
    runs = Number(n);
  }
  let qualityResults = false;
  if (t.has(META_SCHEMA, 'quality_result')) {
    const [{ n }] = await s.query<{ n: unknown }>(`SELECT count(*) AS n FROM coinlake_meta.quality_result`);
    qualityResults = Number(n) > 0;
  }
  return {
    empty: Object.values(tables).every((n) => n === 0),
    tables,
    runs,
    indicators: t.has(DATA_SCHEMA, 'fact_indicators'),
    qualityResults,
    loadCommands: LOAD_COMMANDS,
  };
}
