// Runs models in dependency order, each in its own transaction, with one model run id as the rows' lineage.
import { randomBytes } from 'node:crypto';
import type { Session } from '../core/destination.ts';
import { ensureMetaTables } from '../catalog/meta-tables.ts';
import { DEFAULT_INDICATOR_PARAMS, type IndicatorParams, type Model } from './model.ts';
import { selectModels } from './model-graph.ts';
import { MODEL_RUN_PREFIX } from './ohlcv-rollups.ts';
import { MODELS } from './registry.ts';

export interface RunModelsOptions {
  /** Selectors (`NAME`, `NAME+`, `+NAME`); empty → every model. */
  select?: string[];
  indicators?: Partial<IndicatorParams>;
  /** Rebuild incremental models completely. Default false. */
  full?: boolean;
  models?: Model[];
  now?: () => Date;
}

export interface ModelRunResult {
  model: string;
  rows: number;
  ms: number;
  /** How the model ran, when it says (incremental models). */
  detail?: string;
}

/** Runs the selected models in order; a failing model rolls back its own transaction and stops the run. */
export async function runModels(session: Session, opts: RunModelsOptions = {}): Promise<{ runId: string; results: ModelRunResult[] }> {
  const chosen = selectModels(opts.models ?? MODELS, opts.select ?? []);
  const runId = `${MODEL_RUN_PREFIX}${randomBytes(6).toString('hex')}`;
  const indicators = { ...DEFAULT_INDICATOR_PARAMS, ...opts.indicators };
  const results: ModelRunResult[] = [];
  // The models read coinlake_meta too (model_state, the identity aliases): a fresh or older warehouse gets its tables.
  await ensureMetaTables(session);
  for (const m of chosen) {
    const t0 = Date.now();
    const loadedAt = (opts.now ?? (() => new Date()))();
    const out = await session.transaction(() => m.run({ session, indicators, runId, loadedAt, full: opts.full ?? false }));
    const result: ModelRunResult = typeof out === 'number' ? { model: m.name, rows: out, ms: 0 } : { model: m.name, rows: out.rows, ms: 0, detail: out.detail };
    result.ms = Date.now() - t0;
    results.push(result);
  }
  return { runId, results };
}
