// Polled feeds: the REST streams of the batch jobs (`coincap.assets`, `coinlore.exchanges`, …) read every N seconds,
// each snapshot's records published with `Nats-Msg-Id` = feed + natural key + snapshot time, and merged by the
// consumer into a snapshot table (`stream_<table>`) keyed by the same.
import type { TableSpec } from '../core/table.ts';
import { findStream } from '../sources/registry.ts';
import type { FeedRecord, PollFeed } from './feed.ts';
import { PROCESSING_TIMESTAMP, snapshotTable } from './stream-tables.ts';

/** Source field names of a table's key columns, in key order. */
function keyFields(t: TableSpec): string[] {
  return t.primaryKey.map((k) => {
    const c = t.columns.find((col) => col.name === k);
    return c?.source ?? k;
  });
}

/**
 * A feed polling the batch job `job` (`source.stream`) into `stream_<its table>`. The snapshot time is the poll's
 * slot (a multiple of the interval): a producer restarted within a slot, or a second producer, publishes the same
 * message ids, which JetStream stores once.
 */
export function pollFeed(job: string, defaultIntervalSeconds = 60): PollFeed {
  const { source, stream } = findStream(job);
  const fields = keyFields(stream.table);
  const derive = stream.derive;
  return {
    kind: 'polling',
    source: source.name,
    stream: stream.name,
    job,
    table: snapshotTable(stream.table, `stream_${stream.table.name}`),
    writeMode: 'merge',
    defaultIntervalSeconds,
    derive: derive ? (row) => derive(row, {}) : undefined,
    snapshot(records, snapshotAt): FeedRecord[] {
      return records.map((r) => ({
        msgId: `${job}:${fields.map((f) => String(r[f])).join(':')}:${snapshotAt}`,
        record: { ...r, [PROCESSING_TIMESTAMP]: snapshotAt },
      }));
    },
  };
}

export const coincapAssetsFeed = pollFeed('coincap.assets');
export const coincapExchangesFeed = pollFeed('coincap.exchanges');
export const coinloreTickersFeed = pollFeed('coinlore.tickers');
export const coinloreExchangesFeed = pollFeed('coinlore.exchanges');
