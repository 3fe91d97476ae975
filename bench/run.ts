// `npm run bench`: runs every bench/*-bench.ts module's main() in turn (or only those named on the command line).
import { readdirSync } from 'node:fs';

const dir = new URL('./', import.meta.url);
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('-bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const f of files) {
  const mod = (await import(new URL(f, dir).href)) as { main?: () => Promise<void> };
  if (!mod.main) continue;
  console.log(`\n== ${f} ==`);
  await mod.main();
}
