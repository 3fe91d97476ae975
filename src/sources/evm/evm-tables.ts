// The table ERC-20 transfers land in. `value` and `total_supply` are uint256: exact decimal text, never a float —
// DuckDB's DECIMAL stops at 38 digits and uint256 needs 78, so both warehouses keep the digits as VARCHAR (cast in
// SQL: `value::NUMERIC` on PostgreSQL, `value::HUGEINT` or `value::DOUBLE` on DuckDB when an approximation will do).
import type { ColumnSpec, TableSpec } from '../../core/table.ts';

const v = (name: string): ColumnSpec => ({ name, source: name, type: 'varchar' });

export const erc20TransfersTable: TableSpec = {
  schema: 'coinlake',
  name: 'erc20_transfers',
  primaryKey: ['transaction_hash', 'log_index'],
  partitionBy: 'block_timestamp',
  lakeGrain: 'day',
  changeEvents: 'changes',
  clusteredBy: ['token_address'],
  columns: [
    v('token_address'),
    v('symbol'),
    v('name'),
    { name: 'decimals', source: 'decimals', type: 'integer' },
    v('total_supply'),
    v('from_address'),
    v('to_address'),
    v('value'),
    v('transaction_hash'),
    { name: 'log_index', source: 'log_index', type: 'bigint' },
    { name: 'block_timestamp', source: 'block_timestamp', type: 'timestamptz' },
    { name: 'block_number', source: 'block_number', type: 'bigint' },
    v('block_hash'),
  ],
};
