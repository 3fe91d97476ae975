// Finds each source's conformance spec and recorded pages by convention, so adding a source adds no line here:
// src/sources/<name>/<name>-conformance.ts exports `conformance`, its pages sit in src/sources/<name>/fixtures/.
import { existsSync } from 'node:fs';
import { TerminalError } from '../../core/errors.ts';
import type { Source } from '../../core/source.ts';
import type { SourceConformance } from './conformance-spec.ts';

const SOURCES_DIR = new URL('../', import.meta.url);

/** The spec file of a source. */
export function specFile(source: Source): URL {
  return new URL(`${source.name}/${source.name}-conformance.ts`, SOURCES_DIR);
}

/** The recorded pages of one stream. */
export function fixtureFile(source: Source, stream: string): URL {
  return new URL(`${source.name}/fixtures/${stream}.json`, SOURCES_DIR);
}

/** Loads a source's conformance spec; a source without one is a TerminalError naming the file to add. */
export async function loadConformance(source: Source): Promise<SourceConformance> {
  const file = specFile(source);
  if (!existsSync(file)) {
    throw new TerminalError(`source ${source.name} has no conformance spec: add ${file.pathname}`, {
      file: file.pathname,
      hint: 'export `conformance: SourceConformance` listing every stream with its recorded pages (see src/sources/conformance/README.md)',
    });
  }
  const mod = (await import(file.href)) as { conformance?: SourceConformance };
  if (!mod.conformance) throw new TerminalError(`${file.pathname} exports no \`conformance\``, { file: file.pathname });
  return mod.conformance;
}
