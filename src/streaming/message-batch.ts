// The bytes and records of a micro-batch of JetStream messages: the raw lake page (every payload as received, one per
// line) and the parsed records, decoded in one pass over the batch rather than once per message.
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;

/** A batch's raw page and records. A payload that is not JSON stays a string, which the normalizer quarantines. */
export function decodeBatch(payloads: Uint8Array[]): { raw: Uint8Array; records: unknown[] } {
  let size = 0;
  for (const p of payloads) size += p.length + 1;
  // The raw page (payloads, a newline after each) and, beside it, the same bytes as one JSON array: `[` + payloads
  // joined by commas + `]`. Both are filled in one pass; the array is decoded once, with one JSON.parse.
  const raw = Buffer.allocUnsafe(size);
  const array = Buffer.allocUnsafe(size + 1);
  array[0] = OPEN;
  let at = 0;
  for (const p of payloads) {
    raw.set(p, at);
    array.set(p, at + 1);
    at += p.length;
    raw[at] = NEWLINE;
    array[at + 1] = COMMA;
    at++;
  }
  if (payloads.length === 0) return { raw, records: [] };
  array[size] = CLOSE; // replaces the last comma
  try {
    // Producers publish JSON.stringify output, one value per message: the array holds exactly one element per message.
    // (Foreign payloads could only fool the count by one splitting in two, `1,2`, while two others merge, `[3` `4]`;
    // those records are not objects, so they are quarantined either way, and the raw page is exact regardless.)
    const records = JSON.parse(array.toString('utf8')) as unknown[];
    if (records.length === payloads.length) return { raw, records };
  } catch {
    // A payload that is not one JSON value: parse them one by one below.
  }
  const records = payloads.map((p) => {
    const s = Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  });
  return { raw, records };
}
