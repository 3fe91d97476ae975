// The shared destination conformance cases on an in-memory DuckDB.
import { changeCases } from '../conformance/change-cases.ts';
import { writeModeCases } from '../conformance/write-mode-cases.ts';
import { openDuckdbSession } from './duckdb-destination.ts';

writeModeCases(() => openDuckdbSession(':memory:'));
changeCases(() => openDuckdbSession(':memory:'));
