// Load stage: applying staged batches to warehouse tables, with change events.
export { applyWriteMode } from './write-modes.ts';
export { physicalTable, SCD2_COLUMNS } from './scd2.ts';
export { CHANGE_EVENT_TABLE, type ChangeOperation } from './change-events.ts';
