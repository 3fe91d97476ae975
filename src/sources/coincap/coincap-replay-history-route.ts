// GET /assets/:id/history: validates interval/start/end like CoinCap, then serves the recorded
// bitcoin capture or a generated window anchored at the asset's snapshot record.
import { historyAnchor, historyPoints, historyWindow, isHistoryInterval, historyIntervals } from './coincap-replay-history.ts';
import type { ApiRecord } from '../../replay/recorded-fixtures.ts';
import { dataResponse, errorResponse, streamedDataResponse, type ReplayResponse } from '../../replay/replay-response.ts';

/** Above this many points the body is streamed instead of built in memory. */
const STREAM_THRESHOLD = 10_000;

const INTERVAL_ERROR = `use valid interval: ${Object.keys(historyIntervals).join(', ')}`;

export interface HistorySettings {
  /** The h1 capture served for bitcoin when no start/end is given. */
  bitcoinHistory: ApiRecord[];
  /** Generated series cover [startMs, endMs). */
  range: { startMs: number; endMs: number };
}

function parseMs(raw: string): number | undefined {
  return /^-?\d+$/.test(raw) ? Number(raw) : undefined;
}

/** Answer a history request for an asset already known to exist (its record anchors the generated series). */
export function historyResponse(asset: ApiRecord, query: URLSearchParams, settings: HistorySettings): ReplayResponse {
  const assetId = String(asset.id);
  const interval = query.get('interval') ?? '';
  if (!isHistoryInterval(interval)) return errorResponse(400, INTERVAL_ERROR);
  const startRaw = query.get('start');
  const endRaw = query.get('end');
  if (startRaw !== null && endRaw === null) return errorResponse(400, 'query requires end');
  if (endRaw !== null && startRaw === null) return errorResponse(400, 'query requires start');
  if (startRaw === null || endRaw === null) {
    if (assetId === 'bitcoin') return dataResponse(settings.bitcoinHistory);
    return windowResponse(asset, historyWindow(interval, settings.range), settings);
  }
  const startMs = parseMs(startRaw);
  const endMs = parseMs(endRaw);
  if (startMs === undefined || endMs === undefined) return errorResponse(400, 'start and end must be unix milliseconds');
  return windowResponse(asset, historyWindow(interval, settings.range, { startMs, endMs }), settings);
}

function windowResponse(asset: ApiRecord, window: ReturnType<typeof historyWindow>, settings: HistorySettings): ReplayResponse {
  const points = historyPoints(String(asset.id), window, historyAnchor(asset, settings.range));
  return window.count > STREAM_THRESHOLD ? streamedDataResponse(points) : dataResponse([...points]);
}
