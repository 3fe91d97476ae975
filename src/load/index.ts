// Load stage: applying staged batches to warehouse tables.
export { applyWriteMode } from './write-modes.ts';
