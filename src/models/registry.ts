// Every model `coinlake models run` knows, in registry order (dependency order is computed, not listed).
import { factIndicatorsModel } from './fact-indicators.ts';
import { factPriceDivergenceModel } from './fact-price-divergence.ts';
import type { Model } from './model.ts';
import { ohlcv1dModel, ohlcv1hModel } from './ohlcv-rollups.ts';
import { STAR_SCHEMA_MODELS } from './star-schema.ts';

// fact_price_divergence last: it reads the star schema's fact_asset_snapshot (the snapshot venues).
export const MODELS: Model[] = [ohlcv1hModel, ohlcv1dModel, factIndicatorsModel, ...STAR_SCHEMA_MODELS, factPriceDivergenceModel];
