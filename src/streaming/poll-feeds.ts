// Polled feeds: the REST streams of the batch jobs (`<source>.<stream>`) read every N seconds, each snapshot's records
// published with `Nats-Msg-Id` = feed + natural key + snapshot time, and merged by the consumer into a snapshot table
// (`stream_<table>`) keyed by the same. Sources declare which of their streams are polled (Source.feeds).
import { InternalError } from '../core/errors.ts';
import type { Source } from '../core/source.ts';
import type { TableSpec } from '../core/table.ts';
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
 * A feed polling the batch job `<source>.<streamName>` into `stream_<its table>`. The snapshot time is the poll's
 * slot (a multiple of the interval): a producer restarted within a slot, or a second producer, publishes the same
 * message ids, which JetStream stores once.
 */
export function pollFeed(source: Source, streamName: string, defaultIntervalSeconds = 60): PollFeed {
  const stream = source.streams.find((s) => s.name === streamName);
  if (!stream) throw new InternalError(`polled feed ${source.name}.${streamName}: the source has no stream "${streamName}"`);
  const job = `${source.name}.${stream.name}`;
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
