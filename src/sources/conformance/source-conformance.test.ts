// Runs the source conformance cases (source-cases.ts) on every source of the registry, each with its own spec and
// recorded pages (src/sources/<name>/<name>-conformance.ts, src/sources/<name>/fixtures/). A source without a spec
// fails here by name.
import { describe, it } from 'vitest';
import { SOURCES } from '../registry.ts';
import { sourceCases } from './source-cases.ts';
import { loadConformance } from './spec-files.ts';

for (const source of SOURCES) {
  const conformance = await loadConformance(source).catch((err: unknown) => err as Error);
  if (conformance instanceof Error) {
    describe(`source conformance: ${source.name}`, () => {
      it('has a conformance spec', () => {
        throw conformance;
      });
    });
  } else {
    sourceCases(conformance);
  }
}
