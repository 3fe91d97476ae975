// Planning one CryptoDataDownload file: the exchange (option, else the file name), the candle interval and the
// candle table its rows go to.
import type { CandleInterval } from '../../core/candle-interval.ts';
import { ConfigError } from '../../core/errors.ts';
import type { TableSpec } from '../../core/table.ts';
import { ohlcvTable } from '../ohlcv-table.ts';
import { cddInterval, type CddLayout } from './cdd-file.ts';

/** A file ready to import: its layout and where its rows go. */
export interface CddPlanned {
  layout: CddLayout;
  exchange: string;
  table: TableSpec;
  interval: CandleInterval;
}

/** Where a file's rows go: exchange (option, else the file name), interval (option, else the file name, else 1m) and candle table. */
export function planCddFile(layout: CddLayout, opts: { exchange?: string; interval?: string }): CddPlanned {
  const exchange = (opts.exchange ?? layout.exchange)?.toLowerCase();
  if (!exchange) {
    throw new ConfigError(`cannot tell the exchange of ${layout.file} from its name`, {
      file: layout.file,
      hint: 'name files like Binance_BTCUSDT_minute.csv, or pass --exchange binance',
    });
  }
  if (!/^[a-z0-9][a-z0-9_.-]{0,39}$/.test(exchange)) throw new ConfigError(`exchange "${exchange}" is not a plain name (letters, digits, _ . -)`);
  const interval = cddInterval(layout, opts.interval);
  return { layout, exchange, table: ohlcvTable(interval), interval };
}
