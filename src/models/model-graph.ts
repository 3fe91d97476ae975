// Dependency order of models and the `--select` syntax: `NAME` (just it), `NAME+` (it and everything downstream),
// `+NAME` (it and everything upstream); several selectors separated by commas or given repeatedly.
import { ConfigError } from '../core/errors.ts';
import type { Model } from './model.ts';

/** Models in an order where every model comes after the models it depends on (ties keep registry order). */
export function orderModels(models: Model[]): Model[] {
  const byName = new Map(models.map((m) => [m.name, m]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: Model[] = [];
  const visit = (m: Model, path: string[]) => {
    if (done.has(m.name)) return;
    if (visiting.has(m.name)) throw new ConfigError(`models depend on each other in a cycle: ${[...path, m.name].join(' → ')}`);
    visiting.add(m.name);
    for (const d of m.dependsOn) {
      const dep = byName.get(d);
      if (!dep) throw new ConfigError(`model ${m.name} depends on unknown model ${d}`);
      visit(dep, [...path, m.name]);
    }
    visiting.delete(m.name);
    done.add(m.name);
    out.push(m);
  };
  for (const m of models) visit(m, []);
  return out;
}

/** The models a list of selectors picks, in dependency order; no selectors → all models. */
export function selectModels(models: Model[], selectors: string[]): Model[] {
  const ordered = orderModels(models);
  const parts = selectors.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return ordered;
  const names = new Set(models.map((m) => m.name));
  const chosen = new Set<string>();
  for (const p of parts) {
    const up = p.startsWith('+');
    const down = p.endsWith('+');
    const name = p.slice(up ? 1 : 0, down ? -1 : undefined);
    if (!names.has(name)) throw new ConfigError(`unknown model "${name}"`, { hint: `models: ${ordered.map((m) => m.name).join(', ')}` });
    chosen.add(name);
    if (down) for (const n of closure(models, name, (m) => models.filter((x) => x.dependsOn.includes(m.name)))) chosen.add(n);
    if (up) for (const n of closure(models, name, (m) => models.filter((x) => m.dependsOn.includes(x.name)))) chosen.add(n);
  }
  return ordered.filter((m) => chosen.has(m.name));
}

function closure(models: Model[], start: string, next: (m: Model) => Model[]): Set<string> {
  const seen = new Set<string>();
  const queue = models.filter((m) => m.name === start);
  while (queue.length > 0) {
    for (const n of next(queue.pop()!)) {
      if (!seen.has(n.name)) {
        seen.add(n.name);
        queue.push(n);
      }
    }
  }
  return seen;
}
