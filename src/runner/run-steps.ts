// The steps of a run moved to src/pipeline/run-steps.ts; kept for the code that has not moved onto the pipeline yet.
export * from '../pipeline/run-steps.ts';
