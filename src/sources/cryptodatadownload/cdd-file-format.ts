// CryptoDataDownload CSV files as a file-import plug-in (`coinlake import cdd <file|dir|glob>…`): candles into
// coinlake.ohlcv_<interval>, merged on (exchange, symbol, ts), and the curated lake as Parquet.
import type { CandleInterval } from '../../core/candle-interval.ts';
import type { FileFormat } from '../../core/file-format.ts';
import { expandCddArguments, sniffCddFile } from './cdd-file.ts';
import { landInWarehouse } from './cdd-land-in-warehouse.ts';
import { landThroughDuckdb } from './cdd-land-through-duckdb.ts';
import { planCddFile } from './cdd-plan.ts';

/** What a CDD file says about itself: its header style, and the exchange and interval its candles are filed under. */
export type CddFileDescription = { style: 'current' | 'legacy'; exchange: string; interval: CandleInterval };

/** The `cdd` file format. */
export const cddFileFormat: FileFormat<CddFileDescription> = {
  name: 'cdd',
  title: 'CryptoDataDownload',
  connectionName: 'CRYPTODATADOWNLOAD',
  rowsNoun: 'candles',
  help: {
    usage: '`import cdd <file|dir|glob>…` loads CryptoDataDownload CSVs into coinlake.ohlcv_1m (merged) and the lake',
    paths: 'files, directories of .csv files, or patterns such as data/Binance_*_minute.csv',
    options: [
      { flags: '--exchange <name>', description: 'exchange of every file (default: from the file name, Binance_… → binance)' },
      { flags: '--interval <interval>', description: 'candle interval of every file (default: from the file name, _minute → 1m)' },
    ],
  },
  expand: expandCddArguments,
  async plan(file, options) {
    const p = planCddFile(await sniffCddFile(file), { exchange: options.exchange, interval: options.interval });
    return {
      file: p.layout.file,
      bytes: p.layout.bytes,
      table: p.table,
      grid: { timeColumn: 'ts', interval: p.interval },
      description: { style: p.layout.style, exchange: p.exchange, interval: p.interval },
      land: async (ctx) => (ctx.inWarehouse ? landInWarehouse(p, ctx) : landThroughDuckdb(p, ctx)),
    };
  },
  // A warehouse that reads the CSV, writes the Parquet and merges appended rows itself lands each file in one pass;
  // others get staged rows.
  landing(session) {
    const inWarehouse = Boolean(session.dialect.readCsv && session.dialect.copyToParquet && session.mergeAppended);
    return { path: inWarehouse ? 'duckdb-bulk' : 'staged', inWarehouse };
  },
  note: (d) => `${d.style} header`,
};
