// The durable consumer a stream consumer pulls from: found by its name (or by the name an earlier version gave it,
// which holds its position), else created with AckPolicy.All on the feed's subject.
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { Feed } from './feed.ts';
import { legacyDurable, type FeedSubject } from './jetstream-streams.ts';

const nanos = (ms: number) => ms * 1_000_000;

/** The durable to consume from, and how it acks. */
export interface DurableChoice {
  durable: string;
  /** The name an earlier version would have given it. */
  legacy: string;
  /** The durable is the one of that name, kept because it holds this consumer's position (worth a warning). */
  keptLegacy: boolean;
  /** Its ack policy is AckPolicy.All: one ack per batch. A durable made by an earlier version acks every message. */
  ackAll: boolean;
}

/**
 * Looks up the durable `durable` (default `names.durable`) on the feed's stream — or, when neither it nor an explicit
 * name exists, the earlier version's durable, which is kept — and creates it when none exists.
 */
export async function ensureDurable(
  jsm: JetStreamManager,
  opts: { feed: Feed; names: FeedSubject; durable?: string; ackWaitMs?: number; batchSize: number },
): Promise<DurableChoice> {
  const { names } = opts;
  let durable = opts.durable ?? names.durable;
  const legacy = legacyDurable(opts.feed);
  let keptLegacy = false;
  const infoOf = (name: string) => jsm.consumers.info(names.stream, name).catch(() => undefined);
  let existing = await infoOf(durable);
  if (!existing && !opts.durable && durable !== legacy) {
    // Durable names followed no prefix before: an earlier version's durable on this stream holds its position.
    existing = await infoOf(legacy);
    if (existing) {
      keptLegacy = true;
      durable = legacy;
    }
  }
  // A durable made by an earlier version acks every message (AckPolicy.Explicit); it keeps doing so.
  if (existing) return { durable, legacy, keptLegacy, ackAll: existing.config.ack_policy === AckPolicy.All };
  await jsm.consumers.add(names.stream, {
    durable_name: durable,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: Math.max(opts.batchSize * 4, 1000),
    filter_subject: names.subject,
  });
  return { durable, legacy, keptLegacy, ackAll: true };
}
