// CoinCap's limit/offset paging: limit defaults to 100 and may not exceed 2000.
import { errorResponse, type ReplayResponse } from './replay-response.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 2000;

export interface Paging {
  limit: number;
  offset: number;
}

function nonNegativeInteger(query: URLSearchParams, name: string, fallback: number): number | ReplayResponse {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) return errorResponse(400, `${name} must be a non-negative integer`);
  return Number(raw);
}

/** The paging a request asks for, or the 400 response CoinCap gives for a bad one. */
export function parsePaging(query: URLSearchParams): Paging | ReplayResponse {
  const limit = nonNegativeInteger(query, 'limit', DEFAULT_LIMIT);
  if (typeof limit !== 'number') return limit;
  if (limit > MAX_LIMIT) return errorResponse(400, `limit exceeds ${MAX_LIMIT}`);
  const offset = nonNegativeInteger(query, 'offset', 0);
  if (typeof offset !== 'number') return offset;
  return { limit, offset };
}

export function page<T>(records: T[], paging: Paging): T[] {
  return records.slice(paging.offset, paging.offset + paging.limit);
}
