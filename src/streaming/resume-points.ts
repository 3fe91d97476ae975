// Where a (re)started producer of a gap-filled feed resumes: the last point per series its table holds — the open time
// of the last committed candle per symbol (binance.klines), the last trade id per symbol (binance.trades). The producer
// fills from there to the first record it receives, so a restart leaves no gap, as a reconnect leaves none.
import type { Session } from '../core/destination.ts';
import type { Feed } from './feed.ts';

/** Last stored point per series of a feed's table; empty when the feed has no gap-fill or the table does not exist yet. */
export async function lastStoredPoints(session: Session, feed: Feed): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const last = feed.kind === 'websocket' ? feed.lastStored : undefined;
  if (!last) return out;
  const { schema, name } = feed.table;
  const exists = await session.query<{ n: number }>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, name]);
  if (Number(exists[0]?.n ?? 0) === 0) return out;
  const d = session.dialect;
  const rows = await session.query<{ series: string; point: unknown }>(
    `SELECT symbol AS series, max(${last.point}) AS point FROM ${d.table(schema, name)} WHERE ${last.where} GROUP BY symbol`,
  );
  for (const r of rows) {
    const point = r.point instanceof Date ? r.point.getTime() : Number(r.point);
    if (r.series !== null && Number.isSafeInteger(point)) out.set(r.series, point);
  }
  return out;
}
