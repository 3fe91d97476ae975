// Where a (re)started producer of a gap-filled feed resumes: the last point per series its table holds — the open time
// of the last committed candle per symbol (binance.klines), the last trade id per symbol (binance.trades). The producer
// fills from there to the first record it receives, so a restart leaves no gap, as a reconnect leaves none.
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Session } from '../core/destination.ts';
import { TransientError, errorMessage } from '../core/errors.ts';
import type { Feed } from './feed.ts';
import { feedPoint } from './ws-producer.ts';

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

/** Messages at the end of a feed's stream read for lastPublishedPoints. */
export const PUBLISHED_TAIL_MESSAGES = 100_000;

/**
 * Last point per series among the last `tail` messages of the feed's stream: what an earlier producer published that
 * the warehouse may not hold yet (a consumer behind, or stopped). A restarted producer resumes from the larger of this
 * and lastStoredPoints, so it does not fetch again what is in the stream already (past the stream's duplicate window,
 * a trade fetched again would be stored, and loaded, twice). Empty when the stream is empty or missing; gives up
 * (empty, with the reason in `onError`) after `timeoutMs`.
 */
export async function lastPublishedPoints(nc: NatsConnection, stream: string, feed: Feed, opts: { tail?: number; timeoutMs?: number; onError?: (err: unknown) => void } = {}): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (feed.kind !== 'websocket' || !feed.lastStored) return out;
  try {
    const jsm = await jetstreamManager(nc);
    const state = (await jsm.streams.info(stream)).state;
    if (state.messages === 0) return out;
    const start = Math.max(state.first_seq, state.last_seq - (opts.tail ?? PUBLISHED_TAIL_MESSAGES) + 1);
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (let seen = start - 1; seen < state.last_seq; ) {
      if (Date.now() > deadline) throw new TransientError(`reading ${stream} from sequence ${start} took over ${opts.timeoutMs ?? 15_000} ms (at ${seen} of ${state.last_seq})`, { hint: 'is nats-server (with -js) answering?' });
      const batch = await consumer.fetch({ max_messages: 10_000, expires: 2_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        seen = m.seq;
        let record: unknown;
        try {
          record = m.json();
        } catch {
          continue;
        }
        const p = record && typeof record === 'object' ? feedPoint(feed, record as Record<string, unknown>) : undefined;
        if (p && !(out.get(p.series)! >= p.at)) out.set(p.series, p.at);
        if (seen >= state.last_seq) break;
      }
      if (got === 0) break;
    }
    await consumer.delete().catch(() => undefined);
  } catch (err) {
    if (/not found/i.test(errorMessage(err))) return new Map();
    opts.onError?.(err);
    return new Map();
  }
  return out;
}

/** The larger point per series of two maps. */
export function laterPoints(a: ReadonlyMap<string, number> | undefined, b: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map(a ?? []);
  for (const [series, at] of b) if (!(out.get(series)! >= at)) out.set(series, at);
  return out;
}
