// The ccxt source through the CLI against the replay server's Coinbase on DuckDB and PostgreSQL: the cases every
// replayed exchange runs (test/helpers/ccxt-cli.ts), in a file of its own so the exchanges run side by side.
import { ccxtCliEnv, ccxtExchangeCases } from './helpers/ccxt-cli.ts';

ccxtExchangeCases(await ccxtCliEnv(), 'coinbase');
