// The shared destination cases on an in-memory DuckDB; the cases that need a second connection to the same
// warehouse are skipped, with the reason.
import { destinationCases } from '../conformance/destination-cases.ts';
import { openDuckdbSession } from './duckdb-destination.ts';

destinationCases('duckdb', () => openDuckdbSession(':memory:'), {
  skip: {
    killedMidLoad: 'embedded, one connection: no separate connection can kill it',
    concurrentRuns: 'one process owns the file',
  },
});
