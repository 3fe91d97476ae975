// The bytes and records of a micro-batch of JetStream messages: the raw lake page (every payload as received, one per
// line) and the parsed records, decoded in one pass over the batch rather than once per message.
import type { JsMsg } from '@nats-io/jetstream';

const NEWLINE = Buffer.from('\n');

/** A batch's raw page and records. A payload that is not JSON stays a string, which the normalizer quarantines. */
export function decodeBatch(msgs: JsMsg[]): { raw: Uint8Array; records: unknown[] } {
  const parts: Uint8Array[] = [];
  for (const m of msgs) parts.push(m.data, NEWLINE);
  const raw = Buffer.concat(parts);
  const text = raw.toString('utf8');
  try {
    // Producers publish JSON.stringify output, which never holds a raw newline: the lines join into one array.
    const records = JSON.parse(`[${text.slice(0, -1).replaceAll('\n', ',')}]`) as unknown[];
    if (records.length === msgs.length) return { raw, records };
  } catch {
    // A payload that is not one JSON value: parse them one by one below.
  }
  const records = msgs.map((m) => {
    const s = m.string();
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  });
  return { raw, records };
}
